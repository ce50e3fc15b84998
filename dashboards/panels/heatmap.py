"""``heatmap`` panels: Prometheus histogram buckets (``le``) as a time × bucket grid."""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import dcc

from dashboards.grafana import colors
from dashboards.grafana.frames import plot_series
from dashboards.panelquery import PanelData
from dashboards.panels.common import (
    GRAPH_CONFIG,
    PanelContext,
    body_height,
    error_body,
    escape_plotly,
    frame,
    message,
    plotly_layout,
)


def _le(s) -> float:
    v = s.labels.get("le")
    try:
        return float(v) if v is not None else float("nan")
    except ValueError:
        return float("nan")


def render(ctx: PanelContext, data: PanelData) -> Any:
    series = plot_series(data.frames)
    if data.error and not series:
        return frame(ctx, error_body(data), data)
    if not series:
        return frame(ctx, message("No data"), data)
    by_le = [s for s in series if not np.isnan(_le(s))]
    x = series[0].x_ms
    same_x = all(len(s.x_ms) == len(x) for s in series)
    if by_le and same_x:
        by_le.sort(key=_le)
        z = np.vstack([s.y for s in by_le])
        if any(t.format == "heatmap" for t in ctx.panel.targets):
            # cumulative buckets → per-bucket counts
            z = np.vstack([z[0:1], np.diff(z, axis=0)])
            z[z < 0] = 0
        y = [escape_plotly(s.labels.get("le", "")) for s in by_le]
    elif same_x:
        z = np.vstack([s.y for s in series])
        y = [escape_plotly(s.name) for s in series]
    else:
        return frame(ctx, message("Series have different timestamps; cannot build a heatmap"), data)
    h = body_height(ctx)
    scheme = ctx.panel.options.heatmap_scheme
    fig = {"data": [{"type": "heatmap", "x": x, "y": y, "z": z,
                     "colorscale": colors.plotly_scale(scheme if scheme in colors.SCHEMES else "Oranges"),
                     "showscale": False, "xgap": 1, "ygap": 1,
                     "hovertemplate": "%{y}: %{z:.3~s}<extra></extra>"}],
           "layout": plotly_layout(ctx, h)}
    fig["layout"]["yaxis"].update(type="category")
    graph = dcc.Graph(id={"type": ctx.graph_id_type, "key": ctx.key}, figure=fig,
                      config=GRAPH_CONFIG, style={"height": f"{h}px"})
    return frame(ctx, graph, data)
