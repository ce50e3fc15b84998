"""``/dashboards``: list with search and tags; import from a file or pasted JSON."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.components import notice
from dashboards.context import AppContext
from dashboards.grafana import DashboardError, documents_from_text
from dashboards.store import DashboardExists
from dashboards.urlstate import first


def list_rows(ctx: AppContext, query: str, tags: list[str] | None) -> list[Any]:
    items = ctx.store.search(query or "", tuple(tags or ()))
    if not items:
        return [html.Div("No dashboards match.", className="muted")]
    rows = []
    for d in items:
        rows.append(html.Tr([
            html.Td(dcc.Link(d.model.title, href=ctx.href(d.url), className="dash-list-title")),
            html.Td([html.Span(t, className="tag") for t in d.model.tags]),
            html.Td("built-in" if d.source == "builtin" else
                    "provisioned" if d.provisioned else d.source, className="muted"),
            html.Td(html.A("JSON", href=ctx.href(f"/api/dashboards/uid/{d.uid}"), target="_blank",
                           className="muted")),
        ]))
    return [html.Table([html.Thead(html.Tr([html.Th("Title"), html.Th("Tags"), html.Th("Source"),
                                            html.Th("")])), html.Tbody(rows)],
                       className="data-table dash-list")]


def import_text(ctx: AppContext, text: str, overwrite: bool, name: str = "pasted JSON",
                ) -> tuple[bool, list[Any]]:
    """Import every dashboard in ``text``; returns (all ok, messages with links)."""
    if not text or not text.strip():
        return False, [notice("Paste a dashboard JSON or choose a file first.", "error")]
    try:
        docs = documents_from_text(text, name)
    except DashboardError as e:
        return False, [notice(f"Import failed: {e}", "error")]
    out: list[Any] = []
    ok = True
    for doc in docs:
        try:
            saved = ctx.store.save(doc, overwrite=overwrite, source="ui")
        except DashboardError as e:
            ok = False
            out.append(notice(f"Import failed: {e}", "error"))
        except DashboardExists as e:
            ok = False
            out.append(notice(f"Not imported: {e} (tick “Overwrite” to replace it)", "error"))
        else:
            title = ctx.store.get(saved.uid).model.title
            out.append(html.Div(["Imported ", dcc.Link(title, href=ctx.href(saved.url)),
                                 f" (uid {saved.uid}, version {saved.version})"],
                                className="notice ok"))
    return ok, out


def layout(ctx: AppContext, q: Mapping[str, list[str]], show_import: bool = False) -> Any:
    tag_options = [{"label": f"{t} ({n})", "value": t} for t, n in ctx.store.tags()]
    return html.Div([
        html.Div([html.H1("Dashboards"),
                  html.Div([dcc.Input(id="dl-search", placeholder="Search dashboards by title",
                                      value=first(q, "query"), debounce=False, className="search"),
                            dcc.Dropdown(id="dl-tags", options=tag_options, multi=True,
                                         placeholder="Filter by tag", value=q.get("tag", []),
                                         className="tag-filter")], className="list-controls")],
                 className="page-head"),
        html.Div(list_rows(ctx, first(q, "query"), q.get("tag")), id="dl-list"),
        html.Details([
            html.Summary("Import dashboard", className="section-title"),
            html.Div([
                dcc.Upload(id="dl-upload", children=html.Div(["Drop a dashboard JSON file here or ",
                                                              html.A("choose one")]),
                           className="upload", multiple=False),
                dcc.Textarea(id="dl-paste", placeholder="…or paste dashboard JSON here",
                             className="paste"),
                dcc.Checklist(id="dl-overwrite", options=[{"label": " Overwrite an existing dashboard",
                                                           "value": "yes"}], value=[]),
                html.Button("Import", id="dl-import", n_clicks=0, className="btn primary"),
                html.Div(id="dl-import-result"),
            ], className="import-box"),
        ], open=show_import, className="import"),
    ], className="page-pad")


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(Output("dl-list", "children"), Input("dl-search", "value"),
                  Input("dl-tags", "value"), Input("dl-import-result", "children"),
                  prevent_initial_call=True)
    def _list(query, tags, _result):
        return list_rows(ctx, query or "", tags)

    @app.callback(Output("dl-import-result", "children"), Input("dl-import", "n_clicks"),
                  Input("dl-upload", "contents"), State("dl-upload", "filename"),
                  State("dl-paste", "value"), State("dl-overwrite", "value"),
                  prevent_initial_call=True)
    def _import(_n, contents, filename, pasted, overwrite):
        from dash import ctx as dctx
        if dctx.triggered_id == "dl-upload":
            if not contents:
                raise PreventUpdate
            _, _, b64 = contents.partition(",")
            try:
                text = base64.b64decode(b64).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return [notice(f"{filename}: not a UTF-8 text file", "error")]
            return import_text(ctx, text, "yes" in (overwrite or []), filename or "file")[1]
        return import_text(ctx, pasted or "", "yes" in (overwrite or []))[1]
