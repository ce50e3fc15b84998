"""The numpy fast path of the parser agrees with the regex parser, and the fast
series-text path agrees with the general one (property tests)."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.scrape.exposition import (
    ExpositionError,
    Format,
    _parse_regex,
    parse,
    parse_series,
    series_pairs,
)
from collector.scrape.textsplit import split_canonical
from tests.collector.scrape.test_exposition import (
    families,
    fmt_value,
    text_lines,
)

# Pieces that make both valid and subtly broken lines likely.
_PIECES = st.sampled_from([
    "a", "b_c", "x:y", "9", "{", "}", '"', "=", ",", " ", "  ", "\t", "#", "# HELP a h", "# TYPE a gauge",
    "\\", "\\n", '\\"', "1", "-2.5e3", "+Inf", "NaN", "1_0", ".", "e", "é", "\r", '{a="1"}', '{a="} {"}',
    "123", "1.5", " # {t=\"x\"} 1", '{"q.n"}',
])
_LINES = st.lists(st.lists(_PIECES, min_size=1, max_size=8).map("".join), max_size=8)


def _same(fast, slow) -> bool:
    return (
        fast.keys == slow.keys
        and fast.values.view(np.uint64).tolist() == slow.values.view(np.uint64).tolist()
        and fast.has_timestamp.tolist() == slow.has_timestamp.tolist()
        and fast.timestamps[fast.has_timestamp].tolist() == slow.timestamps[slow.has_timestamp].tolist()
        and dict(fast.metadata) == dict(slow.metadata)
    )


def _check_against_regex(body: bytes, fmt: str) -> None:
    """parse() (fast path when it can) and the regex parser agree: the same
    samples, or, when the regex parser refuses the body, parse() refuses it
    too or hands out a series text that parse_series refuses."""
    try:
        fast = parse(body, fmt=fmt)
    except ExpositionError:
        fast = None
    try:
        raw = body
        if fmt == Format.OPENMETRICS:
            from collector.scrape.exposition import _cut_eof

            raw = _cut_eof(body)
        slow = _parse_regex(raw, fmt == Format.OPENMETRICS, fmt)
    except ExpositionError:
        slow = None
    if slow is not None:
        assert fast is not None and _same(fast, slow), body
    elif fast is not None:
        bad = 0
        for k in fast.keys:
            try:
                parse_series(k)
            except ExpositionError:
                bad += 1
        assert bad, body


@settings(max_examples=400, deadline=None)
@given(_LINES, st.booleans())
@example(['a{x="1 }"} 5', "b 1 2"], True)
@example(['a{x="1"}} 5'], True)
@example(["a 1 2 3"], True)
@example(['a{x="1"} 1 2', "# TYPE a counter"], True)
def test_fast_path_agrees_with_regex(lines, trailing_newline):
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    _check_against_regex(text.encode(), Format.TEXT)
    _check_against_regex((text + ("" if trailing_newline else "\n") + "# EOF\n").encode(), Format.OPENMETRICS)


@settings(max_examples=150, deadline=None)
@given(families)
def test_valid_bodies_take_the_fast_path(fams):
    lines, _ = text_lines(fams, with_help=False)
    body = ("\n".join(lines) + "\n").encode()
    _check_against_regex(body, Format.TEXT)
    controls = np.frombuffer(body, np.uint8)
    if not ((controls < 32) & (controls != 10)).any():
        # nothing unusual (tabs, CR, control characters): the numpy path must take it
        assert split_canonical(body) is not None, body


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20),
       st.sampled_from(["repr", "g", "e", "int"]))
def test_value_parsing_is_bitwise_float(vals, style):
    def text(v):
        if math.isnan(v) or math.isinf(v):
            return fmt_value(v)
        if style == "g":
            return f"{v:.17g}"
        if style == "e":
            return f"{v:e}"
        if style == "int" and v.is_integer() and abs(v) < 1e18:
            return str(int(v))
        return repr(v)

    strs = [text(v) for v in vals]
    body = "".join(f'm{{i="{i}"}} {s}\n' for i, s in enumerate(strs)).encode()
    split = split_canonical(body)
    assert split is not None
    want = [struct.pack("<d", float(s)) for s in strs]
    assert [struct.pack("<d", x) for x in split.values.tolist()] == want


_KEY_PIECES = st.sampled_from(['a', 'b_1', ':', '{', '}', '"', '=', ',', ' ', '\\', '\\"', 'é', '__name__', 'x="1"', '""', '9'])


@settings(max_examples=500, deadline=None)
@given(st.lists(_KEY_PIECES, max_size=10).map("".join))
@example('a{x="1",x="2"}')
@example('a{__name__="b"}')
@example('a{x="",y="1"}')
@example('a{x="1",}')
@example('a{x="1"y="2"}')
def test_series_pairs_agrees_with_parse_series(key):
    try:
        want = parse_series(key).to_dict()
    except ExpositionError:
        want = None
    try:
        got = series_pairs(key)
    except ExpositionError:
        got = None
    assert got == want, key


def test_utf8_bodies_and_bad_utf8():
    body = 'a{x="héllo wörld"} 1 5\n# HELP a Grüße\nb 2\n'.encode()
    p = parse(body)
    assert p.keys == ['a{x="héllo wörld"}', "b"]
    assert p.timestamps.tolist()[0] == 5 and p.metadata["a"].help == "Grüße"
    try:
        parse(b'a{x="\xff"} 1\n')
    except ExpositionError as e:
        assert "UTF-8" in str(e)
    else:
        raise AssertionError("invalid UTF-8 must be refused")


def test_regex_path_in_pieces_matches_the_fast_path():
    """A body bigger than the regex parser's pieces (tabs send it there) parses
    like the same body with spaces does on the numpy path."""
    lines = [f'# HELP m{i % 50} help {i % 50}\n# TYPE m{i % 50} gauge\n' if i % 997 == 0 else "" for i in range(60_000)]
    spaced = "".join(f'{pre}m{i % 50}{{i="{i}",x="a b"}} {i * 0.5} {1_700_000_000_000 + i}\n'
                     for i, pre in enumerate(lines))
    tabbed = spaced.replace("} ", "}\t").encode()
    assert len(tabbed) > 4 * (1 << 18) and split_canonical(tabbed) is None
    fast, slow = parse(spaced.encode()), parse(tabbed)
    assert _same(fast, slow) and len(slow) == 60_000
