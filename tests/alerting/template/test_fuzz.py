"""Property tests: any text, however broken, either renders or fails with TemplateError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.template import Template, TemplateError, sprint, sprintf

FRAGMENTS = [
    "{{", "}}", "{{- ", " -}}", "{{/*", "*/}}", ".", ".a", ".b.c", ".l", "$", "$x", "$y", " := ", " = ", " | ",
    "(", ")", "if ", "else ", "end", "range ", "with ", "define ", "template ", "block ", "break", "continue",
    '"s"', "`raw`", "'c'", "'\\n'", "1", "-2.5e3", "0x1F", "1_0", "nil", "true", "printf ", "len ", "index ",
    "slice ", "eq ", "lt ", "and ", "or ", "not ", "print ", "html ", "js ", "urlquery ", "call ", "upper ",
    " ", "\n", "text", ",", '"%d %s %v %.2f %q %x"', '"x"',
]

DATA = {"a": 1, "b": {"c": [1, "two", 3.0, None]}, "l": [1, 2, 3], "s": "str", "m": {"k": {"k": 1}}}


def _upper(s: str) -> str:
    return s.upper()


def _check(text: str) -> None:
    t = Template({"upper": _upper})
    try:
        t.parse(text)
        out = t.execute(DATA)
    except TemplateError as e:
        assert str(e).startswith("template: ")
        return
    assert isinstance(out, str)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_fragment_soup_never_crashes(parts):
    _check("".join(parts))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes(text):
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}-/*.$:=|()\"`'ab0 \n%,")), max_size=60))
def test_delimiter_heavy_text_never_crashes(text):
    _check(text)


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.complex_numbers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("%#0+- .*[]123vdsqxXfeEgGtTcbUoO!w")), max_size=12), st.lists(VALUES, max_size=3))
def test_sprintf_never_raises(fmt, args):
    assert isinstance(sprintf(fmt, *args), str)
    assert isinstance(sprint(*args), str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_text_without_actions_is_copied(text):
    if "{{" in text:
        return
    assert Template().execute_string(text) == text
