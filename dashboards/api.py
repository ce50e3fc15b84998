"""Grafana's dashboard HTTP API, for provisioning scripts and tools that speak it.

``POST /api/dashboards/db``, ``GET``/``DELETE /api/dashboards/uid/<uid>``,
``GET /api/search``. Mount with ``app.include_router(grafana_router(store))``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from dashboards.grafana import DashboardError
from dashboards.store import DashboardExists, DashboardStore, StoredDashboard


def _meta(d: StoredDashboard) -> dict[str, Any]:
    return {
        "type": "db", "canSave": True, "canEdit": True, "canAdmin": False, "canStar": False,
        "slug": d.slug, "url": d.url, "version": d.version, "provisioned": d.provisioned,
        "created": _iso(d.created), "updated": _iso(d.updated), "folderId": 0, "folderUid": "",
        "folderTitle": "General",
    }


def _iso(ts: float) -> str:
    from datetime import datetime
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _hit(d: StoredDashboard) -> dict[str, Any]:
    return {"id": d.id, "uid": d.uid, "title": d.model.title, "uri": f"db/{d.slug}",
            "url": d.url, "slug": "", "type": "dash-db", "tags": list(d.model.tags),
            "isStarred": False, "sortMeta": 0}


def grafana_router(store: DashboardStore) -> APIRouter:
    """The router; the caller adds authentication (editor role for writes)."""
    router = APIRouter()

    @router.post("/api/dashboards/db")
    async def save_dashboard(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"message": "request body is not JSON"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return JSONResponse({"message": 'the body needs a "dashboard" object'}, status_code=400)
        try:
            saved = store.save(body["dashboard"], overwrite=bool(body.get("overwrite")))
        except DashboardExists as e:
            return JSONResponse({"message": str(e), "status": e.status}, status_code=412)
        except DashboardError as e:
            return JSONResponse({"message": f"invalid dashboard: {e}", "status": "invalid",
                                 "path": e.path, "panel": e.panel}, status_code=400)
        return JSONResponse({"id": saved.id, "uid": saved.uid, "url": saved.url,
                             "status": "success", "version": saved.version, "slug": saved.slug})

    @router.get("/api/dashboards/uid/{uid}")
    def get_dashboard(uid: str) -> JSONResponse:
        d = store.get(uid)
        if d is None:
            return JSONResponse({"message": "Dashboard not found"}, status_code=404)
        return JSONResponse({"dashboard": dict(d.json), "meta": _meta(d)})

    @router.delete("/api/dashboards/uid/{uid}")
    def delete_dashboard(uid: str) -> JSONResponse:
        d = store.delete(uid)
        if d is None:
            return JSONResponse({"message": "Dashboard not found"}, status_code=404)
        return JSONResponse({"title": d.model.title, "id": d.id,
                             "message": f"Dashboard {d.model.title} deleted"})

    @router.get("/api/search")
    # Query(...) in defaults is how FastAPI declares repeated query parameters.
    def search(query: str = "", tag: list[str] = Query(default=[]),  # noqa: B008
               dashboardUIDs: list[str] = Query(default=[]), type: str = "",  # noqa: B008
               limit: int = 1000) -> JSONResponse:
        if type and type != "dash-db":
            return JSONResponse([])  # Spyglass has no folders
        uids = tuple(u for part in dashboardUIDs for u in part.split(",") if u)
        return JSONResponse([_hit(d) for d in store.search(query, tuple(tag), uids, max(limit, 0))])

    return router
