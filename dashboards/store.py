"""Dashboards persisted as JSON files in the data directory (format: STORE.md).

Every save is validated by the Grafana import model first, so the store only ever
holds dashboards the UI can render. Usage::

    store = DashboardStore(data_dir / "dashboards")
    saved = store.save(json.load(f), overwrite=True)   # → SavedDashboard(uid, url, …)
    store.provision(Path("/etc/spyglass/dashboards"))
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.grafana import DashboardError, load_documents, parse_dashboard
from dashboards.grafana.model import Dashboard
from dashboards.telemetry import DashboardsTelemetry

_UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
FORMAT_VERSION = 1


class DashboardExists(Exception):
    """A save would replace another dashboard (Grafana's HTTP 412 "name-exists" or
    "version-mismatch"); ``status`` is that word."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


def slugify(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s or "dashboard"


@dataclass(frozen=True, slots=True)
class SavedDashboard:
    uid: str
    id: int
    version: int
    slug: str
    url: str


@dataclass(frozen=True, slots=True)
class StoredDashboard:
    """One dashboard with its store metadata; ``json`` is what was saved (with the
    store's ``uid``/``id``/``version`` written in), ``model`` its parsed form."""

    json: Mapping[str, Any]
    model: Dashboard
    id: int
    version: int
    created: float
    updated: float
    provisioned: bool
    source: str  # "api", "ui", "provisioned:<path>", "builtin"

    @property
    def uid(self) -> str:
        return self.model.uid

    @property
    def slug(self) -> str:
        return slugify(self.model.title)

    @property
    def url(self) -> str:
        return f"/d/{self.uid}/{self.slug}"


class DashboardStore:
    """Thread-safe dashboard persistence: one ``<uid>.json`` file per dashboard."""

    def __init__(self, directory: Path | str, *, clock: Callable[[], float] = time.time,
                 telemetry: DashboardsTelemetry | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._t = telemetry or DashboardsTelemetry.for_registry()
        self._lock = threading.RLock()
        self._items: dict[str, StoredDashboard] = {}
        self.problems: dict[str, str] = {}
        self._next_id = 1
        self._load()

    # ------------------------------------------------------------------ disk
    def _load(self) -> None:
        for path in sorted(self.directory.glob("*.json")):
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
                model = parse_dashboard(rec["dashboard"])
            except (OSError, ValueError, KeyError, TypeError, DashboardError):
                # A file someone broke by hand must not stop the UI; it stays on disk
                # untouched and is listed in ``problems``.
                self.problems[path.name] = "unreadable dashboard record"
                continue
            meta = rec.get("meta") or {}
            item = StoredDashboard(rec["dashboard"], model, int(meta.get("id", 0)) or self._next_id,
                                   int(meta.get("version", 1)), float(meta.get("created", 0)),
                                   float(meta.get("updated", 0)), bool(meta.get("provisioned")),
                                   str(meta.get("source", "api")))
            self._items[model.uid] = item
            self._next_id = max(self._next_id, item.id + 1)
        self._t.stored.set(len(self._items))

    def _path(self, uid: str) -> Path:
        return self.directory / f"{uid}.json"

    def _write(self, item: StoredDashboard) -> None:
        rec = {"format": FORMAT_VERSION, "meta": {
            "id": item.id, "version": item.version, "created": item.created,
            "updated": item.updated, "provisioned": item.provisioned, "source": item.source},
            "dashboard": item.json}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(rec, f, indent=1, sort_keys=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(item.uid))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --------------------------------------------------------------- public API
    def save(self, doc: Any, *, overwrite: bool = False, source: str = "api",
             provisioned: bool = False) -> SavedDashboard:
        """Validate and store ``doc`` (a dashboard or ``{"dashboard": …}``).

        Like Grafana: a missing uid is generated; an existing uid, or the same title,
        is replaced only with ``overwrite`` (else ``DashboardExists``); a stale
        ``version`` is refused unless ``overwrite``.
        """
        if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict) and "panels" not in doc:
            doc = doc["dashboard"]
        model = parse_dashboard(doc)  # raises DashboardError naming panel and field
        data = dict(doc)
        uid = str(data.get("uid") or "")
        if uid and not _UID_RE.match(uid):
            raise DashboardError("a uid is 1-40 letters, digits, - or _", path="uid")
        with self._lock:
            if not uid:
                uid = self._new_uid()
            existing = self._items.get(uid)
            same_title = next((d for d in self._items.values()
                               if d.model.title.lower() == model.title.lower() and d.uid != uid), None)
            if same_title is not None and not overwrite:
                raise DashboardExists("A dashboard with the same name in the folder already exists",
                                      "name-exists")
            if existing is not None and not overwrite:
                version = data.get("version")
                if not isinstance(version, int) or version != existing.version:
                    raise DashboardExists(
                        "The dashboard has been changed by someone else", "version-mismatch")
            if same_title is not None and overwrite:
                self._delete_locked(same_title.uid)
            now = self._clock()
            version = (existing.version + 1) if existing else 1
            dash_id = existing.id if existing else self._next_id
            if not existing:
                self._next_id += 1
            data.update({"uid": uid, "id": dash_id, "version": version})
            item = StoredDashboard(data, parse_dashboard(data), dash_id, version,
                                   existing.created if existing else now, now, provisioned, source)
            self._write(item)
            self._items[uid] = item
            self._t.stored.set(len(self._items))
            return SavedDashboard(uid, dash_id, version, item.slug, item.url)

    def _new_uid(self) -> str:
        while True:
            uid = secrets.token_urlsafe(9).replace("-", "a").replace("_", "b")[:12]
            if uid not in self._items:
                return uid

    def get(self, uid: str) -> StoredDashboard | None:
        with self._lock:
            return self._items.get(uid)

    def delete(self, uid: str) -> StoredDashboard | None:
        with self._lock:
            return self._delete_locked(uid)

    def _delete_locked(self, uid: str) -> StoredDashboard | None:
        item = self._items.pop(uid, None)
        if item is not None:
            self._path(uid).unlink(missing_ok=True)
            self._t.stored.set(len(self._items))
        return item

    def search(self, query: str = "", tags: tuple[str, ...] = (), uids: tuple[str, ...] = (),
               limit: int = 1000) -> list[StoredDashboard]:
        """Title substring (case-insensitive) and all of ``tags``, sorted by title."""
        q = query.lower().strip()
        with self._lock:
            items = list(self._items.values())
        out = [d for d in items
               if (not q or q in d.model.title.lower())
               and all(t in d.model.tags for t in tags)
               and (not uids or d.uid in uids)]
        out.sort(key=lambda d: d.model.title.lower())
        return out[:limit]

    def tags(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        with self._lock:
            for d in self._items.values():
                for t in d.model.tags:
                    counts[t] = counts.get(t, 0) + 1
        return sorted(counts.items())

    def __len__(self) -> int:
        return len(self._items)

    def provision(self, directory: Path | str, *, source: str = "") -> list[str]:
        """Load every ``*.json``/``*.yaml``/``*.yml`` dashboard under ``directory``
        (ConfigMaps included), replacing earlier copies; returns their uids.

        A file that fails to import raises ``DashboardError`` naming the file, so a
        bad provisioning folder is noticed at start.
        """
        root = Path(directory)
        uids = []
        files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
        for path in files:
            try:
                docs = load_documents(path)
            except DashboardError as e:
                raise DashboardError(e.reason, path=f"{path}: {e.path}".rstrip(": ")) from None
            for i, doc in enumerate(docs):
                if isinstance(doc, dict) and not doc.get("uid"):
                    # a stable uid per file so re-provisioning replaces, never duplicates
                    doc = dict(doc, uid=_stable_uid(f"{path.relative_to(root)}#{i}"))
                try:
                    saved = self.save(doc, overwrite=True, provisioned=True,
                                      source=source or f"provisioned:{path}")
                except DashboardError as e:
                    raise DashboardError(e.reason, path=f"{path.name}: {e.path}",
                                         panel=e.panel) from None
                uids.append(saved.uid)
        return uids


def _stable_uid(text: str) -> str:
    import hashlib
    return hashlib.sha1(text.encode()).hexdigest()[:12]


BUILTIN_DIR = Path(__file__).parent / "builtin"


def open_store(store_dir: str | Path, telemetry: DashboardsTelemetry | None = None, *,
               provision_builtin: bool = True, dashboards_dir: str | Path | None = None) -> DashboardStore:
    """The dashboard store with the built-in dashboards and ``dashboards_dir`` provisioned."""
    store = DashboardStore(Path(store_dir), telemetry=telemetry or DashboardsTelemetry.for_registry())
    if provision_builtin and BUILTIN_DIR.is_dir():
        store.provision(BUILTIN_DIR, source="builtin")
    if dashboards_dir:
        store.provision(Path(dashboards_dir))
    return store
