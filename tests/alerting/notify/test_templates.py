"""Notification data and template functions as Alertmanager's templates see them."""

from alerting.notify.alert import Alert
from alerting.notify.gotimefmt import TemplateTime, go_format
from alerting.notify.templates import Templates, humanize_duration
from alerting.notify.tmpldata import KV, build_data, quote_meta
from alerting.notify.wire import GoTime
from storage.labels import Labels

T0 = 1_714_557_600.0
NOW = int((T0 + 600) * 1e9)


def data():
    a = Alert.create({"alertname": "Disk", "instance": "b", "job": "node"}, {"summary": "full", "runbook": "r1"},
                     starts_at=GoTime.from_seconds(T0, 0), ends_at=GoTime.from_seconds(T0 + 3600, 0))
    b = Alert.create({"alertname": "Disk", "instance": "a", "job": "node"}, {"summary": "full"},
                     starts_at=GoTime.from_seconds(T0 + 60, 0), ends_at=GoTime.from_seconds(T0 + 300, 0))
    return build_data("team.x", Labels.from_dict({"alertname": "Disk"}), [a, b], "http://sg", NOW)


def render(text):
    return Templates.load(now_ns=lambda: NOW).render(text, data())


def test_data_fields_and_helpers():
    d = data()
    assert d.Receiver == "team\\.x"  # regexp.QuoteMeta, as upstream
    assert d.Status == "firing"
    assert dict(d.CommonLabels) == {"alertname": "Disk", "job": "node"}
    assert dict(d.CommonAnnotations) == {"summary": "full"}
    assert [a.Status for a in d.Alerts] == ["firing", "resolved"]
    assert render("{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}") == "1/1"
    assert render('{{ range .Alerts.Resolved }}{{ .EndsAt.Format "15:04" }}{{ end }}') == "10:05"
    assert render("{{ range .Alerts.Firing }}{{ .EndsAt.IsZero }}{{ end }}") == "true"
    assert render("{{ .CommonLabels.SortedPairs.Names }}") == "[alertname job]"
    assert render("{{ (.CommonLabels.Remove .GroupLabels.Names).Values }}") == "[node]"
    assert render("{{ .CommonLabels.missing }}|{{ .GroupLabels.alertname }}") == "|Disk"
    assert quote_meta("a.b*c[d]") == "a\\.b\\*c\\[d\\]"


def test_sorted_pairs_put_alertname_first():
    kv = KV({"zeta": "1", "alertname": "A", "beta": "2"})
    assert kv.SortedPairs().Names() == ["alertname", "beta", "zeta"]


def test_functions():
    assert render('{{ "hello world" | title }} {{ toUpper "a" }} {{ toLower "B" }}') == "Hello World A b"
    assert render('{{ reReplaceAll "(\\\\w+)@(\\\\w+)" "$2 at ${1}" "me@host" }}') == "host at me"
    assert render('{{ match "^d" "disk" }} {{ match "x" "disk" }}') == "true false"
    assert render('{{ stringSlice "a" "b" | join "," }}') == "a,b"
    assert render('{{ "  x " | trimSpace }}') == "x"
    assert render('{{ (index .Alerts 0).StartsAt | date "2006-01-02" }}') == "2024-05-01"
    assert render('{{ ((index .Alerts 0).StartsAt | tz "Asia/Tokyo").Format "15:04 MST" }}') == "19:00 JST"
    assert render("{{ (index .Alerts 0).StartsAt | since | humanizeDuration }}") == "10m 0s"
    assert render("{{ .CommonLabels | toJson }}") == '{"alertname":"Disk","job":"node"}'
    assert render("{{ .Receiver | urlquery }}") == "team%5C.x"


def test_go_time_layouts():
    t = GoTime.parse("2024-05-01T09:05:03.120+02:00")
    assert go_format(t, "2006-01-02T15:04:05Z07:00") == "2024-05-01T09:05:03+02:00"
    assert go_format(t, "Mon Jan _2 3:04:05.000 PM -0700") == "Wed May  1 9:05:03.120 AM +0200"
    assert go_format(t, "Monday, January 2, 06 .999 002") == "Wednesday, May 1, 24 .12 122"
    assert str(TemplateTime(GoTime.parse("2024-05-01T10:00:00.5Z"))) == "2024-05-01 10:00:00.5 +0000 UTC"
    assert str(TemplateTime(GoTime.parse("2024-05-01T10:00:00Z"))) == "2024-05-01 10:00:00 +0000 UTC"


def test_go_time_layout_underscore_year_and_zone_offsets():
    # Go reads "_2006" as "_" then the year (stdUnderYear), not a padded day.
    t = GoTime.parse("2024-05-01T09:05:03+05:30")
    assert go_format(t, "_2006") == "_2024"
    assert go_format(t, "_2 Jan") == " 1 May"
    assert go_format(t, "-07:00:00 Z070000 -07") == "+05:30:00 +053000 +05"
    assert go_format(GoTime.parse("2024-05-01T09:05:03Z"), "Z07:00 -0700") == "Z +0000"


def test_humanize_duration():
    assert humanize_duration(0) == "0s"
    assert humanize_duration(90061) == "1d 1h 1m 1s"
    assert humanize_duration(0.25) == "250ms"
