"""Property tests for the UI's small parsers: silence matchers, PromQL completion,
URL state and dashboard JSON fed random structure."""


from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.client import SilenceMatcher
from dashboards.grafana import DashboardError, parse_dashboard
from dashboards.promql_complete import complete
from dashboards.silences import MatcherError, format_matchers, parse_matchers
from dashboards.urlstate import ViewState, parse_query

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=15)
matchers = st.builds(SilenceMatcher, names, values, st.just(False), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(matchers, min_size=1, max_size=4))
def test_matchers_round_trip(ms):
    ms = tuple(ms)
    try:
        parsed = parse_matchers(format_matchers(ms))
    except MatcherError as e:
        assert "every alert" in str(e)  # only refused when they would silence everything
        return
    assert parsed == ms


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_matcher_parser_fails_cleanly(text):
    try:
        parse_matchers(text)
    except MatcherError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='abcxyz_{}()[]"=~!, by0123', max_size=40), st.integers(0, 45))
def test_completion_never_fails(text, cursor):
    c = complete(text, cursor, metrics=lambda: ["abc_total", "xyz"], labels=lambda m: ["a", "b"],
                 values=lambda l, m: ["x", "y"])
    assert 0 <= c.start <= c.end <= len(text)


@given(st.dictionaries(names, st.lists(values, min_size=1, max_size=3), max_size=4),
       st.sampled_from(["now-6h", "now-1d/d", "1700000000000"]), st.sampled_from(["", "30s"]))
def test_url_state_round_trip(variables, frm, refresh):
    s = ViewState(frm, "now", refresh, {k: tuple(v) for k, v in variables.items()})
    back = ViewState.from_query(parse_query(s.to_search()), "x", "y")
    assert back == s


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["title", "panels", "type", "gridPos", "targets", "expr", "fieldConfig",
                         "defaults", "unit", "thresholds", "steps", "value", "templating", "list",
                         "name", "options", "overrides", "matcher", "id", "properties", "mappings",
                         "transformations", "legend", "calcs", "x", "w", "h", "refId", "query"]),
        inner, max_size=5),
    max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_dashboard_parser_accepts_or_names_the_fault(doc):
    """Any JSON either imports or raises DashboardError — never another exception."""
    try:
        parse_dashboard(doc)
    except DashboardError as e:
        assert str(e)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["type", "id", "title", "gridPos", "targets",
                                                 "fieldConfig", "options", "transformations",
                                                 "panels", "repeat", "collapsed", "links"]),
                                json_values, max_size=6), max_size=4),
       st.lists(json_values, max_size=3))
def test_random_panels_and_variables(panels, variables):
    doc = {"title": "t", "panels": panels, "templating": {"list": variables}}
    try:
        d = parse_dashboard(doc)
    except DashboardError as e:
        assert e.path.startswith(("panels[", "templating.list")), e.path
    else:
        assert len(d.panels) == len(panels)
