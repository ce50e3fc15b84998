"""Grafana's named colours (dark theme), the classic series palette, and the
continuous schemes used by colour modes and heatmaps."""

from __future__ import annotations

import re

_BASE = {
    "green": ("#C8F2C2", "#96D98D", "#73BF69", "#56A64B", "#37872D"),
    "red": ("#FFA6B0", "#FF7383", "#F2495C", "#E02F44", "#C4162A"),
    "yellow": ("#FFF899", "#FFEE52", "#FADE2A", "#F2CC0C", "#E0B400"),
    "blue": ("#C0D8FF", "#8AB8FF", "#5794F2", "#3274D9", "#1F60C4"),
    "orange": ("#FFCB7D", "#FFB357", "#FF9830", "#FF780A", "#FA6400"),
    "purple": ("#DEB6F2", "#CA95E5", "#B877D9", "#A352CC", "#8F3BB8"),
}
NAMED: dict[str, str] = {"text": "#CCCCDC", "transparent": "rgba(0,0,0,0)",
                         "white": "#FFFFFF", "black": "#000000"}
for _hue, (_sl, _l, _m, _sd, _d) in _BASE.items():
    NAMED[_hue] = _m
    NAMED[f"super-light-{_hue}"] = _sl
    NAMED[f"light-{_hue}"] = _l
    NAMED[f"semi-dark-{_hue}"] = _sd
    NAMED[f"dark-{_hue}"] = _d
# Older dashboards write colours as CSS names or rgba strings; both pass through.

CLASSIC_PALETTE = (
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
    "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
    "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0",
    "#629E51", "#E5AC0E", "#64B0C8", "#E0752D", "#BF1B00", "#0A50A1", "#962D82", "#614D93",
)

SCHEMES = {
    "GrYlRd": ("#73BF69", "#FADE2A", "#F2495C"),
    "RdYlGr": ("#F2495C", "#FADE2A", "#73BF69"),
    "BlYlRd": ("#5794F2", "#FADE2A", "#F2495C"),
    "YlRd": ("#FADE2A", "#F2495C"),
    "YlBl": ("#FADE2A", "#5794F2"),
    "blues": ("#0A2A5A", "#5794F2", "#C0D8FF"),
    "reds": ("#4A0A12", "#F2495C", "#FFA6B0"),
    "greens": ("#0F2E0C", "#73BF69", "#C8F2C2"),
    "purples": ("#2D0F3D", "#B877D9", "#DEB6F2"),
    "Oranges": ("#2B1300", "#FF9830", "#FFCB7D"),
    "Spectral": ("#9E0142", "#F46D43", "#FEE08B", "#E6F598", "#66C2A5", "#5E4FA2"),
    "Viridis": ("#440154", "#3B528B", "#21908C", "#5DC963", "#FDE725"),
    "Blues": ("#F7FBFF", "#6BAED6", "#08306B"),
    "Greens": ("#F7FCF5", "#74C476", "#00441B"),
    "Reds": ("#FFF5F0", "#FB6A4A", "#67000D"),
    "RdYlBu": ("#A50026", "#FEE090", "#313695"),
    "Turbo": ("#30123B", "#4686FB", "#1BE5B5", "#A4FC3C", "#FABA39", "#E4460A", "#7A0403"),
}

_HEX6 = re.compile(r"^#[0-9a-fA-F]{6}$")


def resolve(color: str) -> str:
    """A Grafana colour name, hex or CSS colour → a CSS colour string."""
    if not color:
        return NAMED["green"]
    return NAMED.get(color, color)


def palette(i: int) -> str:
    return CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def interpolate(stops: tuple[str, ...], t: float) -> str:
    """The colour at ``t`` (0..1) along ``stops``."""
    t = min(max(t, 0.0), 1.0)
    if len(stops) == 1:
        return stops[0]
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    frac = pos - i
    a, b = _rgb(stops[i]), _rgb(stops[i + 1])
    r, g, bl = (round(a[k] + (b[k] - a[k]) * frac) for k in range(3))
    return f"#{r:02X}{g:02X}{bl:02X}"


def scheme(mode: str) -> tuple[str, ...] | None:
    """Stops of a ``continuous-…`` colour mode or heatmap scheme name."""
    name = mode.removeprefix("continuous-")
    return SCHEMES.get(name)


def plotly_scale(name: str) -> list[list[object]]:
    stops = SCHEMES.get(name) or SCHEMES["Oranges"]
    n = len(stops) - 1
    return [[i / n, c] for i, c in enumerate(stops)]
