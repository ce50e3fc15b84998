"""One ASGI app with the Grafana dashboard API and the Dash UI on the same port,
the way Spyglass serves them: API routes first, the UI mounted under ``/``.

Usage (what ``spyglass up`` does, and what the tests run)::

    dash_app = create_dash_app(api_url, data_dir / "dashboards")
    app = FastAPI(); mount_ui(app, dash_app)
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from dashboards.api import grafana_router

if TYPE_CHECKING:
    from dash import Dash


def mount_ui(app: FastAPI, dash_app: Dash, *, path: str = "/") -> FastAPI:
    """Add ``/api/dashboards/*`` and ``/api/search``, then mount the UI at ``path``.

    Call it after every other route is added: the mount catches all remaining paths.
    """
    app.include_router(grafana_router(dash_app.spyglass.store))  # type: ignore[attr-defined]
    # Dash runs callbacks on WSGI worker threads; a2wsgi gives it a pool of its own.
    app.mount(path, WSGIMiddleware(dash_app.server, workers=8))
    return app


class LazyUI:
    """An ASGI app for the UI that answers 503 (Retry-After: 1) until ``set_app`` gives
    it the real one: importing Dash and plotly takes a second or more, and the
    APIs should not wait for that before the server is ready."""

    def __init__(self):
        self._app = None

    def set_app(self, app) -> None:
        self._app = app

    @property
    def ready(self) -> bool:
        return self._app is not None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is not None:
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        body = b"The Spyglass UI is starting; retry in a moment.\n"
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def graph_redirect(request: Request) -> RedirectResponse:
    """Prometheus-style alert links (``/graph?g0.expr=...``) open in Explore."""
    expr = request.query_params.get("g0.expr", "")
    return RedirectResponse("/explore?" + urlencode({"query": expr, "mode": "range"}), status_code=302)
