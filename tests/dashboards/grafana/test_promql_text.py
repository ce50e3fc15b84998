from hypothesis import given
from hypothesis import strategies as st

from dashboards.grafana.promql_text import outside_quotes


def test_literals_and_their_escapes_are_skipped():
    text = r'sum(up{job="a,\"b}"}, `x,y`) by (l)'
    kept = "".join(c for _, c in outside_quotes(text))
    assert kept == "sum(up{job=}, ) by (l)"
    assert all(text[i] == c for i, c in outside_quotes(text))


def test_unterminated_literal_hides_the_rest():
    assert [i for i, _ in outside_quotes("ab'c,d")] == [0, 1]


@given(st.text(alphabet=st.characters(blacklist_characters="\"'`\\")))
def test_text_without_quotes_is_kept_whole(text):
    assert list(outside_quotes(text)) == list(enumerate(text))


@given(st.text(), st.text(alphabet=st.characters(blacklist_characters="\"\\")))
def test_a_double_quoted_literal_contributes_nothing(before, inside):
    plain = "".join(c for c in before if c not in "\"'`\\")
    text = plain + '"' + inside + '"' + plain
    kept = "".join(c for _, c in outside_quotes(text))
    assert kept == plain + plain
