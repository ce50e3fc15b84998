"""Label-set validation: the whole-set fast checks agree with the label-by-label rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.labels import InvalidLabels, LabelLimits, Labels

names = st.sampled_from(["", "__name__", "a", "b", "job", "Zone", "bad name", "\ufffd"])
strings = st.one_of(names, st.text(max_size=8))
limits = st.builds(
    LabelLimits,
    max_labels=st.sampled_from([0, 1, 3]),
    max_name_length=st.sampled_from([0, 3, 8]),
    max_value_length=st.sampled_from([0, 3, 8]),
    utf8_names=st.booleans(),
)


def outcome(f):
    try:
        f()
    except InvalidLabels as e:
        return str(e)
    return None


@settings(max_examples=500, deadline=None)
@given(st.lists(strings, max_size=9), limits, st.booleans())
def test_validate_says_what_the_label_by_label_rules_say(flat, lim, sort):
    if sort:  # mostly well-formed sets, so that the fast path is exercised
        flat = [x for pair in sorted(zip(flat[0::2], flat[1::2])) for x in pair]
    labels = Labels.from_sorted_flat(flat)
    expected = outcome(lambda: labels._validate_each(lim))
    assert outcome(lambda: labels.validate(lim)) == expected
    if labels._plainly_valid(lim):
        assert expected is None


@pytest.mark.parametrize(
    "pairs, reason",
    [
        ([], "empty label set"),
        ([("job", "x")], "no metric name"),
        ([("", "x"), ("__name__", "m")], "empty label name"),
        ([("__name__", "m"), ("a", "\ufffd")], "not valid UTF-8"),
    ],
)
def test_invalid_sets_keep_their_messages(pairs, reason):
    with pytest.raises(InvalidLabels, match=reason):
        Labels.from_sorted_flat([x for p in pairs for x in p]).validate()


def test_unsorted_or_repeated_names_are_invalid():
    for flat in (["b", "1", "__name__", "m"], ["__name__", "m", "a", "1", "a", "2"]):
        with pytest.raises(InvalidLabels, match="duplicate or unsorted"):
            Labels.from_sorted_flat(flat).validate()
    Labels.from_sorted_flat(["__name__", "m", "a", "1"]).validate()


def test_a_trailing_newline_is_not_a_legacy_name():
    # Python's `$` also matches before a final newline; names must not.
    from storage.labels import is_legacy_label_name, is_legacy_metric_name

    assert not is_legacy_label_name("A\n") and not is_legacy_metric_name("up\n")
    assert str(Labels.from_dict({"__name__": "up", "A\n": "x"})) == 'up{"A\\n"="x"}'
