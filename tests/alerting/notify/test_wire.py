from hypothesis import given
from hypothesis import strategies as st

from alerting.notify.wire import ZERO, GoMap, GoTime, go_json, go_quote, go_unquote


def test_rfc3339_round_trip_keeps_offset_and_nanoseconds():
    for text in ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00", "2024-05-01T10:00:00.123456789Z",
                 "1999-12-31T23:59:59.000000001-07:30"):
        assert GoTime.parse(text).rfc3339nano() == text


def test_rfc3339_trims_zeros_and_orders_by_instant():
    t = GoTime.parse("2024-05-01T10:00:00.120000000Z")
    assert t.rfc3339nano() == "2024-05-01T10:00:00.12Z"
    assert t.rfc3339millis() == "2024-05-01T10:00:00.120Z"
    a, b = GoTime.parse("2024-05-01T12:00:00+02:00"), GoTime.parse("2024-05-01T10:00:00Z")
    assert a.ns == b.ns and a.rfc3339nano() != b.rfc3339nano()


def test_zero_time_prints_like_go():
    assert ZERO.rfc3339nano() == "0001-01-01T00:00:00Z"
    assert ZERO.is_zero() and GoTime.coerce(None).is_zero()
    assert go_json({"endsAt": ZERO}) == '{"endsAt":"0001-01-01T00:00:00Z"}'


def test_invalid_times_are_refused():
    for bad in ("2024-13-01T00:00:00Z", "yesterday", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00"):
        try:
            GoTime.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_go_json_escapes_html_and_sorts_maps_only():
    assert go_json({"b": "<a&b>", "a": GoMap({"z": 1, "y": "\u2028"})}) == \
        '{"b":"\\u003ca\\u0026b\\u003e","a":{"y":"\\u2028","z":1}}'
    assert go_json(["\x01", "é", True, None]) == '["\\u0001","é",true,null]'


def test_go_quote_matches_strconv():
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there\n") == '"tab\\there\\n"'
    assert go_quote("ünïcode ✓") == '"ünïcode ✓"'
    assert go_quote("\x00\x7f") == '"\\x00\\x7f"'


@given(st.text())
def test_quote_unquote_round_trip(s):
    # Lone surrogates cannot be UTF-8 and never reach here in practice.
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return
    assert go_unquote(go_quote(s)) == s


@given(st.integers(min_value=-(10**18), max_value=4 * 10**18), st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_time_format_parse_round_trip(ns, offset_min):
    t = GoTime(ns, offset_min * 60)
    assert GoTime.parse(t.rfc3339nano()) == t
