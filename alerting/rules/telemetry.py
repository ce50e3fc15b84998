"""The rule manager's own metrics, declared in one place.

Names follow Prometheus's ``prometheus_rule_*`` family as ``spyglass_rules_*``;
per-group series carry ``rule_group="FILE;GROUP"`` like Prometheus's::

    m = RuleMetrics.for_registry(CollectorRegistry())   # a fresh registry per test
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Summary


@dataclass(frozen=True)
class RuleMetrics:
    """Counters and gauges of rule evaluation and template expansion."""

    eval_duration: Summary
    group_duration: Summary
    iterations_missed: Counter
    iterations_scheduled: Counter
    evaluations: Counter
    evaluation_failures: Counter
    group_interval: Gauge
    group_last_eval_timestamp: Gauge
    group_last_duration: Gauge
    group_last_rule_duration_sum: Gauge
    group_last_restore_duration: Gauge
    group_rules: Gauge
    group_samples: Gauge
    template_expansions: Counter
    template_expansion_failures: Counter
    config_last_reload_successful: Gauge
    config_last_reload_success_timestamp: Gauge

    _lock: ClassVar[threading.Lock] = threading.Lock()
    # registry id -> (registry, RuleMetrics): a registry accepts a name once
    _by_registry: ClassVar[dict[int, tuple]] = {}

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None = None) -> RuleMetrics:
        registry = registry if registry is not None else REGISTRY
        with cls._lock:
            got = cls._by_registry.get(id(registry))
            if got is not None and got[0] is registry:
                return got[1]
            m = cls._create(registry)
            cls._by_registry[id(registry)] = (registry, m)
            return m

    @classmethod
    def _create(cls, r: CollectorRegistry) -> RuleMetrics:
        g = ["rule_group"]
        return cls(
            eval_duration=Summary(
                "spyglass_rules_evaluation_duration_seconds", "The duration of one rule evaluation.", registry=r
            ),
            group_duration=Summary(
                "spyglass_rules_group_duration_seconds", "The duration of one rule group evaluation.", registry=r
            ),
            iterations_missed=Counter(
                "spyglass_rules_group_iterations_missed_total",
                "Rule group evaluations missed because an evaluation took too long.",
                g,
                registry=r,
            ),
            iterations_scheduled=Counter(
                "spyglass_rules_group_iterations_total",
                "Rule group evaluations scheduled, whether run or missed.",
                g,
                registry=r,
            ),
            evaluations=Counter(
                "spyglass_rules_evaluations_total", "Rule evaluations.", g, registry=r
            ),
            evaluation_failures=Counter(
                "spyglass_rules_evaluation_failures_total", "Rule evaluations that failed.", g, registry=r
            ),
            group_interval=Gauge(
                "spyglass_rules_group_interval_seconds", "The interval of a rule group.", g, registry=r
            ),
            group_last_eval_timestamp=Gauge(
                "spyglass_rules_group_last_evaluation_timestamp_seconds",
                "When the rule group was last evaluated (its evaluation timestamp).",
                g,
                registry=r,
            ),
            group_last_duration=Gauge(
                "spyglass_rules_group_last_duration_seconds",
                "How long the last evaluation of the rule group took.",
                g,
                registry=r,
            ),
            group_last_rule_duration_sum=Gauge(
                "spyglass_rules_group_last_rule_duration_sum_seconds",
                "The sum of the rules' last evaluation durations in the group.",
                g,
                registry=r,
            ),
            group_last_restore_duration=Gauge(
                "spyglass_rules_group_last_restore_duration_seconds",
                "How long restoring the 'for' state of the group's alerts took.",
                g,
                registry=r,
            ),
            group_rules=Gauge("spyglass_rules_group_rules", "Rules in the group.", g, registry=r),
            group_samples=Gauge(
                "spyglass_rules_group_last_evaluation_samples",
                "Samples returned by the group's last evaluation.",
                g,
                registry=r,
            ),
            template_expansions=Counter(
                "spyglass_rules_template_expansions_total", "Alert template expansions.", registry=r
            ),
            template_expansion_failures=Counter(
                "spyglass_rules_template_expansion_failures_total",
                "Alert template expansions that failed.",
                registry=r,
            ),
            config_last_reload_successful=Gauge(
                "spyglass_rules_config_last_reload_successful",
                "Whether the last rule configuration reload succeeded.",
                registry=r,
            ),
            config_last_reload_success_timestamp=Gauge(
                "spyglass_rules_config_last_reload_success_timestamp_seconds",
                "When the rule configuration was last loaded successfully.",
                registry=r,
            ),
        )

    def forget_group(self, key: str) -> None:
        """Drop a removed group's series."""
        for m in (
            self.iterations_missed,
            self.iterations_scheduled,
            self.evaluations,
            self.evaluation_failures,
            self.group_interval,
            self.group_last_eval_timestamp,
            self.group_last_duration,
            self.group_last_rule_duration_sum,
            self.group_last_restore_duration,
            self.group_rules,
            self.group_samples,
        ):
            try:
                m.remove(key)
            except KeyError:
                pass
