"""A tiny Prometheus/Alertmanager API served from fixture data through
``httpx.MockTransport``, recording every request (for unit tests of pages)."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field

import httpx

SERIES = [
    {"__name__": "up", "job": "node", "instance": "a:9100", "cluster": "c1", "namespace": "default"},
    {"__name__": "up", "job": "node", "instance": "b:9100", "cluster": "c1", "namespace": "kube-system"},
    {"__name__": "up", "job": "api", "instance": "c:443", "cluster": "c2", "namespace": "prod.eu"},
]


@dataclass
class FakeAPI:
    series: list[dict[str, str]] = field(default_factory=lambda: [dict(s) for s in SERIES])
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    silences: list[dict] = field(default_factory=list)
    fail_expr: str = "boom"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _params(self, request: httpx.Request) -> dict[str, list[str]]:
        q = urllib.parse.parse_qs(request.url.query.decode(), keep_blank_values=True)
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            q.update(urllib.parse.parse_qs(request.content.decode(), keep_blank_values=True))
        return q

    def _match(self, selector: str) -> list[dict[str, str]]:
        m = re.match(r"^\s*([a-zA-Z_:][\w:]*)?\s*(?:\{(.*)\})?\s*$", selector)
        if not m:
            return list(self.series)
        name, body = m.group(1), m.group(2) or ""
        out = []
        for s in self.series:
            if name and s.get("__name__") != name:
                continue
            ok = True
            for lm in re.finditer(r'(\w+)\s*(=~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body):
                k, op, v = lm.groups()
                have = s.get(k, "")
                v = v.replace("\\\\", "\\")
                if op == "=" and have != v or op == "!=" and have == v:
                    ok = False
                if op == "=~" and not re.fullmatch(v, have):
                    ok = False
            if ok:
                out.append(s)
        return out

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        q = self._params(request)
        self.requests.append((path, q))
        ok = lambda data: httpx.Response(200, json={"status": "success", "data": data})
        if path in ("/api/v1/query", "/api/v1/query_range"):
            expr = q["query"][0]
            if self.fail_expr in expr:
                return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                                 "error": f'1:1: parse error: unexpected "{self.fail_expr}"'})
            sel = re.search(r'([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})', expr)
            matched = self._match(sel.group(0)) if sel else []
            if not matched:
                matched = [{"job": "node"}]
            if path.endswith("query"):
                t = float(q.get("time", ["1000"])[0])
                if expr.startswith("count(("):
                    return ok({"resultType": "vector",
                               "result": [{"metric": {}, "value": [t, str(len(matched))]}]})
                return ok({"resultType": "vector",
                           "result": [{"metric": m, "value": [t, str(i + 1)]} for i, m in enumerate(matched)]})
            start, end, step = (float(q[k][0]) for k in ("start", "end", "step"))
            n = min(int((end - start) / step) + 1, 11000)
            return ok({"resultType": "matrix", "result": [
                {"metric": m, "values": [[start + j * step, str(i + j % 5)] for j in range(n)]}
                for i, m in enumerate(matched)]})
        if path == "/api/v1/labels":
            sel = q.get("match[]", [""])[0]
            names = sorted({k for s in (self._match(sel) if sel else self.series) for k in s})
            return ok(names)
        m = re.match(r"^/api/v1/label/([^/]+)/values$", path)
        if m:
            sel = q.get("match[]", [""])[0]
            vals = sorted({s[m.group(1)] for s in (self._match(sel) if sel else self.series)
                           if m.group(1) in s})
            return ok(vals)
        if path == "/api/v1/series":
            return ok([s for sel in q.get("match[]", []) for s in self._match(sel)])
        if path == "/api/v1/alerts":
            return ok({"alerts": [
                {"labels": {"alertname": "HighLoad", "severity": "critical",
                            "team": "<script>alert(1)</script>"},
                 "annotations": {"summary": "load is high"}, "state": "firing",
                 "activeAt": "2024-01-01T00:00:00.123456789Z", "value": "4.2e+00"},
                {"labels": {"alertname": "SlowDisk"}, "annotations": {}, "state": "pending",
                 "activeAt": "2024-01-01T00:00:00Z", "value": "1"}]})
        if path == "/api/v1/rules":
            return ok({"groups": [{"name": "g1", "file": "r.yml", "interval": 30, "rules": [
                {"type": "alerting", "name": "HighLoad", "query": "node_load1 > 4", "state": "firing",
                 "health": "ok", "labels": {"severity": "critical"}, "lastError": "",
                 "lastEvaluation": "2024-01-01T00:00:00Z", "evaluationTime": 0.001},
                {"type": "recording", "name": "job:up:sum", "query": "sum by (job) (up)",
                 "health": "err", "lastError": "boom", "lastEvaluation": "2024-01-01T00:00:00Z",
                 "evaluationTime": 0.002}]}]})
        if path == "/api/v1/targets":
            return ok({"activeTargets": [
                {"scrapePool": "node", "scrapeUrl": "http://a:9100/metrics", "health": "up",
                 "labels": {"job": "node", "instance": "a:9100"}, "lastError": "",
                 "lastScrape": "2024-01-01T00:00:00Z", "lastScrapeDuration": 0.012},
                {"scrapePool": "node", "scrapeUrl": "http://b:9100/metrics", "health": "down",
                 "labels": {"job": "node", "instance": "b:9100"}, "lastError": "connection refused",
                 "lastScrape": "2024-01-01T00:00:00Z", "lastScrapeDuration": 0.001}],
                "droppedTargets": []})
        if path == "/api/v1/status/buildinfo":
            return ok({"version": "fake-1.0", "revision": "abc"})
        if path == "/api/v1/status/tsdb":
            return ok({"headStats": {"numSeries": 3, "chunkCount": 3, "numLabelPairs": 9},
                       "seriesCountByMetricName": [{"name": "up", "value": 3}],
                       "labelValueCountByLabelName": [{"name": "instance", "value": 3}],
                       "memoryInBytesByLabelName": [{"name": "instance", "value": 30}],
                       "seriesCountByLabelValuePair": [{"name": "job=node", "value": 2}]})
        if path == "/api/v1/status/config":
            return ok({"yaml": "global:\n  scrape_interval: 15s\n"})
        if path == "/api/v1/metadata":
            return ok({"up": [{"type": "gauge", "help": "target up", "unit": ""}]})
        if path == "/api/v2/alerts":
            return httpx.Response(200, json=[
                {"labels": {"alertname": "HighLoad", "severity": "critical"}, "annotations": {},
                 "startsAt": "2024-01-01T00:00:00Z", "fingerprint": "f1",
                 "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}}])
        if path == "/api/v2/silences" and request.method == "GET":
            return httpx.Response(200, json=self.silences)
        if path == "/api/v2/silences" and request.method == "POST":
            body = json.loads(request.content)
            sid = body.get("id") or f"s{len(self.silences) + 1}"
            self.silences = [s for s in self.silences if s["id"] != sid]
            self.silences.append({**body, "id": sid, "status": {"state": "active"}})
            return httpx.Response(200, json={"silenceID": sid})
        m = re.match(r"^/api/v2/silence/([^/]+)$", path)
        if m:
            found = [s for s in self.silences if s["id"] == m.group(1)]
            if not found:
                return httpx.Response(404, text="silence not found")
            if request.method == "DELETE":
                found[0]["status"] = {"state": "expired"}
                return httpx.Response(200)
            return httpx.Response(200, json=found[0])
        return httpx.Response(404, json={"status": "error", "error": f"no route {path}"})

    def queries(self) -> list[str]:
        return [q["query"][0] for p, q in self.requests if p.startswith("/api/v1/query")]
