import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.notify.matchers import (
    Matcher,
    MatcherError,
    Matchers,
    MatchType,
    parse_matcher,
    parse_matchers,
    parse_matchers_classic,
    parse_matchers_utf8,
)


def triples(ms):
    return [(m.name, m.type.op, m.value) for m in ms]


@pytest.mark.parametrize("text,want", [
    ('{foo="bar"}', [("foo", "=", "bar")]),
    ('{foo=~"bar.*"}', [("foo", "=~", "bar.*")]),
    ('{foo!~"bar.*", baz!="quux"}', [("foo", "!~", "bar.*"), ("baz", "!=", "quux")]),
    ('{foo=""}', [("foo", "=", "")]),
    ('{foo="bar,quux", job="job1"}', [("foo", "=", "bar,quux"), ("job", "=", "job1")]),
    ('{foo = "bar", dings != "bums", }', [("foo", "=", "bar"), ("dings", "!=", "bums")]),
    ("foo=bar,dings!=bums", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
    ('{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
     [("quote", "=", "She said: \"Hi, ladies! That's gender-neutral…\"")]),
    ("tricky=~~~", [("tricky", "=~", "~~")]),
    ('trickier==\\\\=\\=\\"', [("trickier", "=", '=\\=\\="')]),
    ('contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
     [("contains_quote", "!=", '"'), ("contains_comma", "!~", "foo,bar")]),
    ("job=", [("job", "=", "")]),
    ('severity="critical"', [("severity", "=", "critical")]),
    ("", []),
    ("{}", []),
])
def test_classic_syntax(text, want):
    assert triples(parse_matchers(text)) == want


@pytest.mark.parametrize("text,err", [
    ('job="value', "unescaped double quote"),
    ('job=value"', "unescaped double quote"),
    ('contains_unescaped_quote = foo"bar', "unescaped double quote"),
    ('{foo=~"invalid[regexp"}', "error parsing regexp"),
    ('"foo="bar""', "bad matcher format"),
    ("a=b,,c=d", "bad matcher format"),
])
def test_classic_errors(text, err):
    with pytest.raises(MatcherError, match=err):
        parse_matchers(text)


def test_utf8_names_fall_back_to_the_new_parser():
    # The classic parser refuses a quoted UTF-8 name; Alertmanager 0.27+ accepts it.
    assert triples(parse_matchers('{"service.name"="api", "ünï"=~"a|b"}')) == [
        ("service.name", "=", "api"), ("ünï", "=~", "a|b")]
    with pytest.raises(MatcherError):
        parse_matchers_classic('{"service.name"="api"}')
    with pytest.raises(MatcherError):
        parse_matchers_utf8('{a="b"')  # no closing brace
    with pytest.raises(MatcherError):
        parse_matchers_utf8('a="b"}')  # no opening brace


def test_regex_is_anchored_without_dotall():
    m = Matcher(MatchType.REGEX, "job", "api|web")
    assert m.matches("api") and not m.matches("xapi") and not m.matches("api2")
    dot = Matcher(MatchType.REGEX, "x", "a.b")
    assert dot.matches("a-b") and not dot.matches("a\nb")
    assert Matcher(MatchType.NOT_REGEX, "x", "").matches("y")


def test_missing_label_matches_as_empty():
    assert Matchers([Matcher("=", "team", "")]).matches({"job": "x"})
    assert not Matchers([Matcher("!=", "team", "")]).matches({"job": "x"})


def test_sort_and_string_as_alertmanager():
    ms = Matchers([Matcher("=~", "b", "x"), Matcher("=", "b", "x"), Matcher("!=", "a", 'q"\n\\')]).sorted()
    assert str(ms) == '{a!="q\\"\\n\\\\",b="x",b=~"x"}'


def test_single_matcher_rejects_braces_and_lists():
    assert triples([parse_matcher("alertname=Foo")]) == [("alertname", "=", "Foo")]
    # The classic single-matcher syntax takes the rest of the line as the value.
    assert triples([parse_matcher("a=b,c=d")]) == [("a", "=", "b,c=d")]
    for bad in ('{a="b"}', "nothing", '"a"="b", "c"="d"'):
        with pytest.raises(MatcherError):
            parse_matcher(bad)


names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
safe_regex = st.from_regex(r"[a-z0-9]{1,5}(\.\*|\|[a-z]{1,4}|\+)?", fullmatch=True)


@st.composite
def matcher(draw):
    t = draw(st.sampled_from(list(MatchType)))
    name = draw(names)
    value = draw(safe_regex) if t in (MatchType.REGEX, MatchType.NOT_REGEX) else draw(values)
    return Matcher(t, name, value)


@given(st.lists(matcher(), min_size=1, max_size=5), st.booleans())
def test_printed_matchers_parse_back(ms, braces):
    text = ",".join(str(m) for m in ms)
    if braces:
        text = "{" + text + "}"
    assert parse_matchers(text) == ms


@given(st.text(max_size=60))
def test_parser_never_crashes(text):
    try:
        out = parse_matchers(text)
    except MatcherError:
        return
    assert all(isinstance(m, Matcher) for m in out)


@given(st.text(alphabet='{}=!~",\\ab \n', max_size=30))
def test_parsers_agree_or_refuse(text):
    # Whenever both parsers accept, the fallback picks the classic result.
    try:
        classic = parse_matchers_classic(text)
    except MatcherError:
        classic = None
    try:
        result = parse_matchers(text)
    except MatcherError:
        result = None
    if classic is not None:
        assert result == classic
