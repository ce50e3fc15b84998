from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.notify.timeinterval import TimeInterval, TimeIntervalError


def ts(*args, tz=UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def test_times_include_start_exclude_end():
    ti = TimeInterval.parse({"times": [{"start_time": "09:00", "end_time": "17:00"}]})
    assert ti.contains(ts(2024, 5, 1, 9, 0))
    assert ti.contains(ts(2024, 5, 1, 16, 59))
    assert not ti.contains(ts(2024, 5, 1, 17, 0))
    assert not ti.contains(ts(2024, 5, 1, 8, 59))
    full = TimeInterval.parse({"times": [{"start_time": "00:00", "end_time": "24:00"}]})
    assert full.contains(ts(2024, 5, 1, 23, 59))


def test_weekdays_months_years_ranges():
    ti = TimeInterval.parse({"weekdays": ["monday:friday"], "months": ["may:june", "12"], "years": ["2024"]})
    assert ti.contains(ts(2024, 5, 1, 12))  # Wednesday
    assert not ti.contains(ts(2024, 5, 4, 12))  # Saturday
    assert ti.contains(ts(2024, 12, 2, 12))  # Monday in December
    assert not ti.contains(ts(2025, 5, 1, 12))
    assert not ti.contains(ts(2024, 7, 1, 12))


def test_negative_days_of_month_count_from_the_end():
    ti = TimeInterval.parse({"days_of_month": ["-3:-1"]})
    assert ti.contains(ts(2024, 2, 27, 0)) and ti.contains(ts(2024, 2, 29, 23))  # leap year
    assert not ti.contains(ts(2024, 2, 26, 12))
    assert ti.contains(ts(2023, 2, 26, 12))  # 28-day February
    mixed = TimeInterval.parse({"days_of_month": ["1:5", "-1"]})
    assert mixed.contains(ts(2024, 4, 30, 1)) and mixed.contains(ts(2024, 4, 3, 1))
    assert not mixed.contains(ts(2024, 4, 29, 1))


def test_location_moves_the_clock():
    ti = TimeInterval.parse({"times": [{"start_time": "09:00", "end_time": "10:00"}], "location": "Asia/Tokyo"})
    assert ti.contains(ts(2024, 5, 1, 0, 30))  # 09:30 in Tokyo
    assert not ti.contains(ts(2024, 5, 1, 9, 30))
    ny = TimeInterval.parse({"weekdays": ["sunday"], "location": "America/New_York"})
    assert ny.contains(ts(2024, 5, 6, 2, 0))  # Monday 02:00 UTC is Sunday evening in New York


@pytest.mark.parametrize("spec,msg", [
    ({"weekdays": ["friday:monday"]}, "start day cannot be before end day"),
    ({"weekdays": ["someday"]}, "is not a valid weekday"),
    ({"days_of_month": ["0"]}, "not a valid day of the month"),
    ({"days_of_month": ["-1:5"]}, "end day must be negative if start day is negative"),
    ({"days_of_month": ["10:2"]}, "is always before start day"),
    ({"months": ["june:may"]}, "end month may is before start month june"),
    ({"years": ["2025:2024"]}, "end year 2024 is before start year 2025"),
    ({"times": [{"start_time": "9:00", "end_time": "10:00"}]}, "invalid format"),
    ({"times": [{"start_time": "09:00"}]}, "both start and end times must be provided"),
    ({"location": "Mars/Olympus"}, "unknown time zone"),
    ({"weekday": ["monday"]}, "field weekday not found"),
])
def test_invalid_definitions(spec, msg):
    with pytest.raises(TimeIntervalError, match=msg):
        TimeInterval.parse(spec)


def test_printed_form_parses_back():
    spec = {"times": [{"start_time": "08:30", "end_time": "12:00"}], "weekdays": ["monday:friday", "sunday"],
            "days_of_month": ["1:7", "-1"], "months": ["january:march"], "years": ["2020:2030"],
            "location": "Europe/Berlin"}
    ti = TimeInterval.parse(spec)
    assert TimeInterval.parse(ti.to_dict()) == ti


@given(st.integers(1, 28), st.integers(0, 23), st.integers(0, 59), st.integers(2000, 2040), st.integers(1, 12))
def test_contains_agrees_with_a_direct_reading_of_the_clock(day, hour, minute, year, month):
    ti = TimeInterval.parse({"times": [{"start_time": "06:15", "end_time": "18:45"}], "weekdays": ["tuesday:thursday"],
                             "location": "Europe/Paris"})
    t = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Paris"))
    want = (6 * 60 + 15) <= hour * 60 + minute < (18 * 60 + 45) and t.isoweekday() in (2, 3, 4)
    assert ti.contains(t.timestamp()) == want
