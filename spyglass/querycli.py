"""``spyglass query``: run PromQL against a running server and print the answer.

The default output is a table that reads well in a terminal; ``--format promtool``
prints exactly what ``promtool query instant|range`` prints, and ``--format json``
the API's ``data`` as is.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

import httpx

from collector.api.jsonfmt import format_value
from collector.api.params import BadParam, parse_duration_param, parse_time


def _time_arg(text: str, name: str, now: float) -> str:
    """Accept unix seconds, RFC 3339, ``now`` and ``now-1h``-style relative times."""
    t = text.strip()
    if t == "now":
        return f"{now:.3f}"
    if t.startswith(("now-", "now+")):
        ms = parse_duration_param(t[4:], name)
        return f"{now + (ms / 1000 if t[3] == '+' else -ms / 1000):.3f}"
    ms = parse_time(t, name)
    return f"{ms / 1000:.3f}"


def _labels_text(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in metric.items() if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _promtool_labels(metric: dict[str, str]) -> str:
    # Go's model.Metric.String(): name{a="b", c="d"}, or {a="b"} without a name
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    if not rest:
        return name if name else "{}"
    return f"{name}{{{rest}}}"


def _ts(t) -> str:
    # Go's model.Time.String(): FormatFloat(seconds, 'f', -1, 64)
    return format_value(float(t))


def render_promtool(data: dict) -> str:
    kind, result = data["resultType"], data["result"]
    lines = []
    if kind == "vector":
        for s in result:
            t, v = s["value"]
            lines.append(f"{_promtool_labels(s['metric'])} => {v} @[{_ts(t)}]")
    elif kind == "matrix":
        for s in result:
            lines.append(f"{_promtool_labels(s['metric'])} =>")
            lines.extend(f"{v} @[{_ts(t)}]" for t, v in s["values"])
    elif kind == "scalar":
        t, v = result
        lines.append(f"scalar: {v} @[{_ts(t)}]")
    else:
        t, v = result
        lines.append(v)
    return "\n".join(lines)


def render_table(data: dict) -> str:
    kind, result = data["resultType"], data["result"]
    if kind in ("scalar", "string"):
        t, v = result
        return f"{v}  (at {_ts(t)})"
    if not result:
        return "(no data)"
    width = shutil.get_terminal_size((120, 20)).columns
    if kind == "vector":
        rows = [(_labels_text(s["metric"]), s["value"][1]) for s in result]
        w = min(max(len(r[0]) for r in rows), max(20, width - 24))
        out = [f"{'SERIES':<{w}}  VALUE"]
        out += [f"{name[:w]:<{w}}  {v}" for name, v in rows]
        return "\n".join(out)
    # matrix: one block per series with time and value columns
    out = []
    for s in result:
        out.append(_labels_text(s["metric"]))
        for t, v in s["values"]:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(t)))
            out.append(f"  {stamp}  {v}")
    return "\n".join(out)


def run(args) -> int:
    now = time.time()
    base = args.server.rstrip("/")
    try:
        if args.range:
            start, end, step = args.range
            params = {
                "query": args.expr,
                "start": _time_arg(start, "start", now),
                "end": _time_arg(end, "end", now),
                "step": str(parse_duration_param(step, "step") / 1000),
            }
            path = "/api/v1/query_range"
        else:
            params = {"query": args.expr}
            if args.time:
                params["time"] = _time_arg(args.time, "time", now)
            path = "/api/v1/query"
    except BadParam as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        r = httpx.post(base + path, data=params, timeout=args.timeout)
    except httpx.HTTPError as e:
        print(f"error: cannot reach {base}: {e}", file=sys.stderr)
        return 1
    try:
        body = r.json()
    except ValueError:
        print(f"error: {base} answered {r.status_code}: {r.text[:300]}", file=sys.stderr)
        return 1
    if body.get("status") != "success":
        print(f"error ({body.get('errorType')}): {body.get('error')}", file=sys.stderr)
        return 1
    for w in body.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    data = body["data"]
    if args.format == "json":
        print(json.dumps(data, indent=1))
    elif args.format == "promtool":
        print(render_promtool(data))
    else:
        print(render_table(data))
    return 0
