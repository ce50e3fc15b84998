import os

import pytest

from alerting.notify.clock import FakeClock
from alerting.notify.matchers import Matcher
from alerting.notify.silence import (
    STATE_ACTIVE,
    STATE_EXPIRED,
    STATE_PENDING,
    InvalidSilence,
    Silence,
    SilenceNotFound,
    Silencer,
    Silences,
)
from alerting.notify.store import Marker
from alerting.notify.wire import GoTime

T0 = 1_714_557_600.0


def t(sec: float) -> GoTime:
    return GoTime.from_seconds(sec, 0)


def sil(start, end, *matchers, sid=""):
    ms = matchers or (Matcher("=", "job", "api"),)
    return Silence.new(ms, t(start), t(end), "me", "maintenance", id=sid)


def test_states_follow_the_clock():
    clock = FakeClock(T0)
    s = Silences(clock)
    sid = s.set(sil(T0 + 60, T0 + 120))
    assert s.get(sid).state(clock.now_ns()) == STATE_PENDING
    clock.set(T0 + 60)
    assert s.get(sid).state(clock.now_ns()) == STATE_ACTIVE
    clock.set(T0 + 120)
    assert s.get(sid).state(clock.now_ns()) == STATE_EXPIRED


def test_start_in_the_past_is_moved_to_now():
    clock = FakeClock(T0)
    s = Silences(clock)
    sid = s.set(sil(T0 - 3600, T0 + 60))
    assert s.get(sid).starts_at.seconds() == T0
    assert s.get(sid).updated_at.seconds() == T0


def test_update_in_place_or_replace_like_alertmanager():
    clock = FakeClock(T0)
    s = Silences(clock)
    sid = s.set(sil(T0, T0 + 600))
    clock.set(T0 + 10)
    # Same matchers and start, later end: updated in place.
    assert s.set(sil(T0, T0 + 1200, sid=sid)) == sid
    assert s.get(sid).ends_at.seconds() == T0 + 1200
    # Different matchers: the old one expires, a new ID is issued.
    new = s.set(sil(T0, T0 + 1200, Matcher("=", "job", "web"), sid=sid))
    assert new != sid
    assert s.get(sid).state(clock.now_ns()) == STATE_EXPIRED and s.get(sid).ends_at.seconds() == T0 + 10
    with pytest.raises(SilenceNotFound):
        s.set(sil(T0, T0 + 60, sid="no-such-id"))


def test_expire_pending_collapses_and_expired_is_a_no_op():
    clock = FakeClock(T0)
    s = Silences(clock)
    sid = s.set(sil(T0 + 100, T0 + 200))
    s.expire(sid)
    got = s.get(sid)
    assert got.starts_at.seconds() == got.ends_at.seconds() == T0
    s.expire(sid)
    with pytest.raises(SilenceNotFound):
        s.expire("nope")


@pytest.mark.parametrize("matchers,msg", [
    ((), "at least one matcher required"),
    ((Matcher("=", "job", ""),), "must not match the empty string"),
    ((Matcher("=~", "job", ".*"),), "must not match the empty string"),
])
def test_invalid_silences(matchers, msg):
    s = Silences(FakeClock(T0))
    with pytest.raises(InvalidSilence, match=msg):
        s.set(Silence("", tuple(matchers), t(T0), t(T0 + 60)))


def test_gc_after_retention():
    clock = FakeClock(T0)
    s = Silences(clock, retention=3600)
    sid = s.set(sil(T0, T0 + 60))
    clock.set(T0 + 60 + 3599)
    assert s.gc() == 0
    clock.set(T0 + 60 + 3600)
    assert s.gc() == 1 and s.get(sid) is None


def test_silencer_marks_active_and_pending():
    clock = FakeClock(T0)
    s = Silences(clock)
    marker = Marker()
    silencer = Silencer(s, marker, clock)
    active = s.set(sil(T0, T0 + 60))
    pending = s.set(sil(T0 + 30, T0 + 60))
    s.set(sil(T0, T0 + 60, Matcher("=", "job", "web")))
    assert silencer.mutes({"job": "api", "alertname": "x"}, 42)
    st = marker.status(42)
    assert st.state == "suppressed" and st.silenced_by == [active] and st.pending_silences == [pending]
    assert not silencer.mutes({"job": "db"}, 43) and marker.status(43).state == "active"


def test_persisted_across_restarts_and_torn_tail(tmp_path):
    path = str(tmp_path / "silences")
    clock = FakeClock(T0)
    s = Silences(clock, path)
    a = s.set(sil(T0, T0 + 600))
    b = s.set(sil(T0, T0 + 600, Matcher("=~", "team", "db|web")))
    s.expire(a)
    # Simulate a crash in the middle of the next write.
    with open(path, "ab") as f:
        f.write(b'0badc0de {"op":"set","silence":')
    s2 = Silences(clock, path)
    assert {x.id for x in s2.query()[0]} == {a, b}
    assert s2.get(a).state(clock.now_ns()) == STATE_EXPIRED
    assert s2.get(b).matchers[0].matches("web") and not s2.get(b).matchers[0].matches("dbx")
    c = s2.set(sil(T0, T0 + 60, Matcher("=", "x", "y")))
    s3 = Silences(clock, path)
    assert s3.get(c) is not None
    # Compaction keeps exactly the live state.
    size = s3.snapshot()
    assert size == os.path.getsize(path)
    assert {x.id for x in Silences(clock, path).query()[0]} == {a, b, c}
