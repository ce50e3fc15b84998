"""The Python side of the template engine: objects, methods, sets of templates."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import pytest

from alerting.template import StrMap, Template, TemplateError


class Alert:
    def __init__(self, labels, value):
        self.Labels = labels
        self.Value = value
        self._secret = "hidden"

    def Summary(self, prefix: str) -> str:
        return f"{prefix}: {self.Labels['alertname']}"

    def Fails(self):
        raise ValueError("boom")

    @property
    def Name(self):
        return self.Labels["alertname"]


@dataclasses.dataclass
class Point:
    X: int
    Y: float


class Pair(NamedTuple):
    Name: str
    Value: str


class Celsius(float):
    def __str__(self) -> str:
        return f"{float(self):.1f}°C"


def test_fields_methods_and_properties_of_objects():
    t = Template()
    a = Alert({"alertname": "Down"}, 1.5)
    assert t.execute_string("{{.Labels.alertname}} {{.Value}} {{.Name}}", a) == "Down 1.5 Down"
    assert t.execute_string('{{.Summary "x"}}', a) == "x: Down"
    assert t.execute_string('{{"y" | .Summary}}', a) == "y: Down"


def test_private_names_are_unreachable():
    t = Template()
    a = Alert({"alertname": "Down"}, 1)
    for text in ("{{._secret}}", "{{.__class__}}", "{{.__dict__}}"):
        with pytest.raises(TemplateError, match="can't evaluate field"):
            t.execute_string(text, a)
    # dict methods are not template methods: .items is a missing key
    assert t.execute_string("{{.items}}", {"a": 1}) == "<no value>"


def test_method_errors_and_arity():
    t = Template(name="t")
    a = Alert({"alertname": "Down"}, 1)
    with pytest.raises(TemplateError) as e:
        t.execute_string("{{.Fails}}", a, name="t")
    assert str(e.value) == 'template: t:1:2: executing "t" at <.Fails>: error calling Fails: boom'
    with pytest.raises(TemplateError, match="wrong number of args for Summary: want 1 got 0"):
        t.execute_string("{{.Summary}}", a)
    with pytest.raises(TemplateError, match="expected string; found 1"):
        t.execute_string("{{.Summary 1}}", a)


def test_structs_print_like_go():
    t = Template()
    assert t.execute_string("{{.}}", Point(1, 2.5)) == "&{1 2.5}"
    assert t.execute_string('{{printf "%+v" .}}', Point(1, 2.5)) == "&{X:1 Y:2.5}"
    assert t.execute_string("{{.X}}", Point(3, 0.0)) == "3"
    assert t.execute_string("{{.Name}}={{.Value}}", Pair("a", "b")) == "a=b"
    assert t.execute_string("{{range .}}{{.Name}};{{end}}", [Pair("a", "1"), Pair("b", "2")]) == "a;b;"
    # a Stringer prints through its own __str__
    assert t.execute_string("{{.}}", Celsius(21.04)) == "21.0°C"


def test_missingkey_options():
    data = {"labels": StrMap({"job": "api"}), "any": {"x": 1}}
    assert Template().execute_string("{{.labels.nope}}|{{.any.nope}}", data) == "<no value>|<no value>"
    zero = Template(missingkey="zero")
    assert zero.execute_string("{{.labels.nope}}|{{.any.nope}}", data) == "|<no value>"
    with pytest.raises(TemplateError, match='map has no entry for key "nope"'):
        Template(missingkey="error").execute_string("{{.labels.nope}}", data)
    with pytest.raises(ValueError, match="missingkey=bogus"):
        Template(missingkey="bogus")


def test_template_set_parse_lookup_and_redefinition():
    t = Template(name="root")
    t.parse('{{define "a"}}A1{{end}}{{define "b"}}B{{end}}')
    t.parse('{{define "a"}}A2{{end}}')  # a later file replaces a definition
    t.parse('{{define "b"}}  {{/* empty */}}{{end}}')  # an empty body never replaces
    t.parse('{{template "a"}}{{template "b"}}')
    assert t.execute() == "A2B"
    assert t.lookup("a") and not t.lookup("zzz")
    assert t.templates() == ["a", "b", "root"]
    with pytest.raises(TemplateError, match='no template "zzz" associated with template "root"'):
        t.execute(None, name="zzz")
    with pytest.raises(TemplateError, match="multiple definition of template"):
        Template().parse('{{define "x"}}1{{end}}{{define "x"}}2{{end}}')


def test_execute_string_sees_definitions_but_does_not_keep_its_own():
    t = Template()
    t.parse('{{define "hello"}}hi {{.}}{{end}}')
    assert t.execute_string('{{template "hello" "bob"}}') == "hi bob"
    t.execute_string('{{define "tmp"}}x{{end}}')
    assert not t.lookup("tmp")


def test_clone_is_independent():
    t = Template()
    t.parse('{{define "x"}}1{{end}}')
    c = t.clone().add_funcs({"two": lambda: 2})
    c.parse('{{define "x"}}{{two}}{{end}}')
    assert c.execute_string('{{template "x"}}') == "2"
    assert t.execute_string('{{template "x"}}') == "1"
    with pytest.raises(TemplateError, match='function "two" not defined'):
        t.parse("{{two}}")


def test_call_and_function_values():
    t = Template()
    data = {"f": lambda a, b: a * b, "n": 3}
    assert t.execute_string("{{call .f 6 7}}", data) == "42"
    with pytest.raises(TemplateError, match="wrong number of args: got 1 want 2"):
        t.execute_string("{{call .f 1}}", data)
    with pytest.raises(TemplateError, match="non-function of type int"):
        t.execute_string("{{call .n}}", data)
    with pytest.raises(TemplateError, match="can't print"):
        t.execute_string("{{.f}}", data)


def test_range_over_generators_and_bytes():
    t = Template()
    assert t.execute_string("{{range $i, $v := .}}{{$i}}{{$v}}{{end}}", (x for x in "ab")) == "0a1b"
    assert t.execute_string("{{range .}}{{.}},{{end}}", b"AB") == "65,66,"


def test_recursion_limit_is_an_error_not_a_crash():
    t = Template(name="r")
    t.parse('{{define "r"}}{{template "r" .}}{{end}}')
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        t.execute(1, name="r")


def test_self_containing_value_is_an_error():
    loop: list = []
    loop.append(loop)
    with pytest.raises(TemplateError):
        Template().execute_string("{{.}}", loop)
