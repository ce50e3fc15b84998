from typing import NamedTuple

from alerting.template import Template


class Pair(NamedTuple):
    Name: str
    Value: str


def test_named_tuples_print_as_go_struct_values():
    pairs = [Pair("a", "1"), Pair("b", "2")]
    t = Template()
    # what Go prints for a []Pair (Alertmanager's KV.SortedPairs) with {{ . }}, %v, %+v
    assert t.execute_string("{{ . }}", pairs) == "[{a 1} {b 2}]"
    assert t.execute_string('{{ printf "%+v" . }}', pairs) == "[{Name:a Value:1} {Name:b Value:2}]"
    assert t.execute_string("{{ range . }}{{ .Name }}={{ .Value }};{{ end }}", pairs) == "a=1;b=2;"
