"""Grafana dashboard import: JSON (or a Kubernetes ConfigMap of JSON) → typed model.

Usage::

    from dashboards.grafana import parse_dashboard, load_documents
    for doc in load_documents(Path("node-exporter-full.json")):
        d = parse_dashboard(doc)          # raises DashboardError naming panel + field
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from dashboards.grafana.errors import DashboardError
from dashboards.grafana.model import Dashboard, Panel, Target, Variable
from dashboards.grafana.parse import parse_dashboard

__all__ = [
    "Dashboard",
    "DashboardError",
    "Panel",
    "Target",
    "Variable",
    "documents_from_text",
    "load_documents",
    "parse_dashboard",
]


def documents_from_text(text: str, name: str = "") -> list[Any]:
    """Dashboards in a JSON text, or in YAML: a dashboard, a ConfigMap or a ConfigMapList
    whose ``data`` values are dashboard JSON strings (as kube-prometheus ships them)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise DashboardError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                                 path=name) from None
        return doc if isinstance(doc, list) else [doc]
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DashboardError(f"neither JSON nor YAML: {e}", path=name) from None
    return _from_yaml(doc, name)


def _from_yaml(doc: Any, name: str) -> list[Any]:
    if not isinstance(doc, dict):
        raise DashboardError("expected a dashboard object or a ConfigMap", path=name)
    kind = doc.get("kind")
    if kind in ("ConfigMapList", "List"):
        out = []
        for item in doc.get("items") or []:
            out.extend(_from_yaml(item, name))
        return out
    if kind == "ConfigMap":
        out = []
        for key, value in (doc.get("data") or {}).items():
            if not str(key).endswith(".json"):
                continue
            try:
                out.append(json.loads(value))
            except (TypeError, json.JSONDecodeError) as e:
                raise DashboardError(f"not valid JSON: {e}", path=f"{name}:data.{key}") from None
        return out
    return [doc]


def load_documents(path: Path) -> list[Any]:
    """The dashboard documents in one file (``.json``, ``.yaml``/``.yml``)."""
    return documents_from_text(path.read_text(encoding="utf-8"), path.name)
