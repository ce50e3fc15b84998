"""Go's text/template for Python: the template language of Prometheus rule
annotations and Alertmanager notifications.

A ``Template`` is a set of named templates, like Go's ``*template.Template``::

    t = Template(funcs={"toUpper": str.upper})
    t.parse('{{define "greet"}}hello {{.name | toUpper}}{{end}}')
    t.parse('{{template "greet" .}}!', name="main")
    t.execute({"name": "world"}, name="main")         # 'HELLO WORLD!'
    t.execute_string("{{printf \\"%.1f\\" .}}", 2.25)  # '2.2'

Values are Python values standing for Go's (see ``gofmt``): ``None`` is nil,
lists are slices, mappings are maps, other objects are structs whose public
attributes are fields and whose public methods are methods. Names starting
with ``_`` are never reachable from a template, which keeps user templates
away from Python internals.

Known differences from Go, by necessity: Go strings holding bytes that are not
UTF-8 become U+FFFD here; ``{{template}}`` nesting stops at 100 levels (Go:
100000); a nil pointer inside a map reads as a missing value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from alerting.template import builtins as _builtins
from alerting.template import executor as _exec
from alerting.template.gofmt import go_quote, sprint, sprintf, sprintln
from alerting.template.nodes import Tree, is_empty_tree
from alerting.template.parser import ParseError
from alerting.template.parser import parse as _parse
from alerting.template.values import StrMap, is_true

__all__ = [
    "StrMap",
    "Template",
    "TemplateError",
    "html_escape",
    "is_true",
    "js_escape",
    "sprint",
    "sprintf",
    "sprintln",
]

html_escape = _builtins.html_escape_string
js_escape = _builtins.js_escape_string

_MISSINGKEY = {
    "default": _exec.MISSING_INVALID,
    "invalid": _exec.MISSING_INVALID,
    "zero": _exec.MISSING_ZERO,
    "error": _exec.MISSING_ERROR,
}


class TemplateError(Exception):
    """A template failed to parse or execute; the message is Go's
    (``template: name:1:5: executing "name" at <.foo>: ...``)."""


class Template:
    """A set of named templates sharing one function map and options.

    ``funcs`` add to (and may override) Go's built-in functions; a function's
    parameters annotated ``str``/``int``/``float``/``bool`` are type-checked as
    Go checks typed parameters, others accept any value. ``missingkey`` is Go's
    option: ``"default"`` (missing map keys give ``<no value>``), ``"zero"``
    (the zero value of the map's element type; ``StrMap`` reads ``""``) or
    ``"error"``.
    """

    def __init__(
        self,
        funcs: Mapping[str, Callable] | None = None,
        *,
        missingkey: str = "default",
        name: str = "",
    ):
        if missingkey not in _MISSINGKEY:
            raise ValueError(f'unrecognized option: "missingkey={missingkey}"')
        self.name = name
        self._missingkey = _MISSINGKEY[missingkey]
        self._funcs: dict[str, Callable] = dict(_builtins.BUILTINS)
        if funcs:
            self._funcs.update(funcs)
        self._trees: dict[str, Tree] = {}

    # --- configuration ---------------------------------------------------------
    def add_funcs(self, funcs: Mapping[str, Callable]) -> Template:
        """Add functions; like Go's Funcs they must be there before a parse that uses them."""
        self._funcs.update(funcs)
        return self

    def clone(self) -> Template:
        """A copy sharing the parsed trees, so templates can be added without touching this one."""
        t = Template.__new__(Template)
        t.name = self.name
        t._missingkey = self._missingkey
        t._funcs = dict(self._funcs)
        t._trees = dict(self._trees)
        return t

    # --- parsing ---------------------------------------------------------------
    def parse(self, text: str, name: str = "") -> Template:
        """Parse ``text`` as template ``name`` and add its ``{{define}}``d templates.

        Later definitions replace earlier ones, except that an empty body (only
        space and comments) never replaces a non-empty one, as in Go."""
        trees = self._parse_trees(text, name or self.name)
        for tname, tree in trees.items():
            old = self._trees.get(tname)
            if old is not None and old.root is not None and is_empty_tree(tree.root):
                continue
            self._trees[tname] = tree
        return self

    def _parse_trees(self, text: str, name: str) -> dict[str, Tree]:
        if not isinstance(text, str):
            raise TemplateError(f"template: {name}: template text must be a string")
        try:
            return _parse(name, text, self._funcs)
        except ParseError as e:
            raise TemplateError(str(e)) from None
        except RecursionError:
            raise TemplateError(f"template: {name}: template nests too deeply") from None

    def lookup(self, name: str) -> bool:
        """Whether a template of that name is defined."""
        return name in self._trees

    def templates(self) -> list[str]:
        return sorted(self._trees)

    def defined_templates(self) -> str:
        """Go's "; defined templates are: ..." suffix for error messages."""
        names = [go_quote(n) for n in sorted(self._trees) if self._trees[n].root is not None]
        return ("; defined templates are: " + ", ".join(names)) if names else ""

    # --- execution -------------------------------------------------------------
    def execute(self, data=None, name: str = "", funcs: Mapping[str, Callable] | None = None) -> str:
        """Execute the template ``name`` with ``data`` as dot and ``$``.

        ``funcs`` replaces functions for this execution only (functions bound to
        one evaluation, like Prometheus's ``query`` at the rule's time); their
        names must have been known when the template was parsed."""
        return self._execute(name or self.name, data, self._trees, funcs)

    def execute_string(self, text: str, data=None, name: str = "") -> str:
        """Parse ``text`` as a throwaway template (seeing this set's definitions) and run it."""
        trees = self._parse_trees(text, name)
        if not trees:
            return ""
        merged = dict(self._trees)
        merged.update(trees)
        return self._execute(name, data, merged)

    def _execute(self, name: str, data, trees: Mapping[str, Tree], funcs=None) -> str:
        tree = trees.get(name)
        if tree is None:
            if name == self.name or not trees:
                raise TemplateError(
                    f"template: {go_quote(name)} is an incomplete or empty template"
                    + self.defined_templates()
                )
            raise TemplateError(
                f"template: no template {go_quote(name)} associated with template {go_quote(self.name)}"
            )
        try:
            fm = self._funcs if not funcs else {**self._funcs, **funcs}
            return _exec.execute(tree, data, trees.get, fm, self._missingkey)
        except _exec.ExecError as e:
            raise TemplateError(str(e)) from None
