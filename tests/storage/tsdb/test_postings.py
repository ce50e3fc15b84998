"""Matcher semantics against a brute-force evaluation, on the head and on a block."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.labels import Labels, Matcher, matches_all
from storage.tsdb.postings import literal_alternatives, literal_prefix

from .conftest import T0, batch

SERIES = [
    'up{job="api", instance="a"}',
    'up{job="api", instance="b", env=""}',
    'up{job="web", instance="c", env="prod"}',
    'up{job="web-canary", instance="d", env="dev"}',
    'http_requests_total{job="api", path="/x"}',
    'http_requests_total{job="web", path="/y.z", code="500"}',
    'http_requests_total{job="web", path="/yaz", code="200"}',
    'node{job="node"}',
    'weird{job="a|b", v="line\\nbreak"}',
    'weird{job="A.*", v="x"}',
]

MATCHERS = [
    [("=", "__name__", "up")],
    [("=", "job", "api")],
    [("!=", "job", "api")],
    [("=~", "job", "api|web")],
    [("=~", "job", "web.*")],
    [("!~", "job", "web.*")],
    [("=~", "job", ".*")],
    [("!~", "job", ".*")],
    [("=~", "job", ".+")],
    [("!~", "job", ".+")],
    [("=", "env", "")],
    [("!=", "env", "")],
    [("=~", "env", "")],
    [("!~", "env", "")],
    [("=~", "env", "prod|")],
    [("!~", "env", "prod|")],
    [("!~", "env", "prod")],
    [("=~", "path", "/y\\.z")],
    [("=~", "path", "/y.z")],
    [("=~", "instance", "[ab]")],
    [("!~", "instance", "[ab]")],
    [("=~", "code", "5..")],
    [("=", "nonexistent", "")],
    [("!=", "nonexistent", "")],
    [("=~", "nonexistent", ".*")],
    [("=~", "nonexistent", "x|")],
    [("=~", "job", "a\\|b")],
    [("=~", "job", "A\\.\\*")],
    [("=~", "job", "A.*")],
    [("=~", "v", "line.*")],
    [("=~", "job", "(?i)API")],
    [("=~", "job", "")],
    [("=", "__name__", "up"), ("!=", "job", "api")],
    [("=~", "job", "api|web"), ("!=", "env", "")],
    [("=~", "__name__", "up|node"), ("=", "instance", "")],
    [("=~", "__name__", ".+"), ("!~", "job", "api|web"), ("=~", "job", ".*a.*")],
    [("=", "__name__", "nope")],
]


def _load(open_db):
    db, _ = open_db()
    db.append(batch(*[(s, T0, float(i)) for i, s in enumerate(SERIES)]))
    return db


def _expected(ms):
    all_labels = sorted(Labels.parse(s) for s in SERIES)
    return [lbl for lbl in all_labels if matches_all(ms, lbl)]


@pytest.mark.parametrize("spec", MATCHERS, ids=lambda spec: ",".join(f"{n}{o}{v!r}" for o, n, v in spec))
def test_matcher_semantics_head_and_block(open_db, spec):
    db = _load(open_db)
    ms = [Matcher(o, n, v) for o, n, v in spec]
    expected = _expected(ms)
    head = db.querier(T0 - 1, T0 + 1).select(ms)
    assert head.labels == expected
    db.flush_head()
    assert db.head.num_series == 0 and len(db.blocks) == 1
    block = db.querier(T0 - 1, T0 + 1).select(ms)
    assert block.labels == expected
    assert block.timestamps.tolist() == [T0] * len(expected)


def test_fast_path_parsers():
    assert literal_alternatives("a|b|c") == ["a", "b", "c"]
    assert literal_alternatives("a\\.b|") == ["a.b", ""]
    assert literal_alternatives("a.b") is None
    assert literal_alternatives("\\d") is None
    assert literal_alternatives("(a|b)") is None
    assert literal_prefix("foo.*") == "foo"
    assert literal_prefix("fo\\.o.*") == "fo.o"
    assert literal_prefix("a|b.*") is None
    assert literal_prefix(".*") == ""


alphabet = st.sampled_from(["", "a", "b", "ab", "ba", "a.b", "x|y", "aa"])
names = st.sampled_from(["__name__", "x", "y"])
patterns = st.sampled_from(["a", "a|b", "a.*", ".*", ".+", "", "a|", "b.", "(a|b)+", "x\\|y", "a\\.b", "[ab]*"])
matchers = st.one_of(
    st.tuples(st.sampled_from(["=", "!="]), names, alphabet),
    st.tuples(st.sampled_from(["=~", "!~"]), names, patterns),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"__name__": st.sampled_from(["m", "n"]), "x": alphabet, "y": alphabet}), min_size=1, max_size=12),
    st.lists(matchers, min_size=1, max_size=3),
)
def test_random_matchers_against_brute_force(tmp_path_factory, label_dicts, spec):
    from prometheus_client import CollectorRegistry

    from storage.interface import SampleBatch
    from storage.tsdb import TSDB, TSDBOptions

    labels = sorted({Labels.from_dict(d) for d in label_dicts})
    ms = [Matcher(o, n, v) for o, n, v in spec]
    expected = [lbl for lbl in labels if matches_all(ms, lbl)]
    path = tmp_path_factory.mktemp("db")
    db = TSDB.open(str(path), TSDBOptions(wal_fsync_interval_s=0), registry=CollectorRegistry(), clock=lambda: T0 / 1000)
    try:
        db.append(SampleBatch.from_samples([(lbl, T0, 1.0) for lbl in labels]))
        assert db.querier(T0, T0).select(ms).labels == expected
        db.flush_head()
        assert db.querier(T0, T0).select(ms).labels == expected
    finally:
        db.close()
