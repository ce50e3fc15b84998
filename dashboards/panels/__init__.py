"""One renderer per panel type; ``render_panel`` picks it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboards.panelquery import PanelData
from dashboards.panels import bargauge, gauge, heatmap, stat, table, text, timeseries
from dashboards.panels.common import PanelContext, frame, message

RENDERERS: dict[str, Callable[[PanelContext, PanelData], Any]] = {
    "timeseries": timeseries.render,
    "stat": stat.render,
    "gauge": gauge.render,
    "bargauge": bargauge.render,
    "table": table.render,
    "heatmap": heatmap.render,
    "text": text.render,
}
# Panels that need no query (text) are drawn without one.
STATIC = frozenset({"text"})


def render_panel(ctx: PanelContext, data: PanelData | None) -> Any:
    fn = RENDERERS.get(ctx.panel.type)
    if fn is None:
        return frame(ctx, message(f'Panel type "{ctx.panel.type}" is not supported by Spyglass',
                                  "unsupported"), None)
    if data is None and ctx.panel.type not in STATIC:
        return frame(ctx, message("Loading…"), None)
    return fn(ctx, data)
