"""Metric families: what a collector returns from one collection.

A family is one metric name with its type, help and label names, and the
label values and value of each of its series. It carries no ``job`` or
``instance``: those are target labels, added when the family is turned into a
``SampleBatch`` (or by whoever scrapes the exposition)::

    fam = FamilyBuilder("node_load1", MetricType.GAUGE, "1m load average.")
    fam.add(0.22)
    families = [fam.build()]
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.interface import MetricType

COUNTER = MetricType.COUNTER
GAUGE = MetricType.GAUGE
# node-exporter exposes netstat and vmstat fields as "untyped"; the storage
# contract calls that type "unknown".
UNTYPED = MetricType.UNKNOWN


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One metric name and its series; ``label_values[i]`` pairs with ``values[i]``."""

    name: str
    type: MetricType
    help: str
    label_names: tuple[str, ...]
    label_values: tuple[tuple[str, ...], ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.values)

    def samples(self) -> list[tuple[dict[str, str], float]]:
        """(labels, value) pairs; for tests and debugging, not hot paths."""
        return [
            (dict(zip(self.label_names, lv)), v) for lv, v in zip(self.label_values, self.values)
        ]

    def value(self, **labels: str) -> float:
        """The value of the series with exactly these labels (KeyError if none)."""
        want = tuple(labels.get(n, "") for n in self.label_names)
        if set(labels) - set(self.label_names):
            raise KeyError(
                f"{self.name} has no label {sorted(set(labels) - set(self.label_names))}"
            )
        for lv, v in zip(self.label_values, self.values):
            if lv == want:
                return v
        raise KeyError(f"{self.name}{labels} not found")


class FamilyBuilder:
    """Collects the series of one family, then freezes them with :meth:`build`."""

    __slots__ = ("_lvs", "_vals", "help", "label_names", "name", "type")

    def __init__(self, name: str, type: MetricType, help: str, label_names: tuple[str, ...] = ()):
        self.name = name
        self.type = type
        self.help = help
        self.label_names = tuple(label_names)
        self._lvs: list[tuple[str, ...]] = []
        self._vals: list[float] = []

    def add(self, value: float, *label_values: str) -> FamilyBuilder:
        if len(label_values) != len(self.label_names):
            raise ValueError(
                f"{self.name}: {len(label_values)} label values for labels {self.label_names}"
            )
        self._lvs.append(label_values)
        self._vals.append(float(value))
        return self

    def __len__(self) -> int:
        return len(self._vals)

    def build(self) -> MetricFamily:
        return MetricFamily(
            self.name, self.type, self.help, self.label_names, tuple(self._lvs), tuple(self._vals)
        )


def single(name: str, type: MetricType, help: str, value: float) -> MetricFamily:
    """A family with one series and no labels."""
    return MetricFamily(name, type, help, (), ((),), (float(value),))


def non_empty(builders: list[FamilyBuilder]) -> list[MetricFamily]:
    """Build the builders that got at least one series (as node-exporter, which
    sends nothing for a family it has no value for)."""
    return [b.build() for b in builders if len(b)]
