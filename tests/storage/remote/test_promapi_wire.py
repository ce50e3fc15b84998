"""Request text and response decoding of the Prometheus-API client, property-tested.

Rendered selectors are read back by both PromQL parsers Spyglass knows (the Rust
``promql-parser`` and Spyglass's own front end, which follows Prometheus's Go
lexer); responses are produced by the Spyglass server's own JSON encoder.
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import promql_parser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from collector.api import jsonfmt
from collector.api.params import parse_time
from collector.api.prometheus import _unescape_utf8_name
from storage.labels import Labels, Matcher, is_legacy_label_name
from storage.promql import Engine
from storage.promql import ast as pq_ast
from storage.promql.value import Series
from storage.remote.promapi_wire import (
    _STRICT_TEXT_PARSE,
    WireError,
    decode_matrix,
    decode_scalar,
    decode_series,
    decode_strings,
    decode_vector,
    escape_label_name_path,
    format_time,
    loads_matrix,
    quote_string,
    render_selector,
)

# Any valid UTF-8 text: everything but lone surrogates.
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
legacy_name = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
label_name = st.one_of(legacy_name, text.filter(bool))
# Regexes valid in RE2 (and Go): built from escaped literals, so any text works.
regex = st.one_of(
    st.sampled_from([".*", ".+", "", "a|b", "[0-9]+", "(?i)abc", "x.*y"]),
    text.map(lambda s: "".join("\\" + c if c in r"\.+*?()|[]{}^$" else c for c in s)),
)


@st.composite
def matchers(draw):
    out = []
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        value = draw(regex if op in ("=~", "!~") else text)
        out.append(Matcher(op, draw(label_name), value))
    return out


_ENGINE = Engine(registry=CollectorRegistry())


def _spyglass_matchers(selector: str) -> set[tuple[str, str, str]]:
    tree = _ENGINE.parse(selector)
    assert isinstance(tree, pq_ast.VectorSelector)
    return {(m.op.value, m.name, m.value) for m in tree.matchers}


_RUST_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _rust_matchers(selector: str) -> set[tuple[str, str, str]]:
    sel = promql_parser.parse(selector)
    assert isinstance(sel, promql_parser.VectorSelector)
    out = {(_RUST_OPS[str(m.op)], m.name, m.value) for m in sel.matchers.matchers}
    if sel.name:
        out.add(("=", "__name__", sel.name))
    return out


@settings(max_examples=300, deadline=None)
@given(text)
def test_quoted_string_reads_back_exactly(s):
    lit = quote_string(s)
    assert "\n" not in lit and "\ufffd" not in lit
    sel = '{x="1", a=' + lit + "}"
    assert _spyglass_matchers(sel) == {("=", "x", "1"), ("=", "a", s)}
    assert _rust_matchers(sel) == {("=", "x", "1"), ("=", "a", s)}


def test_quote_string_refuses_what_utf8_cannot_carry():
    with pytest.raises(ValueError, match="not valid UTF-8"):
        quote_string("a\ud800b")


@settings(max_examples=300, deadline=None)
@given(matchers())
def test_rendered_selector_selects_what_the_matchers_select(ms):
    sel = render_selector(ms)
    want = {(m.op.value, m.name, m.value) for m in ms}
    if all(m.matches_empty() for m in ms):
        # Prometheus refuses such selectors; every series has a name
        want.add(("=~", "__name__", ".+"))
    assert _spyglass_matchers(sel) == want
    assert _rust_matchers(sel) == want


def test_selector_keeps_legacy_names_bare_and_quotes_utf8_names():
    sel = render_selector([Matcher("=", "__name__", "up"), Matcher("=~", "job", "a.*"),
                           Matcher("!=", "k8s.pod", 'x"y')])
    assert sel == '{__name__="up", job=~"a.*", "k8s.pod"!="x\\"y"}'
    assert render_selector([]) == '{__name__=~".+"}'
    assert render_selector([Matcher("!=", "job", "a")]) == '{job!="a", __name__=~".+"}'


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**13), 10**13))
def test_time_parameter_is_exact_milliseconds(ms):
    s = format_time(ms)
    assert parse_time(s, "time") == ms
    # how Go's strconv.ParseFloat + Prometheus's rounding read it
    f = float(s)
    sec = math.trunc(f)
    assert sec * 1000 + round((f - sec) * 1000) == ms


@settings(max_examples=300, deadline=None)
@given(label_name)
def test_label_name_path_escaping_is_undone_by_the_server(name):
    esc = escape_label_name_path(name)
    assert all(c.isascii() and (c.isalnum() or c in "_:") for c in esc), esc
    if is_legacy_label_name(name) and not name.startswith("U__"):
        assert esc == name
    else:
        assert esc.startswith("U__")
        assert _unescape_utf8_name(esc) == name


def test_label_name_path_escaping_examples():
    assert escape_label_name_path("job") == "job"
    assert escape_label_name_path("my.label") == "U__my_2e_label"
    assert escape_label_name_path("a_b.c") == "U__a__b_2e_c"
    assert escape_label_name_path("0x") == "U___30_x"


# --- responses ----------------------------------------------------------------------------

values = st.floats(allow_nan=True, allow_infinity=True)
series = st.lists(
    st.tuples(
        st.dictionaries(legacy_name.filter(lambda n: n != "__name__"), text.filter(bool), max_size=3),
        st.lists(st.tuples(st.integers(-(10**12), 10**13), values), max_size=8, unique_by=lambda p: p[0]),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(series)
def test_matrix_decodes_to_the_columns_the_server_encoded(items):
    matrix = []
    for lbls, pts in items:
        pts = sorted(pts)
        matrix.append(Series(Labels.from_dict(lbls), np.array([p[0] for p in pts], np.int64),
                             np.array([p[1] for p in pts], np.float64)))
    body = orjson.loads(jsonfmt.matrix_json(matrix))
    labels, offsets, ts, vs, ignored = decode_matrix(body)
    assert ignored == 0
    assert labels == [s.labels for s in matrix]
    assert offsets.tolist() == np.cumsum([0] + [len(s.timestamps) for s in matrix]).tolist()
    want_ts = np.concatenate([s.timestamps for s in matrix] or [np.empty(0, np.int64)])
    want_vs = np.concatenate([s.values for s in matrix] or [np.empty(0)])
    assert ts.dtype == np.int64 and np.array_equal(ts, want_ts)
    assert np.array_equal(vs, want_vs, equal_nan=True)


def _answer(matrix_json: str) -> bytes:
    return ('{"status":"success","data":{"resultType":"matrix","result":' + matrix_json + "}}").encode()


def _generic(body: bytes):
    return decode_matrix(orjson.loads(body)["data"]["result"])


def _same(a, b) -> bool:
    return (a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
            and np.array_equal(a[3], b[3], equal_nan=True) and a[4] == b[4])


@settings(max_examples=200, deadline=None)
@given(series)
def test_lifted_matrix_reads_as_the_generic_path(items):
    matrix = [Series(Labels.from_dict(lbls), np.array(sorted(p[0] for p in pts), np.int64),
                     np.array([v for _, v in sorted(pts)], np.float64)) for lbls, pts in items]
    body = _answer(jsonfmt.matrix_json(matrix))
    doc, lifted = loads_matrix(body)
    # the compact form Prometheus and Spyglass write takes the fast path (where numpy allows)
    assert (lifted is not None) == _STRICT_TEXT_PARSE
    assert _same(decode_matrix(doc["data"]["result"], lifted), _generic(body))
    # other formatting takes the generic path, with the same answer
    pretty = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    doc, lifted = loads_matrix(pretty)
    assert lifted is None and _same(decode_matrix(doc["data"]["result"]), _generic(body))


_BODY = _answer('[{"metric":{"__name__":"a","x":"[\\"values\\":[1,\\"2\\"]]"},"values":[[1.5,"1"],[2,"NaN"]]},'
                '{"metric":{"values":"y"},"histograms":[[3,{"count":"1"}]]},'
                '{"metric":{},"values":[]},{"metric":{"b":"]]"},"values":[[4,"+Inf"]]}]')


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_BODY) - 1), st.sampled_from(
    [b"", b"[", b"]", b",", b'"', b"1", b"x", b" ", b"NaN", b'"values":[', b"]]", b"\\"])), max_size=3))
def test_lifted_matrix_never_disagrees_with_a_json_parser(edits):
    body = _BODY
    for pos, repl in edits:
        body = body[:pos] + repl + body[pos + 1:]
    try:
        want = _generic(body)
    except (orjson.JSONDecodeError, WireError, KeyError, TypeError):
        want = None
    try:
        doc, lifted = loads_matrix(body)
        got = decode_matrix(doc["data"]["result"], lifted)
    except (orjson.JSONDecodeError, WireError, KeyError, TypeError):
        got = None
    if want is not None:
        assert got is not None and _same(got, want)
    else:
        # lenient only on text that is not JSON (a stray separator inside a sample array)
        assert got is None or not _is_json(body)



@pytest.mark.parametrize("values", [
    '[[4,",Inf"]]',  # a comma inside the value text
    '[[1,"[2 3 4]"],[5,"6"]]',  # brackets and spaces inside the value text
    '[[1,""],[2,"3 4"]]',  # an empty text made up for by a two-number one
])
def test_separators_inside_value_texts_are_not_structure(values):
    body = _answer('[{"metric":{},"values":' + values + "}]")
    assert _is_json(body)
    doc, lifted = loads_matrix(body)
    assert lifted is None
    with pytest.raises(WireError):
        decode_matrix(doc["data"]["result"], lifted)


def _is_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
        return True
    except orjson.JSONDecodeError:
        return False


def test_lifting_examples():
    doc, lifted = loads_matrix(_BODY)
    assert (lifted is not None and lifted.counts == [2, 0, 1]) or not _STRICT_TEXT_PARSE
    labels, offsets, ts, vs, ignored = decode_matrix(doc["data"]["result"], lifted)
    assert labels[0].get("x") == '["values":[1,"2"]]' and labels[3].get("b") == "]]"
    assert offsets.tolist() == [0, 2, 2, 2, 3] and ts.tolist() == [1500, 2000, 4000]
    assert vs[0] == 1 and math.isnan(vs[1]) and vs[2] == math.inf and ignored == 1
    assert loads_matrix(b'{"status":"error","error":"x"}') == ({"status": "error", "error": "x"}, None)
    with pytest.raises(orjson.JSONDecodeError):
        loads_matrix(b"<html>")


def test_vector_scalar_and_lists_decode():
    vec = [{"metric": {"__name__": "up", "job": "a"}, "value": [1700000000.5, "1"]},
           {"metric": {}, "value": [1700000000.5, "-Inf"]},
           {"metric": {"x": "y"}, "histogram": [1700000000.5, {"count": "1"}]}]
    samples, ignored = decode_vector(vec)
    assert samples == [(Labels.parse('up{job="a"}'), 1700000000500, 1.0),
                       (Labels.EMPTY, 1700000000500, -math.inf)]
    assert ignored == 1
    assert decode_scalar([12.001, "NaN"])[0] == 12001 and math.isnan(decode_scalar([12.001, "NaN"])[1])
    assert decode_series([{"__name__": "a", "b": "c"}]) == [Labels.parse('a{b="c"}')]
    assert decode_strings(["a", "b"]) == ["a", "b"]
    m = [{"metric": {"a": "b"}, "values": [[1, "2"]], "histograms": [[2, {"count": "3"}]]}]
    assert decode_matrix(m)[4] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_malformed_results_raise_wire_errors_only(doc):
    for decode in (decode_matrix, decode_vector, decode_scalar, decode_series, decode_strings):
        try:
            decode(doc)
        except WireError:
            pass


@pytest.mark.parametrize("doc", [
    [{"metric": {"a": "b"}, "values": [[1, "2", 3]]}],
    [{"metric": {"a": "b"}, "values": [[1]]}],
    [{"metric": {"a": "b"}, "values": ["12"]}],
    [{"metric": {"a": "b"}, "values": [[1, "x"]]}],
    [{"metric": {"a": "b"}, "values": [["NaN", "1"]]}],
    [{"metric": {"a": 1}, "values": []}],
    [{"metric": ["a"], "values": []}],
    {"metric": {}},
])
def test_bad_matrices_are_refused(doc):
    with pytest.raises(WireError):
        decode_matrix(doc)
