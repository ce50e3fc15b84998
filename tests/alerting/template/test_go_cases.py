"""Templates and printf formats whose expected results were recorded from Go."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from alerting.template import StrMap, Template, TemplateError, sprintf

HERE = Path(__file__).parent
_CASES = json.loads((HERE / "go_cases.json").read_text())
_FMT = [json.loads(line) for line in (HERE / "gofmt_cases.jsonl").read_text().split("\n") if line]


def _conv(v):
    if isinstance(v, dict):
        if "$strmap" in v:
            return StrMap(v["$strmap"])
        return {k: _conv(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_conv(x) for x in v]
    return v


def _to_upper(s: str) -> str:
    return s.upper()


def _add(a: int, b: int) -> int:
    return a + b


def _addf(a: float, b: float) -> float:
    return a + b


def _fail() -> str:
    raise RuntimeError("it failed")


def _join(sep: str, *parts: str) -> str:
    return sep.join(parts)


def _anyf(x) -> str:
    return sprintf("<%v>", x)


FUNCS = {"toUpper": _to_upper, "add": _add, "addf": _addf, "fail": _fail, "join": _join, "anyf": _anyf}


@pytest.mark.parametrize("case", _CASES["cases"], ids=lambda c: c["text"][:40])
def test_template_matches_go(case):
    data = _conv(case.get("data", _CASES["data"]))
    t = Template(FUNCS, missingkey=case.get("missingkey", "default"), name=case.get("name", "t"))
    try:
        t.parse(case["text"])
        out, err = t.execute(data), None
    except TemplateError as e:
        out, err = None, str(e)
    assert err == case["expect_err"]
    if err is None:
        assert out == case["expect_out"]


def _fmt_arg(c):
    if c.get("i") is not None:
        return c["i"]
    if c.get("s") is not None:
        return c["s"]
    return struct.unpack("<d", struct.pack("<Q", int(c["bits"])))[0]


def test_sprintf_matches_go_corpus():
    # one test over the ~3000 recorded (format, value) pairs: listing the failures
    # reads better than thousands of parametrized ids
    bad = []
    for c in _FMT:
        got = sprintf(c["f"], _fmt_arg(c))
        if got != c["want"]:
            bad.append((c["f"], _fmt_arg(c), c["want"], got))
    assert not bad, f"{len(bad)} of {len(_FMT)} differ, e.g. {bad[:5]}"
    assert len(_FMT) > 2000
