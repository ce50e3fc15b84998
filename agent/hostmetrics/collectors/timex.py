"""Kernel clock discipline state from adjtimex(2) (``node_timex_*``): whether
NTP has synchronised the clock, its offset, frequency correction and errors."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import NamedTuple

from agent.hostmetrics.family import COUNTER, GAUGE, MetricFamily, single
from agent.hostmetrics.paths import NoDataError

TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
STA_NANO = 0x2000  # offsets and jitter are in ns instead of µs
_PPM16 = 1_000_000.0 * 65536.0  # frequencies are ppm with a 16-bit fraction


class _CTimex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux, LP64 and ILP32 alike: C longs).
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


class Timex(NamedTuple):
    """The adjtimex(2) return value (clock state) and the fields node-exporter reports."""

    state: int
    offset: int
    freq: int
    maxerror: int
    esterror: int
    status: int
    constant: int
    tick: int
    ppsfreq: int
    jitter: int
    shift: int
    stabil: int
    jitcnt: int
    calcnt: int
    errcnt: int
    stbcnt: int
    tai: int


_libc = None


def adjtimex() -> Timex:
    """Read (never set: modes=0) the kernel's clock state."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    t = _CTimex()
    state = _libc.adjtimex(ctypes.byref(t))
    if state < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"adjtimex failed: {err}")
    return Timex(
        state,
        t.offset,
        t.freq,
        t.maxerror,
        t.esterror,
        t.status,
        t.constant,
        t.tick,
        t.ppsfreq,
        t.jitter,
        t.shift,
        t.stabil,
        t.jitcnt,
        t.calcnt,
        t.errcnt,
        t.stbcnt,
        t.tai,
    )


class TimexCollector:
    """``node_timex_*`` from adjtimex(2); the syscall is injectable for tests."""

    name = "timex"

    def __init__(self, read: Callable[[], Timex] = adjtimex):
        self._read = read

    def collect(self, now: float) -> list[MetricFamily]:
        try:
            t = self._read()
        except PermissionError:
            raise NoDataError("adjtimex not permitted") from None
        div = 1e9 if t.status & STA_NANO else 1e6
        return [
            single(
                "node_timex_sync_status",
                GAUGE,
                "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                0.0 if t.state == TIME_ERROR else 1.0,
            ),
            single(
                "node_timex_offset_seconds",
                GAUGE,
                "Time offset in between local system and reference clock.",
                t.offset / div,
            ),
            single(
                "node_timex_frequency_adjustment_ratio",
                GAUGE,
                "Local clock frequency adjustment.",
                1 + t.freq / _PPM16,
            ),
            single(
                "node_timex_maxerror_seconds", GAUGE, "Maximum error in seconds.", t.maxerror / 1e6
            ),
            single(
                "node_timex_estimated_error_seconds",
                GAUGE,
                "Estimated error in seconds.",
                t.esterror / 1e6,
            ),
            single("node_timex_status", GAUGE, "Value of the status array bits.", t.status),
            single(
                "node_timex_loop_time_constant",
                GAUGE,
                "Phase-locked loop time constant.",
                t.constant,
            ),
            single("node_timex_tick_seconds", GAUGE, "Seconds between clock ticks.", t.tick / 1e6),
            single(
                "node_timex_pps_frequency_hertz",
                GAUGE,
                "Pulse per second frequency.",
                t.ppsfreq / _PPM16,
            ),
            single(
                "node_timex_pps_jitter_seconds", GAUGE, "Pulse per second jitter.", t.jitter / div
            ),
            single(
                "node_timex_pps_shift_seconds",
                GAUGE,
                "Pulse per second interval duration.",
                t.shift,
            ),
            single(
                "node_timex_pps_stability_hertz",
                GAUGE,
                "Pulse per second stability, average of recent frequency changes.",
                t.stabil / _PPM16,
            ),
            single(
                "node_timex_pps_jitter_total",
                COUNTER,
                "Pulse per second count of jitter limit exceeded events.",
                t.jitcnt,
            ),
            single(
                "node_timex_pps_calibration_total",
                COUNTER,
                "Pulse per second count of calibration intervals.",
                t.calcnt,
            ),
            single(
                "node_timex_pps_error_total",
                COUNTER,
                "Pulse per second count of calibration errors.",
                t.errcnt,
            ),
            single(
                "node_timex_pps_stability_exceeded_total",
                COUNTER,
                "Pulse per second count of stability limit exceeded events.",
                t.stbcnt,
            ),
            single(
                "node_timex_tai_offset_seconds",
                GAUGE,
                "International Atomic Time (TAI) offset.",
                t.tai,
            ),
        ]
