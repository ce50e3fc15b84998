"""Variable interpolation: Grafana's forms, formats and Prometheus escaping."""

import re

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.grafana.template import (
    VarValue,
    builtin_scope,
    interpolate,
    prometheus_regex_escape,
    referenced,
)

NS = VarValue(("default", "kube-system"), multi=True)
ONE = VarValue(("web-1",))
ALLV = VarValue(("a", "b.c"), is_all=True, include_all=True, multi=True, all_values=("a", "b.c"))
ALL_CUSTOM = VarValue((), is_all=True, include_all=True, all_value=".*", all_values=("a", "b"))


def test_forms():
    scope = {"pod": ONE, "ns": NS}
    assert interpolate('up{pod="$pod"}', scope) == 'up{pod="web-1"}'
    assert interpolate('up{pod="${pod}"}', scope) == 'up{pod="web-1"}'
    assert interpolate('up{pod="[[pod]]"}', scope) == 'up{pod="web-1"}'
    assert interpolate('up{ns=~"$ns"}', scope) == 'up{ns=~"(default|kube-system)"}'
    assert interpolate("$unknown and ${also:csv}", scope) == "$unknown and ${also:csv}"
    assert referenced('a{x="$a", y="${b:csv}", z="[[c]]"}') == {"a", "b", "c"}


def test_all_values():
    assert interpolate('x{a=~"$v"}', {"v": ALLV}) == r'x{a=~"(a|b\\.c)"}'
    assert interpolate('x{a=~"$v"}', {"v": ALL_CUSTOM}) == 'x{a=~".*"}'
    assert interpolate("${v:text}", {"v": ALLV}) == "All"


def test_named_formats():
    s = {"v": NS, "one": VarValue(("a'b",))}
    assert interpolate("${v:csv}", s) == "default,kube-system"
    assert interpolate("${v:pipe}", s) == "default|kube-system"
    assert interpolate("${v:glob}", s) == "{default,kube-system}"
    assert interpolate("${v:json}", s) == '["default", "kube-system"]'
    assert interpolate("${v:doublequote}", s) == '"default","kube-system"'
    assert interpolate("${v:singlequote}", s) == "'default','kube-system'"
    assert interpolate("${one:sqlstring}", s) == "'a''b'"
    assert interpolate("${v:regex}", s) == "(default|kube-system)"
    assert interpolate("${v:queryparam}", s) == "var-v=default&var-v=kube-system"
    assert interpolate("${v:percentencode}", s) == "%7Bdefault%2Ckube-system%7D"
    assert interpolate("${v:raw}", s) == "default,kube-system"
    assert interpolate("${v:lucene}", s) == r'("default" OR "kube\-system")'
    assert interpolate("[[v:csv]]", s) == "default,kube-system"
    assert interpolate("${one:regex}", {"one": VarValue(("a.b",))}) == r"a\.b"


def test_single_value_escaping():
    assert interpolate('{a="$v"}', {"v": VarValue((r"c:\dir",))}) == r'{a="c:\\dir"}'


def test_builtins():
    b = builtin_scope(from_ms=0, to_ms=6 * 3600_000, interval_ms=30_000, rate_interval_ms=60_000)
    assert interpolate("rate(x[$__rate_interval])", b) == "rate(x[1m])"
    assert interpolate("avg_over_time(x[$__interval])", b) == "avg_over_time(x[30s])"
    assert interpolate("x[$__range]", b) == "x[21600s]"
    assert interpolate("$__range_s $__range_ms $__interval_ms", b) == "21600 21600000 30000"
    assert interpolate("${__from:date:seconds}", b) == "0"
    assert interpolate("${__to:date:iso}", b) == "1970-01-01T06:00:00.000Z"


_values = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                           max_size=12), min_size=1, max_size=5, unique=True)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_regex_expansion_matches_exactly_the_selection(values):
    """`=~"$v"` for a multi-value selection must match each selected value and nothing else,
    whatever characters the values hold (after PromQL string unescaping)."""
    out = interpolate("$v", {"v": VarValue(tuple(values), multi=True)})
    # PromQL double-quoted string: \\ → \ ; \' → '
    pattern = re.sub(r"\\(.)", r"\1", out)
    rx = re2.compile(pattern, options=_re2_opts())
    for v in values:
        assert rx.fullmatch(v), (values, out)
    assert not rx.fullmatch("".join(values) + "\x00zz")


def _re2_opts():
    o = re2.Options()
    o.dot_nl = True
    return o


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_interpolate_never_raises_and_keeps_plain_text(text):
    out = interpolate(text, {"v": NS})
    if "$" not in text and "[[" not in text:
        assert out == text


@given(st.text(min_size=1, max_size=20))
def test_regex_escape_is_literal(value):
    pattern = re.sub(r"\\(.)", r"\1", prometheus_regex_escape(value))
    assert re.fullmatch(pattern, value, re.DOTALL)
