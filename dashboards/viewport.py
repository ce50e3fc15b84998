"""What the browser tells the server about itself: the window's size (panels size
their queries' step to their pixel width; a dashboard renders its first screen
first) and who draws WebGL (a GPU, or a
software rasteriser such as SwiftShader, on which a large WebGL graph takes
seconds where the same graph in SVG takes a fraction of one).

``assets/panels.js`` keeps both in cookies. Cookies rather than a Dash store:
the first callback of a page (the route, which now renders a dashboard with its
data) needs the width, and a store's value would only reach a later callback::

    vp = current_viewport()        # inside a callback; defaults outside a request
    width, gpu = vp.width, vp.gpu_webgl
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WIDTH_COOKIE = "spyglass_vw"
HEIGHT_COOKIE = "spyglass_vh"
WEBGL_COOKIE = "spyglass_gl"
DEFAULT_WIDTH = 1600
DEFAULT_HEIGHT = 1000
_MIN, _MAX = 320, 16384
WEBGL_KINDS = frozenset({"gpu", "software", "none"})


@dataclass(frozen=True, slots=True)
class Viewport:
    """The browser window: ``width`` and ``height`` in CSS pixels and ``webgl``
    ("gpu", "software", "none" or "unknown" until the page has found out)."""

    width: int = DEFAULT_WIDTH
    webgl: str = "unknown"
    height: int = DEFAULT_HEIGHT

    @property
    def gpu_webgl(self) -> bool:
        """WebGL is drawn by a GPU: only then is it faster than SVG for big graphs."""
        return self.webgl == "gpu"

    @classmethod
    def from_cookies(cls, cookies: Mapping[str, str]) -> Viewport:
        webgl = cookies.get(WEBGL_COOKIE, "")
        return cls(_pixels(cookies.get(WIDTH_COOKIE), DEFAULT_WIDTH),
                   webgl if webgl in WEBGL_KINDS else "unknown",
                   _pixels(cookies.get(HEIGHT_COOKIE), DEFAULT_HEIGHT))


def _pixels(text: str | None, default: int) -> int:
    try:
        return min(max(int(text or ""), _MIN), _MAX)
    except ValueError:
        return default


def current_viewport() -> Viewport:
    """The viewport of the browser behind the current request (Dash runs callbacks
    inside Flask's request context); the defaults anywhere else."""
    import flask

    if not flask.has_request_context():
        return Viewport()
    return Viewport.from_cookies(flask.request.cookies)
