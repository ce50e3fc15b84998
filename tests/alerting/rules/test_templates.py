"""Prometheus's template functions, checked against the cases of Prometheus's own
template tests (template/template_test.go), plus alert expansion."""

from __future__ import annotations

import math

import pytest

from alerting.rules.templates import (
    Expander,
    check_alert_template,
    expand_alert_text,
    title,
)
from alerting.template import TemplateError

MAXI64 = 2**63 - 1
MAXU64 = 2**64 - 1
T_NOW = 1353755652000  # Prometheus's test clock
EXT = "http://testhost:9090/path/prefix"

# (text, input, expected output) as upstream states them
OUTPUT_CASES = [
    ("plain text", None, "plain text"),
    ("{{ 1 }}", None, "1"),
    ('{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}', None, "1 2"),
    ('{{ "foo.example.com" | stripPort }}', None, "foo.example.com"),
    ('{{ "foo.example.com:12345" | stripPort }}', None, "foo.example.com"),
    ('{{ "192.0.2.1" | stripPort }}', None, "192.0.2.1"),
    ('{{ "192.0.2.1:12345" | stripPort }}', None, "192.0.2.1"),
    ('{{ "2001:0DB8::1" | stripPort }}', None, "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]:12345" | stripPort }}', None, "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]::12345" | stripPort }}', None, "[2001:0DB8::1]::12345"),
    ("{{ .Foo }}", None, "<no value>"),
    ('{{ reReplaceAll "(a)b" "x$1" "ab" }}', None, "xa"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0.0, 1.0, 1234567.0, 0.12], "0:1:1.235M:120m:"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", ["0.0", "1.0", "1234567.0", ".12"], "0:1:1.235M:120m:"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0, -1, 1, 1234567, MAXI64], "0:-1:1:1.235M:9.223E:"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0, 1, 1234567, MAXU64], "0:1:1.235M:18.45E:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0.0, 1.0, 1048576.0, 0.12], "0:1:1Mi:0.12:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", ["0.0", "1.0", "1048576.0", ".12"], "0:1:1Mi:0.12:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0, -1, 1, 1234567, MAXI64], "0:-1:1:1.177Mi:8Ei:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0, 1, 1234567, MAXU64], "0:1:1.177Mi:16Ei:"),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600, -(86400.0 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
    ),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", ["0", "1", "60", "3600", "86400"], "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    ),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"],
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    ),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", [0, -1, 1, 1234567], "0s:-1s:1s:14d 6h 56m 7s:"),
    (
        "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
        [math.inf, -math.inf, math.nan],
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    ),
    (
        "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
        ["+Inf", "-Inf", "NaN"],
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    ),
    (
        "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
        None,
        "-22.22%:0%:12.35%:123.5%",
    ),
    ("{{ range . }}{{ humanizePercentage . }}:{{ end }}", [0, -1, 1, 1234567, MAXI64], "0%:-100%:100%:1.235e+08%:9.223e+20%:"),
    ("{{ range . }}{{ humanizePercentage . }}:{{ end }}", [0, 1, 1234567, MAXU64], "0%:100%:1.235e+08%:1.845e+21%:"),
    (
        '{{ "-0.22222" | humanizePercentage }}:{{ "0.0" | humanizePercentage }}:{{ "0.1234567" | humanizePercentage }}:{{ "1.23456" | humanizePercentage }}',
        None,
        "-22.22%:0%:12.35%:123.5%",
    ),
    (
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        [0, -1, 1, 1234567, 9223372036],
        ("1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:"
         "1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"),
    ),
    ("{{ 1435065584.128 | humanizeTimestamp }}", None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "1435065584.128" | humanizeTimestamp }}', None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ (1435065584.128 | toTime).Format "2006" }}', None, "2015"),
    ('{{ ("1435065584.128" | toTime).Format "2006" }}', None, "2015"),
    ("{{ (1800 | toDuration).String }}", None, "30m0s"),
    ('{{ ("1800" | toDuration).String }}', None, "30m0s"),
    ("{{ now }}", None, "1.353755652e+09"),
    ('{{ (now | toTime).Format "Mon Jan 2 15:04:05 2006" }}', None, "Sat Nov 24 11:14:12 2012"),
    ('{{ ("-30m" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}', None, "1353753852000"),
    ('{{ "aa bb CC" | title }}', None, "Aa Bb CC"),
    ('{{ "aa bb CC" | toUpper }}', None, "AA BB CC"),
    ('{{ "aA bB CC" | toLower }}', None, "aa bb cc"),
    ('{{ match "a+" "aa" }} {{ match "a+" "b" }}', None, "true false"),
    ('{{ graphLink "up" }}', None, "/graph?g0.expr=up&g0.tab=0"),
    ('{{ tableLink "up" }}', None, "/graph?g0.expr=up&g0.tab=1"),
    ('{{ define "a" }}x{{ end }}{{ $name := "a"}}{{ tmpl $name . }}', None, "x"),
    ("{{ pathPrefix }}", None, "/path/prefix"),
    ("{{ externalURL }}", None, EXT),
    ('{{ printf "%0.2f" (parseDuration "1h2m10ms") }}', None, "3720.01"),
    ('{{ printf "%0.2f" (parseDuration "-1h2m10ms") }}', None, "-3720.01"),
    ('{{ "foo.example.com" | stripDomain }}', None, "foo"),
    ('{{ "foo.example.com:12345" | stripDomain }}', None, "foo:12345"),
    ('{{ "192.0.2.1" | stripDomain }}', None, "192.0.2.1"),
    ('{{ "192.0.2.1:12345" | stripDomain }}', None, "192.0.2.1:12345"),
    ('{{ "2001:0DB8::1" | stripDomain }}', None, "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]:12345" | stripDomain }}', None, "[2001:0DB8::1]:12345"),
    ('{{ "[2001:0DB8::1]::12345" | stripDomain }}', None, "[2001:0DB8::1]::12345"),
    ('{{ graphLink "rate(x{a=\\"b c\\"}[5m])" }}', None, "/graph?g0.expr=rate%28x%7Ba%3D%22b+c%22%7D%5B5m%5D%29&g0.tab=0"),
]

# (text, input, error) as upstream states them
ERROR_CASES = [
    ("{{\u00a0}}", None, "error parsing template test: template: test:1: unrecognized character in action: U+00A0"),
    ("{{", None, "error parsing template test: template: test:1: unclosed action"),
    (
        '{{ humanize "one" }}',
        None,
        ('error executing template test: template: test:1:3: executing "test" at <humanize "one">: '
         'error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax'),
    ),
    (
        '{{ humanize1024 "one" }}',
        None,
        ('error executing template test: template: test:1:3: executing "test" at <humanize1024 "one">: '
         'error calling humanize1024: strconv.ParseFloat: parsing "one": invalid syntax'),
    ),
    (
        '{{ humanizeDuration "one" }}',
        None,
        ('error executing template test: template: test:1:3: executing "test" at <humanizeDuration "one">: '
         'error calling humanizeDuration: strconv.ParseFloat: parsing "one": invalid syntax'),
    ),
    (
        '{{ "one" | humanizePercentage }}',
        None,
        ('error executing template test: template: test:1:11: executing "test" at <humanizePercentage>: '
         'error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax'),
    ),
    (
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        [-(2**63), MAXI64],
        ('error executing template test: template: test:1:16: executing "test" at <humanizeTimestamp .>: '
         "error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds "
         "timestamp since it overflows int64"),
    ),
    (
        "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
        [MAXU64],
        ('error executing template test: template: test:1:16: executing "test" at <humanizeTimestamp .>: '
         "error calling humanizeTimestamp: 1.8446744073709552e+19 cannot be represented as a nanoseconds "
         "timestamp since it overflows int64"),
    ),
    (
        '{{ query "missing" | first }}',
        None,
        ('error executing template test: template: test:1:21: executing "test" at <first>: '
         "error calling first: first() called on vector with no elements"),
    ),
    (
        '{{ (query "missing").banana }}',
        None,
        ('error executing template test: template: test:1:10: executing "test" at <"missing">: '
         "can't evaluate field banana in type template.queryResult"),
    ),
]


def _no_query(q, t):
    return []


@pytest.mark.parametrize("text,data,want", OUTPUT_CASES, ids=[c[0][:40] for c in OUTPUT_CASES])
def test_upstream_outputs(text, data, want):
    assert Expander(text, "test", data, T_NOW, _no_query, EXT).expand() == want


@pytest.mark.parametrize("text,data,want", ERROR_CASES, ids=[c[0][:40] for c in ERROR_CASES])
def test_upstream_errors(text, data, want):
    with pytest.raises(TemplateError) as e:
        Expander(text, "test", data, T_NOW, _no_query, EXT).expand()
    assert str(e.value) == want


def test_missingkey_error_option():
    with pytest.raises(TemplateError) as e:
        Expander("{{ .Foo }}", "test", None, missingkey="error").expand()
    assert str(e.value) == (
        'error executing template test: template: test:1:3: executing "test" at <.Foo>: '
        'nil data; no entry for key "Foo"'
    )


def test_query_functions():
    vec = [({"__name__": "metric", "instance": "b"}, 21.0), ({"__name__": "metric", "instance": "a"}, 11.0)]
    seen = []

    def q(expr, t):
        seen.append((expr, t))
        return vec

    def run(text):
        return Expander(text, "test", None, T_NOW, q, EXT).expand()

    assert run('{{ query "metric" | first | value }}') == "21"
    assert run('{{ query "metric" | first | label "instance" }}') == "b"
    assert run('{{ query "metric" | first | label "foo" }}') == ""
    assert run('{{ $x := query "metric" | first }}{{ $x.Labels.foo }}') == ""
    assert run('{{ range query "metric" | sortByLabel "instance" }}{{.Labels.instance}}:{{.Value}}: {{end}}') == "a:11: b:21: "
    assert seen[0] == ("metric", T_NOW)
    strq = [({"__value__": "a"}, 0.0)]
    assert Expander('{{ query "x" | first | strvalue }}', "t", None, 0, lambda e, t: strq).expand() == "a"


def test_alert_expansion_defines_prometheus_variables():
    out = expand_alert_text(
        "{{ $labels.instance }} {{ $value }} {{ $externalLabels.cluster }} {{ $externalURL }} [{{ $labels.missing }}]",
        "HighLoad",
        labels={"instance": "host:9100"},
        value=0.25,
        external_labels={"cluster": "prod"},
        external_url="http://prom:9090",
    )
    assert out == "host:9100 0.25 prod http://prom:9090 []"


def test_alert_expansion_error_is_rendered_not_raised():
    out = expand_alert_text("{{ $value | humanize | nope }}", "X")
    assert out.startswith("<error expanding template: error parsing template __alert_X: template: __alert_X:1: ")
    assert out.endswith('function "nope" not defined>')
    out = expand_alert_text('{{ humanize "x" }}', "X")
    # columns count the prepended definitions, exactly as Prometheus reports them
    assert out == (
        '<error expanding template: error executing template __alert_X: template: __alert_X:1:115: '
        'executing "__alert_X" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": '
        "invalid syntax>"
    )


def test_check_alert_template():
    assert check_alert_template("{{ $labels.job }}", "A") is None
    assert check_alert_template("{{ $labels.job", "A") == "template: __alert_A:1: unclosed action"
    assert check_alert_template("{{ nofunc }}", "A") == 'template: __alert_A:1: function "nofunc" not defined'


@pytest.mark.parametrize(
    "text,want",
    [
        ("hello world", "Hello World"),
        ("foo-bar baz_qux", "Foo-Bar Baz_qux"),
        ("it's here", "It's Here"),
        ("aa bb CC", "Aa Bb CC"),
        ("émile zola", "Émile Zola"),
        ("a.b", "A.b"),
        ("", ""),
    ],
)
def test_title(text, want):
    assert title(text) == want
