"""The receiver's promise to the storage (``SampleBatch.labels_checked``): when it
is set, every label set of the batch is valid under those limits and interned."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write import decode_v1
from storage.labels import InvalidLabels, LabelLimits
from tests.collector.receivers.test_remote_write_columnar import (
    T0,
    decoded,
    one_series,
    reference,
    request,
)

LIMITS = LabelLimits(max_labels=4, max_name_length=8, max_value_length=150)


def _kept(batch) -> bool:
    for labels in batch.series:
        labels.validate(batch.labels_checked)  # raises when the promise is broken
        if not all(sys.intern(s) is s for s in labels):
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(one_series, max_size=8), st.booleans(), st.booleans())
def test_a_checked_batch_holds_only_valid_interned_label_sets(series, sort_labels, utf8):
    if sort_labels:
        series = [(sorted(dict(p).items()), s, e) for p, s, e in series]
    limits = LIMITS._replace(utf8_names=utf8)
    cache = LabelCache(100)
    for _ in range(2):  # the second time through the label cache
        d = decode_v1(request(series), cache, limits)
        if d.batch.labels_checked is not None:
            assert d.batch.labels_checked == limits
            assert _kept(d.batch)


def test_real_senders_requests_are_checked_and_the_protobuf_path_is_not():
    plain = request([([("__name__", "up"), ("job", "a")], [(T0, 1.0)], 0)])
    assert decode_v1(plain, LabelCache(10), LIMITS).batch.labels_checked == LIMITS
    with_exemplars = request([([("__name__", "up"), ("job", "a")], [(T0, 1.0)], 1)])
    assert decode_v1(with_exemplars, LabelCache(10), LIMITS).batch.labels_checked is None


def test_invalid_series_are_left_out_of_a_checked_batch():
    data = request([([("__name__", "up"), ("toolongname", "x")], [(T0, 1.0)], 0),
                    ([("__name__", "up"), ("job", "a")], [(T0, 2.0)], 0)])
    d = decode_v1(data, LabelCache(10), LIMITS)
    assert d.batch.labels_checked == LIMITS
    assert [tuple(s) for s in d.batch.series] == [("__name__", "up", "job", "a")]
    assert sum(d.dropped.values()) == 1
    assert not isinstance(d.batch.series[0], InvalidLabels)


limits_st = st.builds(
    LabelLimits,
    max_labels=st.integers(0, 4),
    max_name_length=st.sampled_from([0, 3, 8]),
    max_value_length=st.sampled_from([0, 2, 150]),
    utf8_names=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(one_series, max_size=8), st.booleans(), limits_st)
def test_label_checks_made_once_per_request_agree_with_protobuf_under_any_limits(series, sort_labels, limits):
    if sort_labels:  # the vectorized path's usual input
        series = [(sorted(dict(p).items()), s, e) for p, s, e in series]
    data = request(series)
    expected = reference(data, limits)
    cache = LabelCache(100)
    for _ in range(2):
        assert decoded(decode_v1(data, cache, limits)) == expected
