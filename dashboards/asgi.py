"""One ASGI app with the Grafana dashboard API and the Dash UI on the same port,
the way Spyglass serves them: API routes first, the UI mounted under ``/``.

Usage (what ``spyglass up`` does, and what the tests run)::

    dash_app = create_dash_app(api_url, data_dir / "dashboards")
    app = FastAPI(); mount_ui(app, dash_app)
"""

from __future__ import annotations

from a2wsgi import WSGIMiddleware
from dash import Dash
from fastapi import FastAPI

from dashboards.api import grafana_router


def mount_ui(app: FastAPI, dash_app: Dash, *, path: str = "/") -> FastAPI:
    """Add ``/api/dashboards/*`` and ``/api/search``, then mount the UI at ``path``.

    Call it after every other route is added: the mount catches all remaining paths.
    """
    app.include_router(grafana_router(dash_app.spyglass.store))  # type: ignore[attr-defined]
    # Dash runs callbacks on WSGI worker threads; a2wsgi gives it a pool of its own.
    app.mount(path, WSGIMiddleware(dash_app.server, workers=8))
    return app
