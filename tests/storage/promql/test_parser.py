"""Property tests of the parser glue: any input either parses or raises ParseError
with a sane position; generated valid queries parse with every node's position
pointing at its first token."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.promql import ParseError, ast
from storage.promql.lexer import decode_string, line_column, tokenize, valid_utf8
from storage.promql.parser import parse
from tests.storage.promql.strategies import vector_exprs

# derandomize: the same examples on every run, so that CI cannot flake (raise
# max_examples locally to explore further).
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check_positions(query: str, tree) -> None:
    for node in ast.walk(tree):
        assert 0 <= node.pos < len(query), (query, node)
        rest = query[node.pos :]
        if isinstance(node, ast.VectorSelector):
            assert rest[0] in "{" or rest.startswith(node.name), (query, node)
        elif isinstance(node, ast.Call):
            assert rest.startswith(node.func), (query, node)
        elif isinstance(node, ast.Aggregate):
            assert rest.lower().startswith(node.op), (query, node)
        elif isinstance(node, ast.Paren):
            assert rest[0] == "(", (query, node)
        elif isinstance(node, ast.StringLiteral):
            assert rest[0] in "\"'`", (query, node)
        elif isinstance(node, ast.NumberLiteral):
            assert rest[0] in "0123456789.+-IiNn", (query, node)
        elif isinstance(node, ast.Binary):
            assert node.pos == node.lhs.pos
        elif isinstance(node, (ast.MatrixSelector, ast.Subquery)):
            inner = node.selector if isinstance(node, ast.MatrixSelector) else node.expr
            assert node.pos == inner.pos


@FAST
@given(vector_exprs())
def test_generated_queries_parse_with_positions(query):
    tree = parse(query)
    assert ast.value_type(tree) == ast.VECTOR
    _check_positions(query, tree)


@FAST
@given(st.text(alphabet='abcxyz_:{}[]()"=~!,+-*/%^<>@ 0123456789.\n', max_size=40))
def test_any_input_parses_or_raises_parse_error(text):
    try:
        tree = parse(text)
    except ParseError as e:
        assert e.line >= 1 and e.column >= 1
        assert 0 <= e.position <= len(text)
        assert str(e).startswith(f"{e.line}:{e.column}: parse error: ")
        return
    _check_positions(text, tree)


@FAST
@given(st.text(max_size=30))
def test_arbitrary_unicode_never_crashes(text):
    try:
        parse(text)
    except ParseError:
        pass


@FAST
@given(st.integers(-(10**12), 10**12), st.sampled_from([0, 1, 5, 9]))
def test_at_modifier_times_round_trip(ms, frac):
    seconds = f"{ms / 1000:.3f}"
    tree = parse(f"x @ {seconds}")
    expected = math.floor(abs(float(seconds)) * 1000 + 0.5) * (1 if float(seconds) >= 0 else -1)
    assert tree.at.ms == expected


@FAST
@given(st.text(max_size=20))
def test_string_literals_decode_like_go(s):
    quoted = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    assert decode_string(quoted) == s
    assert valid_utf8(s)


def test_string_escapes_keep_raw_bytes():
    assert decode_string(r'"a\xc5z"') == "a\udcc5z"
    assert not valid_utf8(decode_string(r'"a\xc5z"'))
    assert decode_string(r'"\u00e9\x41\101"') == "éAA"
    assert decode_string("`a\\nb`") == "a\\nb"


def test_tokens_and_line_columns():
    toks = tokenize('rate(x{a="b"}[5m]) # comment\n + 1')
    assert [t.kind for t in toks][:9] == [
        "IDENT",
        "(",
        "IDENT",
        "{",
        "IDENT",
        "=",
        "STRING",
        "}",
        "[",
    ]
    assert line_column("ab\ncd", 4) == (2, 2)
    assert line_column("é + x", 4) == (1, 6)  # columns count UTF-8 bytes, like Go
