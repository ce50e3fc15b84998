"""The scrape cache: ids, drop decisions, staleness sets and compaction."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.scrape.cache import DROPPED, ScrapeCache
from storage.labels import Labels


def make(key: str) -> Labels | None:
    """Series text `k<n>`; odd n are dropped, and n and n+100 map to the same series."""
    n = int(key[1:])
    if n % 2:
        return None
    return Labels.from_dict({"__name__": "m", "n": str(n % 100)})


def scrape(cache: ScrapeCache, keys: list[str]):
    ids, added = cache.lookup(keys, make)
    kept = ids[ids >= 0]
    assert cache.series_of(ids, kept) == [make(k) for k in keys if make(k) is not None]
    present = np.unique(kept)
    gone = cache.commit(keys, ids, present, present)
    return ids, added, set(cache.labels_of(gone)), {cache.labels[i] for i in cache.tracked.tolist()}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 299), max_size=40), min_size=1, max_size=8))
def test_ids_labels_and_staleness_match_a_naive_model(scrapes):
    cache = ScrapeCache()
    prev: set[Labels] = set()
    for nums in scrapes:
        keys = [f"k{n}" for n in nums]
        ids, _, gone, tracked = scrape(cache, keys)
        for k, i in zip(keys, ids.tolist()):
            want = make(k)
            assert (i == DROPPED) if want is None else cache.labels[i] == want
        cur = {make(k) for k in keys} - {None}
        assert tracked == cur
        assert gone == prev - cur
        prev = cur


def test_same_keys_in_same_order_skip_the_lookup_and_count_nothing_new():
    cache = ScrapeCache()
    calls = []

    def counting(key):
        calls.append(key)
        return make(key)

    keys = ["k0", "k1", "k2"]
    ids1, added1 = cache.lookup(keys, counting)
    ids2, added2 = cache.lookup(list(keys), counting)
    assert ids1.tolist() == ids2.tolist() == [0, DROPPED, 1]
    assert (added1, added2) == (2, 0) and calls == keys
    ids3, added3 = cache.lookup(["k2", "k4"], counting)
    assert ids3.tolist() == [1, 2] and added3 == 1 and calls == keys + ["k4"]


def test_churn_compacts_the_cache_and_keeps_staleness():
    cache = ScrapeCache()
    big = [f"k{2 * i}" for i in range(3000)]  # 3,000 texts, 50 series (n % 100)
    scrape(cache, big)
    for r in range(3):
        keys = [f"k{2 * i + 10_000 * (r + 1)}" for i in range(300)]
        ids, _, _, tracked = scrape(cache, keys)
        assert len(cache.ids) <= 2 * len(keys) + 1000  # the old texts were dropped
        assert {cache.labels[i] for i in ids.tolist()} == tracked
    # what the cache still answers is right after compaction
    ids, added = cache.lookup(keys, make)
    assert added == 0 and [cache.labels[i] for i in ids.tolist()] == [make(k) for k in keys]


def test_forget_returns_the_last_tracked_series():
    cache = ScrapeCache()
    scrape(cache, ["k0", "k2", "k3"])
    assert set(cache.labels_of(cache.forget())) == {make("k0"), make("k2")}
    assert len(cache.forget()) == 0
