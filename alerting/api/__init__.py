"""Alertmanager API v2 for Spyglass's notification pipeline.

    from alerting.api import router
    app.include_router(router(notifier))          # /api/v2/alerts, /api/v2/silences, ...

``create_app(notifier)`` builds a standalone FastAPI app with the router and
``/-/healthy``, ``/-/ready`` (what ``spyglass alerting`` or a test serves).
"""

from __future__ import annotations

from fastapi import FastAPI, Response

from alerting.api.v2 import router
from alerting.notify.notifier import Notifier

__all__ = ["create_app", "router"]


def create_app(notifier: Notifier) -> FastAPI:
    app = FastAPI(title="Spyglass Alertmanager API", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router(notifier))

    @app.get("/-/healthy")
    def healthy() -> Response:
        return Response("OK", media_type="text/plain")

    @app.get("/-/ready")
    def ready() -> Response:
        return Response("OK", media_type="text/plain")

    return app
