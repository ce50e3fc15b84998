"""The benchmark data generator gives realistic, well-formed scrape data."""

from __future__ import annotations

import numpy as np

from bench._scrapedata import CLOCK, COUNTER, INTERVAL_MS, SPARSE, Fleet, ScrapeStream


def test_fleet_has_exactly_the_asked_series_with_distinct_sorted_label_sets():
    fleet = Fleet.build(4_321, seed=5)
    assert fleet.n_series == 4_321 == len(set(fleet.labels))
    for labels in fleet.labels:
        assert labels[0][0] == "__name__"
        assert list(labels[1:]) == sorted(labels[1:])
        assert 6 <= len(labels) <= 14
        assert all(v for _, v in labels)
    names = {dict(lab)["__name__"] for lab in fleet.labels}
    assert {"node_cpu_seconds_total", "container_cpu_usage_seconds_total", "up"} <= names
    assert fleet.n_targets == int(fleet.target.max()) + 1
    assert Fleet.build(4_321, seed=5).labels == fleet.labels
    assert Fleet.build(4_321, seed=6).labels != fleet.labels


def test_stream_continues_in_time_order_with_15s_scrapes_a_few_of_them_late():
    fleet = Fleet.build(3_000, seed=2)
    t0 = 1_700_000_000_000
    stream = ScrapeStream(fleet, start_ms=t0, seed=2)
    a, b = stream.next(40), stream.next(40)
    ts = np.concatenate([a.ts, b.ts], axis=1)
    d = np.diff(ts, axis=1)
    assert (d > 0).all()
    assert float(np.median(d)) == INTERVAL_MS  # aligned as Prometheus aligns them ...
    assert 0.02 < (d != INTERVAL_MS).mean() < 0.3  # ... but not all
    assert (np.abs(d - INTERVAL_MS) < 400).all()  # late by little
    assert ts.min() >= t0 and ts[:, 0].max() < t0 + INTERVAL_MS + 200
    vals = np.concatenate([a.values, b.values], axis=1)
    assert np.isfinite(vals).all()
    mono = (fleet.kind == COUNTER) | (fleet.kind == SPARSE) | (fleet.kind == CLOCK)
    assert (np.diff(vals[mono], axis=1) >= 0).all()
    moving = np.ptp(vals, axis=1) > 0
    assert 0.5 < moving.mean() < 0.95  # mostly moving series, with constants among them
    assert (vals[fleet.kind == COUNTER] >= 0).all()


def test_values_are_in_the_exporters_units():
    fleet = Fleet.build(2_000, seed=3)
    vals = ScrapeStream(fleet, start_ms=1_700_000_000_000, seed=3).next(10).values
    name = np.array([dict(lab)["__name__"] for lab in fleet.labels])
    cpu = vals[name == "node_cpu_seconds_total"]
    assert np.allclose(cpu * 100, np.rint(cpu * 100))  # USER_HZ ticks
    mem = vals[name == "node_memory_MemAvailable_bytes"]
    assert (mem % 1024 == 0).all()
    temp = vals[name == "node_hwmon_temp_celsius"]
    assert (temp == np.rint(temp)).all() and 20 < temp.mean() < 80


def test_histogram_buckets_stay_cumulative_and_count_equals_the_inf_bucket():
    fleet = Fleet.build(6_000, seed=4)
    vals = ScrapeStream(fleet, start_ms=1_700_000_000_000, seed=4).next(30).values
    by_hist: dict[tuple, list[tuple[float, int]]] = {}
    counts = {}
    for i, lab in enumerate(fleet.labels):
        d = dict(lab)
        name = d.pop("__name__")
        if name.endswith("_bucket"):
            le = float(d.pop("le"))
            by_hist.setdefault((name[:-7], tuple(sorted(d.items()))), []).append((le, i))
        elif name.endswith("_count"):
            counts[(name[:-6], tuple(sorted(d.items())))] = i
    assert len(by_hist) > 20
    for key, buckets in by_hist.items():
        rows = vals[[i for _, i in sorted(buckets)]]
        assert (np.diff(rows, axis=0) >= 0).all(), key  # le order == cumulative order
        assert (np.diff(rows, axis=1) >= 0).all(), key  # counters
        if key in counts:
            assert (vals[counts[key]] == rows[-1]).all()


def test_timestamps_do_not_depend_on_how_scrapes_are_split_and_start_on_start_ms():
    fleet = Fleet.build(2_000, seed=9)
    t0 = 1_700_006_400_000
    a = ScrapeStream(fleet, start_ms=t0, seed=9)
    b = ScrapeStream(fleet, start_ms=t0, seed=9)
    split = np.concatenate([a.next(7).ts, a.next(13).ts, a.next(1).ts], axis=1)
    assert (split == b.next(21).ts).all()
    assert split.min() == t0
