from alerting.notify.clock import FakeClock
from alerting.notify.nflog import NotificationLog, ReceiverKey
from alerting.notify.pipeline import needs_update

T0 = 1_714_557_600.0
R = ReceiverKey("team", "webhook", 0)


def test_entries_expire_after_twice_the_repeat_interval(tmp_path):
    clock = FakeClock(T0)
    log = NotificationLog(clock, str(tmp_path / "nflog"))
    log.log(R, "{}:{a=\"b\"}", {1, 2}, set(), expiry=2 * 600)
    e = log.query(R, "{}:{a=\"b\"}")
    assert e.firing == frozenset({1, 2}) and e.timestamp_ns == clock.now_ns()
    clock.set(T0 + 1199)
    assert log.gc() == 0
    reloaded = NotificationLog(clock, str(tmp_path / "nflog"))
    assert reloaded.query(R, "{}:{a=\"b\"}").firing == frozenset({1, 2})
    clock.set(T0 + 1200)
    assert log.gc() == 1 and log.query(R, "{}:{a=\"b\"}") is None
    assert NotificationLog(clock, str(tmp_path / "nflog")).query(R, "{}:{a=\"b\"}") is None


def test_dedup_decisions_match_alertmanager():
    clock = FakeClock(T0)
    log = NotificationLog(clock)
    now = clock.now_ns()
    # Nothing sent yet: only firing alerts are worth a message.
    assert needs_update(None, {1}, set(), 3600, True, now)
    assert not needs_update(None, set(), {1}, 3600, True, now)
    log.log(R, "g", {1, 2}, set(), expiry=7200)
    e = log.query(R, "g")
    assert needs_update(e, {1, 2, 3}, set(), 3600, False, now)  # new firing alert
    assert not needs_update(e, {1, 2}, set(), 3600, True, now)  # unchanged
    assert not needs_update(e, {1}, {2}, 3600, False, now)  # resolved, send_resolved off
    assert needs_update(e, {1}, {2}, 3600, True, now)  # resolved, send_resolved on
    assert needs_update(e, set(), {1, 2}, 3600, False, now)  # all resolved: clear the log
    assert needs_update(e, {1, 2}, set(), 3600, True, now + 3600 * 10**9 + 1)  # repeat interval
    log.log(R, "g", set(), {1, 2}, expiry=7200)
    assert not needs_update(log.query(R, "g"), set(), {1, 2}, 3600, True, now)
