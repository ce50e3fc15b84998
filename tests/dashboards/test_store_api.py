"""DashboardStore and Grafana's dashboard HTTP API."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboards.api import grafana_router
from dashboards.grafana import DashboardError
from dashboards.store import DashboardExists, DashboardStore
from dashboards.telemetry import DashboardsTelemetry


def _dash(title="CPU", uid=None, **extra):
    d = {"title": title, "tags": ["node"], "panels": [
        {"id": 1, "type": "stat", "title": "Up", "targets": [{"refId": "A", "expr": "up"}]}]}
    if uid:
        d["uid"] = uid
    d.update(extra)
    return d


@pytest.fixture
def store(tmp_path):
    return DashboardStore(tmp_path / "dash", telemetry=DashboardsTelemetry(CollectorRegistry()))


def test_save_get_search_delete_persist(store, tmp_path):
    saved = store.save(_dash(uid="cpu1"))
    assert saved.uid == "cpu1" and saved.version == 1 and saved.url == "/d/cpu1/cpu"
    auto = store.save(_dash("Memory usage"))
    assert auto.uid and auto.uid != "cpu1" and auto.id != saved.id
    # a second store on the same directory sees both (they are on disk)
    again = DashboardStore(tmp_path / "dash", telemetry=DashboardsTelemetry(CollectorRegistry()))
    assert {d.uid for d in again.search()} == {"cpu1", auto.uid}
    rec = json.loads((tmp_path / "dash" / "cpu1.json").read_text())
    assert rec["format"] == 1 and rec["dashboard"]["version"] == 1
    assert [d.uid for d in store.search("mem")] == [auto.uid]
    assert len(store.search(tags=("node",))) == 2 and store.search(tags=("k8s",)) == []
    assert store.delete("cpu1").uid == "cpu1" and store.get("cpu1") is None
    assert not (tmp_path / "dash" / "cpu1.json").exists()


def test_conflicts_like_grafana(store):
    store.save(_dash(uid="a"))
    with pytest.raises(DashboardExists) as e:
        store.save(_dash(uid="a"))
    assert e.value.status == "version-mismatch"
    ok = store.save(_dash(uid="a", version=1))
    assert ok.version == 2
    with pytest.raises(DashboardExists) as e:
        store.save(_dash(uid="b"))  # same title, other uid
    assert e.value.status == "name-exists"
    store.save(_dash(uid="b"), overwrite=True)
    assert store.get("a") is None and store.get("b").version == 1
    with pytest.raises(DashboardError) as e:
        store.save({"title": "x", "panels": [{"id": 3, "title": "P", "type": "stat", "gridPos": {"w": "x"}}]})
    assert e.value.path == "panels[0].gridPos.w" and 'panel 3 "P"' in str(e.value)


def test_provision_folder_and_configmap(store, tmp_path):
    d = tmp_path / "prov"
    d.mkdir()
    (d / "one.json").write_text(json.dumps(_dash("One")))
    (d / "sub").mkdir()
    cm = {"kind": "ConfigMapList", "items": [{"kind": "ConfigMap", "data": {
        "two.json": json.dumps(_dash("Two", uid="two")), "three.json": json.dumps(_dash("Three"))}}]}
    import yaml
    (d / "sub" / "maps.yaml").write_text(yaml.safe_dump(cm))
    uids = store.provision(d)
    assert len(uids) == 3 and "two" in uids
    assert store.provision(d) == uids  # stable: replaces, never duplicates
    assert len(store) == 3 and store.get("two").provisioned
    (d / "bad.json").write_text(json.dumps({"title": "Bad", "panels": [{"id": 9, "title": "T"}]}))
    with pytest.raises(DashboardError) as e:
        store.provision(d)
    assert "bad.json" in str(e.value) and "panels[0].type" in str(e.value)


def test_grafana_http_api(store):
    app = FastAPI()
    app.include_router(grafana_router(store))
    c = TestClient(app)
    r = c.post("/api/dashboards/db", json={"dashboard": _dash(uid="x1"), "overwrite": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["uid"] == "x1" and body["url"] == "/d/x1/cpu" and body["status"] == "success"
    r = c.post("/api/dashboards/db", json={"dashboard": _dash(uid="x1")})
    assert r.status_code == 412 and r.json()["status"] == "version-mismatch"
    r = c.post("/api/dashboards/db", json={"dashboard": _dash(uid="x1"), "overwrite": True})
    assert r.json()["version"] == 2
    r = c.get("/api/dashboards/uid/x1")
    assert r.status_code == 200
    assert r.json()["dashboard"]["title"] == "CPU" and r.json()["meta"]["version"] == 2
    assert r.json()["meta"]["url"] == "/d/x1/cpu"
    hits = c.get("/api/search", params={"query": "cp", "tag": "node"}).json()
    assert [h["uid"] for h in hits] == ["x1"] and hits[0]["type"] == "dash-db"
    assert c.get("/api/search", params={"tag": "none"}).json() == []
    bad = c.post("/api/dashboards/db", json={"dashboard": {"title": "B", "panels": [
        {"id": 5, "title": "Q", "type": "timeseries", "targets": [{"expr": {"x": 1}}]}]}})
    assert bad.status_code == 400
    assert "panels[0].targets[0].expr" in bad.json()["message"] and 'panel 5 "Q"' in bad.json()["message"]
    assert c.post("/api/dashboards/db", content=b"{").status_code == 400
    assert c.delete("/api/dashboards/uid/x1").json()["title"] == "CPU"
    assert c.get("/api/dashboards/uid/x1").status_code == 404
    assert c.delete("/api/dashboards/uid/x1").status_code == 404
