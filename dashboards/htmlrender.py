"""Panels rendered to one escaped HTML string each.

Dash's renderer keeps every component in its store and runs a selector per
component on every store update, so a dashboard of a hundred panels built from
thousands of ``html.*`` components spends seconds in the browser per update.
Each panel is therefore built with the usual ``dash.html`` components, then turned
into a single HTML string here (``to_html``) and shipped as one element's
``data-html`` attribute; ``assets/panels.js`` puts it in place and draws its
plotly figures (``dcc.Graph`` becomes ``<div class="sg-plot" data-figure=…>``).

Safety: every text and attribute value is escaped here, only a fixed set of tags
and attributes is emitted, and URLs are limited to http(s), relative paths and
(for images) SVG data URIs — so a label value can never become markup or script.
"""

from __future__ import annotations

import html as html_lib
import urllib.parse
from typing import Any

import orjson
from dash import dcc, html

_VOID = {"Img", "Br", "Hr", "Col", "Input"}
# Dash prop → HTML attribute, for the props panels use.
_ATTRS = {"className": "class", "title": "title", "href": "href", "target": "target",
          "src": "src", "alt": "alt", "open": "open", "colSpan": "colspan", "rowSpan": "rowspan"}


class NotRenderable(Exception):
    """A component ``to_html`` does not turn into HTML (the caller keeps it as is)."""


def _style(style: dict[str, Any]) -> str:
    parts = []
    for k, v in style.items():
        prop = "".join("-" + c.lower() if c.isupper() else c for c in k)
        parts.append(f"{prop}:{v}")
    return ";".join(parts)


def _safe_url(url: str, for_img: bool) -> str:
    if for_img and url.startswith("data:image/svg+xml;base64,"):
        return url
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return url if scheme in ("", "http", "https") else "#"


def _figure_json(fig: dict[str, Any]) -> str:
    # orjson writes numpy arrays natively and NaN as null (a gap in the line)
    return orjson.dumps(fig, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def to_html(node: Any) -> str:
    """One component tree → escaped HTML; raises ``NotRenderable`` for components
    other than ``dash.html`` elements and ``dcc.Graph``."""
    out: list[str] = []
    _emit(node, out)
    return "".join(out)


def _emit(node: Any, out: list[str]) -> None:
    if node is None or node is False:
        return
    if isinstance(node, (list, tuple)):
        for n in node:
            _emit(n, out)
        return
    if isinstance(node, (str, int, float)):
        out.append(html_lib.escape(str(node), quote=False))
        return
    if isinstance(node, dcc.Graph):
        fig = node.figure if isinstance(node.figure, dict) else node.figure.to_plotly_json()
        style = getattr(node, "style", None) or {}
        cls = "sg-plot " + (getattr(node, "className", None) or "")
        out.append(f'<div class="{html_lib.escape(cls.strip())}" style="{html_lib.escape(_style(style))}" '
                   f'data-figure="{html_lib.escape(_figure_json(fig), quote=True)}"></div>')
        return
    if not type(node).__module__.startswith("dash.html"):
        raise NotRenderable(type(node).__name__)
    name = type(node).__name__
    tag = name.lower()
    attrs = []
    props = node.to_plotly_json()["props"]
    for key, value in props.items():
        if key in ("children", "id") or value is None:
            continue
        if key == "style":
            attrs.append(f'style="{html_lib.escape(_style(value), quote=True)}"')
        elif key.startswith(("data-", "aria-")):
            attrs.append(f'{key}="{html_lib.escape(str(value), quote=True)}"')
        elif key in _ATTRS:
            if key == "open":
                if value:
                    attrs.append("open")
                continue
            text = str(value)
            if key in ("href", "src"):
                text = _safe_url(text, key == "src")
            attrs.append(f'{_ATTRS[key]}="{html_lib.escape(text, quote=True)}"')
    if tag == "a" and any(a.startswith('target="_blank"') for a in attrs):
        attrs.append('rel="noopener noreferrer"')
    out.append(f"<{tag}{' ' if attrs else ''}{' '.join(attrs)}>")
    if name in _VOID:
        return
    _emit(props.get("children"), out)
    out.append(f"</{tag}>")


def panel_host(child: Any, **attrs: Any) -> Any:
    """``child`` as one Dash element holding its HTML, or ``child`` itself when it
    contains components that must stay live (Markdown)."""
    try:
        markup = to_html(child)
    except NotRenderable:
        return child
    return html.Div(className="sg-html", **{"data-html": markup}, **attrs)
