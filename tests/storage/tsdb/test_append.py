"""Append rules: rejections with reasons, idempotent re-sends, the out-of-order
window, limits, and a property test against a sample-by-sample model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import (
    STALE_NAN,
    STALE_NAN_BITS,
    MetricMetadata,
    MetricType,
    RejectReason,
    SampleBatch,
)
from storage.labels import LabelLimits, Labels, Matcher
from storage.tsdb.options import HOUR_MS, MINUTE_MS

from .conftest import T0, batch, metric_value

UP = 'up{job="a"}'
ALL = [Matcher("=~", "__name__", ".+")]


def samples(db, mint=-(2**62), maxt=2**62):
    ss = db.querier(mint, maxt).select(ALL)
    return {
        str(lbl): list(zip(*(a.tolist() for a in ss.series(i)))) for i, lbl in enumerate(ss.labels)
    }


def test_in_order_appends_round_trip(open_db):
    db, reg = open_db()
    r = db.append(batch((UP, T0, 1.0), (UP, T0 + 15_000, 2.0), ('up{job="b"}', T0, 3.0)))
    assert r.accepted == 3 and r.rejected == {}
    assert samples(db) == {'up{job="a"}': [(T0, 1.0), (T0 + 15_000, 2.0)], 'up{job="b"}': [(T0, 3.0)]}
    assert metric_value(reg, "spyglass_tsdb_head_samples_appended_total") == 3
    assert metric_value(reg, "spyglass_tsdb_head_series") == 2


def test_out_of_order_is_rejected_without_window(open_db):
    db, reg = open_db()
    db.append(batch((UP, T0, 1.0)))
    r = db.append(batch((UP, T0 - 1, 2.0)))
    assert r.accepted == 0 and r.rejected == {RejectReason.OUT_OF_ORDER: 1}
    assert "out of order" in r.errors[0] and 'up{job="a"}' in r.errors[0]
    assert metric_value(reg, "spyglass_tsdb_samples_rejected_total", {"reason": "out_of_order"}) == 1


def test_same_timestamp_same_value_is_idempotent(open_db):
    db, _ = open_db()
    db.append(batch((UP, T0, 1.5)))
    r = db.append(batch((UP, T0, 1.5)))
    assert r.accepted == 1 and r.rejected == {}
    r = db.append(batch((UP, T0, 2.5)))
    assert r.accepted == 0 and r.rejected == {RejectReason.DUPLICATE: 1}
    assert samples(db) == {UP: [(T0, 1.5)]}


def test_nan_resend_is_idempotent_bitwise(open_db):
    db, _ = open_db()
    db.append(batch((UP, T0, float("nan"))))
    assert db.append(batch((UP, T0, float("nan")))).accepted == 1
    # a stale marker is a different NaN: a duplicate, not a re-send
    assert db.append(batch((UP, T0, STALE_NAN))).rejected == {RejectReason.DUPLICATE: 1}


def test_stale_markers_are_stored_bit_exact(open_db):
    db, _ = open_db()
    db.append(batch((UP, T0, 1.0), (UP, T0 + 1, STALE_NAN), (UP, T0 + 2, float("nan"))))
    ss = db.querier(T0, T0 + 10).select(ALL)
    assert ss.values.view(np.uint64)[1] == STALE_NAN_BITS
    assert math.isnan(ss.values[2]) and ss.values.view(np.uint64)[2] != STALE_NAN_BITS
    db.flush_head()
    ss = db.querier(T0, T0 + 10).select(ALL)
    assert ss.values.view(np.uint64)[1] == STALE_NAN_BITS


def test_out_of_bounds_behind_the_head(open_db):
    db, _ = open_db()
    db.append(batch((UP, T0, 1.0)))
    # a new series, but more than half a block behind the head's newest sample
    r = db.append(batch(('up{job="new"}', T0 - 2 * HOUR_MS, 1.0)))
    assert r.rejected == {RejectReason.OUT_OF_BOUNDS: 1}


def test_out_of_bounds_below_persisted_blocks(open_db):
    db, _ = open_db()
    db.append(batch((UP, T0, 1.0)))
    db.flush_head()
    r = db.append(batch(('up{job="new"}', T0, 1.0)))
    assert r.rejected == {RejectReason.OUT_OF_BOUNDS: 1}


def test_too_far_in_future(open_db, clock):
    db, _ = open_db(max_future_skew_ms=MINUTE_MS)
    r = db.append(batch((UP, clock.ms + 2 * MINUTE_MS, 1.0), (UP, clock.ms + 30_000, 1.0)))
    assert r.accepted == 1 and r.rejected == {RejectReason.TOO_FAR_IN_FUTURE: 1}


def test_out_of_order_window(open_db):
    db, reg = open_db(out_of_order_window_ms=10 * MINUTE_MS)
    db.append(batch((UP, T0, 1.0)))
    r = db.append(batch((UP, T0 - 5 * MINUTE_MS, 2.0), (UP, T0 - 11 * MINUTE_MS, 3.0)))
    assert r.accepted == 1 and r.rejected == {RejectReason.TOO_OLD: 1}
    # the OOO sample is stored; re-sending it is idempotent, changing it is a duplicate
    assert db.append(batch((UP, T0 - 5 * MINUTE_MS, 2.0))).accepted == 1
    assert db.append(batch((UP, T0 - 5 * MINUTE_MS, 9.0))).rejected == {RejectReason.DUPLICATE: 1}
    assert samples(db) == {UP: [(T0 - 5 * MINUTE_MS, 2.0), (T0, 1.0)]}
    assert metric_value(reg, "spyglass_tsdb_out_of_order_samples_appended_total") == 1


def test_out_of_order_duplicate_check_sees_blocks(open_db, clock):
    db, _ = open_db(out_of_order_window_ms=3 * HOUR_MS)
    clock.ms = T0 + 2 * HOUR_MS
    db.append(batch((UP, T0, 1.0), ('up{job="b"}', T0, 1.0)))
    db.flush_head()
    assert db.head.num_series == 0  # everything moved to the block
    # series that come back to the head after their data moved to blocks
    assert db.append(batch((UP, T0, 1.0))).accepted == 1  # re-send of a persisted sample
    assert db.append(batch(('up{job="b"}', T0, 2.0))).rejected == {RejectReason.DUPLICATE: 1}
    db.append(batch((UP, T0 + HOUR_MS, 5.0)))
    assert db.append(batch((UP, T0, 2.0))).rejected == {RejectReason.DUPLICATE: 1}
    r = db.append(batch((UP, T0 - 1000, 7.0)))  # older than the block's end: stored as OOO
    assert r.accepted == 1
    assert samples(db) == {
        UP: [(T0 - 1000, 7.0), (T0, 1.0), (T0 + HOUR_MS, 5.0)],
        'up{job="b"}': [(T0, 1.0)],
    }


def test_unsorted_batch_is_judged_sample_by_sample(open_db):
    db, _ = open_db()
    r = db.append(batch((UP, T0 + 10, 1.0), (UP, T0 + 5, 2.0), (UP, T0 + 20, 3.0), (UP, T0 + 20, 3.0)))
    assert r.accepted == 3 and r.rejected == {RejectReason.OUT_OF_ORDER: 1}
    assert samples(db) == {UP: [(T0 + 10, 1.0), (T0 + 20, 3.0)]}


def test_invalid_labels_reject_that_series_only(open_db):
    db, reg = open_db(label_limits=LabelLimits(max_labels=3, max_value_length=10))
    good = Labels.parse('up{job="a"}')
    too_many = Labels.from_dict({"__name__": "up", "a": "1", "b": "2", "c": "3"})
    too_long = Labels.from_dict({"__name__": "up", "job": "x" * 11})
    no_name = Labels.from_dict({"job": "x"})
    b = SampleBatch([good, too_many, too_long, no_name], np.array([0, 1, 1, 2, 3]), np.full(5, T0), np.ones(5))
    r = db.append(b)
    assert r.accepted == 1
    assert r.rejected == {RejectReason.INVALID_LABELS: 4}
    text = "\n".join(r.errors)
    assert "more than the limit of 3" in text and "limit of 10" in text and "no metric name" in text
    assert metric_value(reg, "spyglass_tsdb_samples_rejected_total", {"reason": "invalid_labels"}) == 4
    assert list(samples(db)) == ['up{job="a"}']


def test_empty_label_values_mean_no_label(open_db):
    db, _ = open_db()
    raw = Labels.from_sorted_flat(("__name__", "up", "env", "", "job", "a"))
    db.append(SampleBatch([raw], np.array([0]), np.array([T0]), np.array([1.0])))
    db.append(batch(('up{job="a"}', T0 + 1, 2.0)))
    assert db.head.num_series == 1
    ss = db.querier(0, 2**62).select([Matcher("=", "env", "")])
    assert [str(x) for x in ss.labels] == ['up{job="a"}'] and ss.num_samples == 2


def test_series_limit(open_db):
    db, _ = open_db(max_series=2)
    r = db.append(batch(('a{x="1"}', T0, 1), ('a{x="2"}', T0, 1), ('a{x="3"}', T0, 1)))
    assert r.accepted == 2 and r.rejected == {RejectReason.SERIES_LIMIT: 1}
    assert "limit of 2 series" in r.errors[0] and 'a{x="3"}' in r.errors[0]
    # existing series keep working
    assert db.append(batch(('a{x="1"}', T0 + 1, 2))).accepted == 1


def test_rejected_series_do_not_count_against_limits(open_db):
    db, _ = open_db(max_series=1)
    db.append(batch(('a{x="1"}', T0, 1)))
    db.append(batch(('a{x="1"}', T0 - 10 * HOUR_MS, 1)))  # rejected sample, existing series
    assert db.head.num_series == 1


def test_metadata_is_kept_and_persisted(open_db, tmp_path):
    db, _ = open_db()
    meta = {"up": MetricMetadata(MetricType.GAUGE, "1 if up", "")}
    db.append(batch((UP, T0, 1.0), metadata=meta))
    db.append(batch(('http_seconds{a="b"}', T0, 1.0), metadata={"http_seconds": MetricMetadata(MetricType.HISTOGRAM, "h", "seconds")}))
    assert db.metadata() == {
        "http_seconds": [MetricMetadata(MetricType.HISTOGRAM, "h", "seconds")],
        "up": [meta["up"]],
    }
    assert db.metadata("up") == {"up": [meta["up"]]}
    assert list(db.metadata(limit=1)) == ["http_seconds"]
    db.close()
    db2, _ = open_db()
    assert db2.metadata("up") == {"up": [meta["up"]]}


def test_batches_grouped_by_series_are_judged_and_indexed_alike(open_db):
    # series_index non-decreasing (the sort-free path), with one series out of
    # order inside the batch and one repeating a timestamp
    a, b, c = (Labels.parse(f'up{{job="{j}"}}') for j in "abc")
    grouped = SampleBatch(
        [a, b, c],
        np.array([0, 0, 0, 1, 1, 2, 2]),
        np.array([T0, T0 + 1, T0 + 2, T0 + 5, T0 + 4, T0, T0], np.int64),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.0]),
    )
    db, _ = open_db()
    r = db.append(grouped)
    assert r.accepted == 6 and r.rejected == {RejectReason.OUT_OF_ORDER: 1}
    assert samples(db) == {
        'up{job="a"}': [(T0, 1.0), (T0 + 1, 2.0), (T0 + 2, 3.0)],
        'up{job="b"}': [(T0 + 5, 4.0)],
        'up{job="c"}': [(T0, 6.0)],
    }
    # each series' first and last sample bound what queries find
    assert list(samples(db, T0, T0)) == ['up{job="a"}', 'up{job="c"}']
    assert list(samples(db, T0 + 2, T0 + 3)) == ['up{job="a"}']
    # a later batch: the first sample moves the series' newest sample on,
    # the second is then out of order although the head holds it already
    r = db.append(SampleBatch([a], np.array([0, 0]), np.array([T0 + 3, T0 + 2], np.int64), np.array([7.0, 3.0])))
    assert r.accepted == 1 and r.rejected == {RejectReason.OUT_OF_ORDER: 1}
    assert samples(db, T0 + 3, T0 + 3) == {'up{job="a"}': [(T0 + 3, 7.0)]}


def test_malformed_batch_raises(open_db):
    db, _ = open_db()
    with pytest.raises(ValueError):
        db.append(SampleBatch([Labels.parse(UP)], np.array([1]), np.array([T0]), np.array([1.0])))


# --- property test against a sample-by-sample model ----------------------------

DUR = 2 * HOUR_MS


class Model:
    """Prometheus's append rules, one sample at a time, with the head's bounds
    taken at the start of each batch (as the TSDB does)."""

    def __init__(self, window: int):
        self.window = window
        self.data: dict[str, dict[int, int]] = {}
        self.maxt = None
        self.block_end = None  # after a flush, in-order samples must not be older

    def flush(self) -> None:
        if self.maxt is not None:
            self.block_end = self.maxt + 1

    def append(self, items):
        maxt0 = self.maxt
        bounds = [b for b in (self.block_end, None if maxt0 is None else maxt0 - DUR // 2) if b is not None]
        min_valid = max(bounds) if bounds else None
        floor = None if maxt0 is None else maxt0 - self.window
        result = {"accepted": 0}
        cur: dict[str, int] = {}
        for name, t, v in items:
            bits = int(np.float64(v).view(np.uint64))
            stored = self.data.setdefault(name, {})
            reason = None
            if min_valid is not None and t < min_valid:
                if self.window == 0:
                    reason = "out_of_bounds"
                elif floor is not None and t < floor:
                    reason = "too_old"
            if reason is None:
                c = cur.get(name, max(stored) if stored else None)
                if c is None or t > c:
                    stored[t] = bits
                    cur[name] = t
                elif t == c:
                    reason = None if stored[t] == bits else "duplicate_sample_for_timestamp"
                elif self.window == 0:
                    reason = "out_of_order"
                elif floor is not None and t < floor:
                    reason = "too_old"
                elif t in stored:
                    reason = None if stored[t] == bits else "duplicate_sample_for_timestamp"
                else:
                    stored[t] = bits
            if reason is None:
                result["accepted"] += 1
                self.maxt = t if self.maxt is None else max(self.maxt, t)
            else:
                result[reason] = result.get(reason, 0) + 1
        return result


values = st.sampled_from([0.0, 1.0, 2.0, float("nan"), STALE_NAN])
sample = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 40).map(lambda k: T0 + k * 5 * MINUTE_MS), values)


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(st.sampled_from([0, 30 * MINUTE_MS, 3 * HOUR_MS]), st.lists(st.lists(sample, min_size=1, max_size=8), min_size=1, max_size=6), st.data())
def test_append_rules_match_the_model(tmp_path_factory, window, batches, data):
    from prometheus_client import CollectorRegistry

    from storage.tsdb import TSDB, TSDBOptions

    model = Model(window)
    db = TSDB.open(
        str(tmp_path_factory.mktemp("db")),
        TSDBOptions(out_of_order_window_ms=window, max_future_skew_ms=0, wal_fsync_interval_s=0),
        registry=CollectorRegistry(),
        clock=lambda: T0 / 1000,
    )
    try:
        for items in batches:
            if data.draw(st.booleans(), label="grouped"):
                # each series' samples together, as receivers build batches
                # (the head's sort-free path); per-series order is kept
                items = sorted(items, key=lambda item: item[0])
            expected = model.append(items)
            r = db.append(
                SampleBatch.from_samples([(Labels.from_dict({"__name__": n}), t, v) for n, t, v in items])
            )
            got = {"accepted": r.accepted, **{k.value: c for k, c in r.rejected.items()}}
            assert got == expected, items
            if data.draw(st.booleans(), label="flush"):
                db.flush_head()
                model.flush()
        ss = db.querier(0, 2**62).select(ALL)
        got_data = {
            lbl.name: {int(t): int(b) for t, b in zip(ss.series(i)[0], ss.series(i)[1].view(np.uint64))}
            for i, lbl in enumerate(ss.labels)
        }
        assert got_data == {k: v for k, v in model.data.items() if v}
    finally:
        db.close()
