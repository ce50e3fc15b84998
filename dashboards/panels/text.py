"""``text`` panels: Markdown with variables; raw HTML is never rendered as HTML."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboards.grafana.template import interpolate
from dashboards.panelquery import PanelData
from dashboards.panels.common import PanelContext, frame


def render(ctx: PanelContext, data: PanelData | None) -> Any:
    o = ctx.panel.options
    content = interpolate(o.content, ctx.scope, default_format="glob")
    if o.mode == "code":
        body: Any = html.Pre(content, className="text-code")
    else:
        # "html" mode shows its text through Markdown without raw HTML: a dashboard
        # from elsewhere must not be able to put script or markup on our page.
        body = dcc.Markdown(content, className="text-panel", dangerously_allow_html=False,
                            link_target="_blank")
    return frame(ctx, body, None)
