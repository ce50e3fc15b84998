"""Label sets and label matchers, with Prometheus's naming rules.

A series is identified by its label set. ``Labels`` is a flat, immutable tuple
``(name1, value1, name2, value2, ...)`` sorted by name, so that it hashes and
compares cheaply and sorts exactly as Prometheus sorts label sets (name, then
value, pair by pair, by byte order)::

    >>> ls = Labels.from_dict({"job": "api", "__name__": "up"})
    >>> ls.name, ls.get("job"), str(ls)
    ('up', 'api', 'up{job="api"}')

A flat tuple costs about a third of the memory of a tuple of pairs, which
matters at hundreds of thousands of series.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from operator import lt as _lt
from typing import NamedTuple

import re2

METRIC_NAME = "__name__"

# Prometheus's legacy (pre-UTF-8) character sets. Prometheus 3.x accepts any
# UTF-8 name when quoted; Spyglass accepts the same on ingestion (a valid,
# non-empty UTF-8 string) and these patterns tell exposition code when a name
# must be quoted.
_LEGACY_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LEGACY_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")


def is_legacy_metric_name(name: str) -> bool:
    return bool(_LEGACY_METRIC_NAME.match(name))


def is_legacy_label_name(name: str) -> bool:
    return bool(_LEGACY_LABEL_NAME.match(name))


class InvalidLabels(ValueError):
    """A label set breaks the naming rules; the message says which label and why."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_name(name: str) -> str:
    return name if is_legacy_label_name(name) else f'"{_escape(name)}"'


class Labels(tuple):
    """An immutable, sorted label set stored as a flat name/value tuple."""

    __slots__ = ()

    EMPTY: Labels

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        """Build from (name, value) pairs; empty values are dropped (Prometheus
        treats a label with an empty value as absent)."""
        items = sorted((n, v) for n, v in pairs if v != "")
        flat: list[str] = []
        for n, v in items:
            flat.append(n)
            flat.append(v)
        return tuple.__new__(cls, flat)

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> Labels:
        return cls.from_pairs(d.items())

    @classmethod
    def from_sorted_flat(cls, flat: Iterable[str]) -> Labels:
        """Trust the caller: ``flat`` is already sorted by name with no empty values."""
        return tuple.__new__(cls, flat)

    @classmethod
    def parse(cls, text: str) -> Labels:
        """Parse ``name{a="b", c="d"}`` or ``{a="b"}`` (the notation of test files)."""
        import promql_parser

        try:
            sel = promql_parser.parse(text)
        except ValueError as e:  # the Rust parser reports every syntax error as ValueError
            raise InvalidLabels(f"cannot parse series {text!r}: {e}") from None
        if not isinstance(sel, promql_parser.VectorSelector) or sel.matchers.or_matchers:
            raise InvalidLabels(f"{text!r} is not a series in name{{label=\"value\"}} notation")
        pairs = [(m.name, m.value) for m in sel.matchers.matchers]
        if any(str(m.op) != "MatchOp.Equal" for m in sel.matchers.matchers):
            raise InvalidLabels(f"{text!r}: a series uses only = between label and value")
        if sel.name:
            pairs.append((METRIC_NAME, sel.name))
        return cls.from_pairs(pairs)

    # --- access -------------------------------------------------------------
    def items(self) -> Iterator[tuple[str, str]]:
        it = iter(self)
        return zip(it, it)

    def names(self) -> tuple[str, ...]:
        return self[0::2]

    def to_dict(self) -> dict[str, str]:
        return dict(self.items())

    def get(self, name: str, default: str = "") -> str:
        for i in range(0, len(self), 2):
            if self[i] == name:
                return self[i + 1]
        return default

    def has(self, name: str) -> bool:
        return name in self[0::2]

    @property
    def name(self) -> str:
        """The metric name (``__name__``), or ``""``."""
        return self.get(METRIC_NAME)

    def num_labels(self) -> int:
        return len(self) // 2

    # --- derived sets -------------------------------------------------------
    def without(self, *names: str) -> Labels:
        drop = set(names)
        return Labels.from_sorted_flat(
            x for n, v in self.items() if n not in drop for x in (n, v)
        )

    def keep(self, *names: str) -> Labels:
        keep = set(names)
        return Labels.from_sorted_flat(x for n, v in self.items() if n in keep for x in (n, v))

    def without_name(self) -> Labels:
        return self.without(METRIC_NAME)

    def with_labels(self, **updates: str) -> Labels:
        return self.updated(updates)

    def updated(self, updates: Mapping[str, str]) -> Labels:
        d = self.to_dict()
        d.update(updates)
        return Labels.from_dict(d)

    # --- text ---------------------------------------------------------------
    def __str__(self) -> str:
        name = ""
        parts = []
        for n, v in self.items():
            if n == METRIC_NAME and is_legacy_metric_name(v):
                name = v
            elif n == METRIC_NAME:
                parts.insert(0, f'"{_escape(v)}"')
            else:
                parts.append(f'{_fmt_name(n)}="{_escape(v)}"')
        return name + "{" + ", ".join(parts) + "}"

    def __repr__(self) -> str:
        return f"Labels({self!s})"

    # --- validation ---------------------------------------------------------
    def validate(self, limits: LabelLimits | None = None) -> None:
        """Raise ``InvalidLabels`` when the set breaks naming rules or limits."""
        limits = limits or DEFAULT_LABEL_LIMITS
        if self._plainly_valid(limits):
            return
        self._validate_each(limits)

    def _plainly_valid(self, limits: LabelLimits) -> bool:
        """The checks of ``_validate_each`` done with a few C-level calls on the
        whole set (this runs for every new series). True means every one
        passes; False means one may fail, and ``_validate_each`` says which."""
        if len(self) & 1:
            return False
        names = self[0::2]
        n = len(names)
        if n == 0 or (limits.max_labels and n > limits.max_labels) or not limits.utf8_names:
            return False
        if "" in names or not all(map(_lt, names, names[1:])):
            return False
        if limits.max_name_length and max(map(len, names)) > limits.max_name_length:
            return False
        if limits.max_value_length and max(map(len, self[1::2])) > limits.max_value_length:
            return False
        if "\ufffd" in "".join(self):
            return False
        try:
            return bool(self[2 * names.index(METRIC_NAME) + 1])
        except ValueError:
            return False

    def _validate_each(self, limits: LabelLimits) -> None:
        if len(self) & 1:
            raise InvalidLabels(f"malformed label set: label {self[-1]!r} has no value")
        n = self.num_labels()
        if n == 0:
            raise InvalidLabels("empty label set")
        if limits.max_labels and n > limits.max_labels:
            raise InvalidLabels(
                f"series {self!s} has {n} labels, more than the limit of {limits.max_labels}"
            )
        prev = None
        for name, value in self.items():
            if not name:
                raise InvalidLabels(f"series {self!s} has an empty label name")
            if prev is not None and name <= prev:
                raise InvalidLabels(f"series {self!s} has duplicate or unsorted label {name!r}")
            prev = name
            if not limits.utf8_names and not is_legacy_label_name(name):
                raise InvalidLabels(f"invalid label name {name!r} in series {self!s}")
            if limits.max_name_length and len(name) > limits.max_name_length:
                raise InvalidLabels(
                    f"label name {name[:40]!r}... is {len(name)} characters long, "
                    f"more than the limit of {limits.max_name_length}"
                )
            if limits.max_value_length and len(value) > limits.max_value_length:
                raise InvalidLabels(
                    f"value of label {name!r} is {len(value)} characters long, "
                    f"more than the limit of {limits.max_value_length}"
                )
            if "\ufffd" in value or "\ufffd" in name:
                raise InvalidLabels(f"label {name!r} is not valid UTF-8")
        metric = self.get(METRIC_NAME)
        if not metric:
            raise InvalidLabels(f"series {self!s} has no metric name")
        if not limits.utf8_names and not is_legacy_metric_name(metric):
            raise InvalidLabels(f"invalid metric name {metric!r}")


Labels.EMPTY = Labels.from_sorted_flat(())


class LabelLimits(NamedTuple):
    """Per-series label limits; 0 means unlimited."""

    max_labels: int = 0
    max_name_length: int = 0
    max_value_length: int = 0
    # Prometheus 3.x accepts UTF-8 metric and label names; set False for the
    # legacy character set.
    utf8_names: bool = True


DEFAULT_LABEL_LIMITS = LabelLimits()


class MatchOp(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class Matcher:
    """A label matcher with Prometheus semantics: a missing label matches as the
    empty string, and regexes are RE2, fully anchored::

        Matcher(MatchOp.REGEX, "job", "api|web").matches("api")  # True
    """

    __slots__ = ("_re", "name", "op", "value")

    def __init__(self, op: MatchOp | str, name: str, value: str):
        self.op = MatchOp(op)
        self.name = name
        self.value = value
        self._re = None
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                self._re = re2.compile(f"^(?s:{value})$")
            except re2.error as e:
                raise ValueError(f"invalid regular expression {value!r}: {e}") from None

    def matches(self, s: str) -> bool:
        op = self.op
        if op is MatchOp.EQUAL:
            return s == self.value
        if op is MatchOp.NOT_EQUAL:
            return s != self.value
        hit = self._re.match(s) is not None
        return hit if op is MatchOp.REGEX else not hit

    def matches_empty(self) -> bool:
        """Whether a series without this label matches."""
        return self.matches("")

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Matcher)
            and (self.op, self.name, self.value) == (other.op, other.name, other.value)
        )

    def __hash__(self) -> int:
        return hash((self.op, self.name, self.value))

    def __str__(self) -> str:
        return f'{_fmt_name(self.name)}{self.op.value}"{_escape(self.value)}"'

    __repr__ = __str__


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels.get(m.name)) for m in matchers)
