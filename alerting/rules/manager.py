"""The rule manager: loads rule files, schedules their groups with apscheduler,
and reloads them without losing alert state.

A reload that fails (a file that does not parse, a bad expression) keeps the
last good rules running and reports every problem with file and line::

    mgr = Manager(ManagerOptions(query_func=engine_query_func(engine, tsdb),
                                 appendable=tsdb, queryable=tsdb, notify=send))
    mgr.update(["/etc/rules/*.yml"])      # raises RuleLoadError, keeps the old rules
    mgr.start()
    ...
    mgr.stop()
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from alerting.rules.alerting import AlertingRule
from alerting.rules.file import RuleFile, RuleFileError, load_file
from alerting.rules.group import Group, GroupOptions, build_rule, group_key
from alerting.rules.rule import NotifyFunc, QueryFunc
from alerting.rules.telemetry import RuleMetrics
from storage.interface import STALE_NAN, Appendable, Queryable, SampleBatch

log = logging.getLogger("spyglass.rules")

BUILTIN_DIR = Path(__file__).parent / "builtin"


def builtin_rule_files() -> list[str]:
    """The rule files Spyglass ships (the kubernetes-mixin recording rules)."""
    return sorted(str(p) for p in BUILTIN_DIR.glob("*.yaml"))


class RuleLoadError(Exception):
    """Rule files could not be loaded; the previous rules keep running.

    ``errors`` lists each problem, prefixed with its file (and line)."""

    def __init__(self, errors: list[str]):
        super().__init__("error loading rules, previous rule set restored:\n" + "\n".join(errors))
        self.errors = errors


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class ManagerOptions:
    """Collaborators and settings of a rule manager (Prometheus's rules.ManagerOptions
    plus the global config's ``evaluation_interval`` and ``rule_query_offset``)."""

    # runs a rule's instant query: (expr, t_ms) -> vector (see rule.engine_query_func)
    query_func: QueryFunc
    # where recording results and ALERTS / ALERTS_FOR_STATE are written
    appendable: Appendable
    # reads ALERTS_FOR_STATE back to restore alerts after a restart (None: no restore)
    queryable: Queryable | None = None
    # receives alerts to (re)send: notify(expr, alerts)
    notify: NotifyFunc | None = None
    # the current time in ms; inject a fake clock in tests
    clock: Callable[[], int] = _wall_ms
    # prometheus_client registry for the manager's metrics (None: the default registry)
    registry: CollectorRegistry | None = None
    # interval of groups without their own (global.evaluation_interval), ms
    evaluation_interval_ms: int = 60_000
    # query offset of groups without their own (global.rule_query_offset), ms
    rule_query_offset_ms: int = 0
    # labels every alert gets in $externalLabels and notifications (global.external_labels)
    external_labels: Mapping[str, str] = field(default_factory=dict)
    # this server's URL (--web.external-url), for $externalURL and generator URLs
    external_url: str = ""
    # minimum time between re-sending a firing alert (--rules.alert.resend-delay), ms
    resend_delay_ms: int = 60_000
    # longest outage after which pending time is restored (--rules.alert.for-outage-tolerance), ms
    outage_tolerance_ms: int = 3_600_000
    # restored alerts wait at least this long before firing (--rules.alert.for-grace-period), ms
    for_grace_period_ms: int = 600_000
    # Prometheus 2.x's name charset instead of 3.x's UTF-8 names
    legacy_names: bool = False


class Manager:
    """Owns the rule groups and their schedule."""

    def __init__(self, opts: ManagerOptions, scheduler: BackgroundScheduler | None = None):
        self.opts = opts
        self.metrics = RuleMetrics.for_registry(opts.registry)
        self._gopts = GroupOptions(
            query_func=opts.query_func,
            appendable=opts.appendable,
            queryable=opts.queryable,
            notify=opts.notify,
            clock=opts.clock,
            metrics=self.metrics,
            external_url=opts.external_url,
            resend_delay_ms=opts.resend_delay_ms,
            outage_tolerance_ms=opts.outage_tolerance_ms,
            for_grace_period_ms=opts.for_grace_period_ms,
            default_query_offset_ms=opts.rule_query_offset_ms,
        )
        self._scheduler = scheduler
        self._own_scheduler = scheduler is None
        self._groups: dict[str, Group] = {}
        self._files: list[str] = []
        self._lock = threading.RLock()
        self._started = False
        self._restored = False  # True once the first load happened (reloads do not restore)

    # --- loading --------------------------------------------------------------------
    def load_groups(self, patterns: Iterable[str]) -> dict[str, Group]:
        """Parse the files matched by ``patterns`` into new groups (not yet running);
        raises RuleLoadError listing every problem."""
        files = expand_patterns(patterns)
        errors: list[str] = []
        parsed: list[RuleFile] = []
        for f in files:
            try:
                parsed.append(load_file(f, legacy_names=self.opts.legacy_names))
            except RuleFileError as e:
                errors.extend(e.errors)
        if errors:
            raise RuleLoadError(errors)
        should_restore = not self._restored
        groups: dict[str, Group] = {}
        for rf in parsed:
            for g in rf.groups:
                rules = [
                    build_rule(
                        spec,
                        g.labels,
                        self.opts.external_labels,
                        self.opts.external_url,
                        restored=not should_restore,
                        metrics=self.metrics,
                    )
                    for spec in g.rules
                ]
                groups[group_key(rf.path, g.name)] = Group(
                    g.name,
                    rf.path,
                    rules,
                    g.interval_ms or self.opts.evaluation_interval_ms,
                    self._gopts,
                    limit=g.limit,
                    query_offset_ms=g.query_offset_ms,
                    should_restore=should_restore,
                )
        return groups

    def update(self, patterns: Iterable[str]) -> None:
        """Load ``patterns`` and switch to them: unchanged groups keep running, changed
        ones take over their predecessor's alerts, removed ones get their series
        marked stale. On error the current rules stay and RuleLoadError is raised."""
        patterns = list(patterns)
        with self._lock:
            try:
                new = self.load_groups(patterns)
            except RuleLoadError:
                self.metrics.config_last_reload_successful.set(0)
                raise
            self._restored = True
            self._files = expand_patterns(patterns)
            old = self._groups
            result: dict[str, Group] = {}
            for key, ng in new.items():
                og = old.pop(key, None)
                if og is not None and og.equals(ng):
                    result[key] = og
                    continue
                if og is not None:
                    self._unschedule(og)
                    with og._eval_lock:  # let a running evaluation finish
                        ng.copy_state_from(og)
                result[key] = ng
                if self._started:
                    self._schedule(ng)
            for key, og in old.items():
                self._unschedule(og)
                self._retire(og)
                self.metrics.forget_group(key)
            self._groups = result
            self.metrics.config_last_reload_successful.set(1)
            self.metrics.config_last_reload_success_timestamp.set(self.opts.clock() / 1000.0)

    def _retire(self, g: Group) -> None:
        """Mark a removed group's series stale after two intervals (giving a renamed
        rule time to write them first), unless the manager stops before."""
        series = g.all_series()
        if not series:
            return
        ts_ms = self.opts.clock()

        def mark_stale():
            t = ts_ms - g.query_offset_ms
            try:
                self.opts.appendable.append(SampleBatch.from_samples([(ls, t, STALE_NAN) for ls in series]))
            except Exception as e:  # noqa: BLE001 - staleness markers are best effort
                log.warning("marking series of removed group %r stale failed: %s", g.key, e)

        if self._started and self._scheduler is not None:
            run_at = _dt.datetime.now(_dt.UTC) + _dt.timedelta(milliseconds=2 * g.interval_ms)
            self._scheduler.add_job(mark_stale, DateTrigger(run_date=run_at), id=f"stale:{g.key}:{id(g)}")
        else:
            mark_stale()

    # --- scheduling ------------------------------------------------------------------
    def start(self) -> None:
        """Start evaluating on schedule."""
        with self._lock:
            if self._started:
                return
            if self._scheduler is None:
                self._scheduler = BackgroundScheduler(timezone=_dt.UTC)
            if not self._scheduler.running:
                self._scheduler.start()
            self._started = True
            for g in self._groups.values():
                self._schedule(g)

    def stop(self) -> None:
        """Stop evaluating; waits for running evaluations."""
        with self._lock:
            if not self._started:
                return
            for g in self._groups.values():
                self._unschedule(g)
            self._started = False
            if self._own_scheduler and self._scheduler is not None:
                self._scheduler.shutdown(wait=True)
                self._scheduler = None

    def _job_id(self, g: Group) -> str:
        return f"rules:{g.key}:{id(g)}"

    def _schedule(self, g: Group) -> None:
        now_ns = self.opts.clock() * 1_000_000
        first_ns = g.first_eval_ns(now_ns)
        # apscheduler runs on the wall clock; the group's own clock decides the slot
        delay_s = max(0.0, (first_ns - now_ns) / 1e9)
        start = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=delay_s)
        self._scheduler.add_job(
            g.run_iteration,
            IntervalTrigger(seconds=g.interval_ms / 1000.0, start_date=start, timezone=_dt.UTC),
            id=self._job_id(g),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=start,
        )

    def _unschedule(self, g: Group) -> None:
        if self._scheduler is None:
            return
        # Not scheduled when never started or already removed.
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(self._job_id(g))

    # --- views ------------------------------------------------------------------------
    def rule_groups(self) -> list[Group]:
        """Groups sorted by file, then name (as the API lists them)."""
        with self._lock:
            return sorted(self._groups.values(), key=lambda g: (g.file, g.name))

    def alerting_rules(self) -> list[AlertingRule]:
        return [r for g in self.rule_groups() for r in g.alerting_rules()]

    @property
    def files(self) -> list[str]:
        return list(self._files)


def expand_patterns(patterns: Iterable[str]) -> list[str]:
    """Files matched by glob patterns, each once, in pattern order."""
    out: list[str] = []
    seen = set()
    for p in patterns:
        matches = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        for f in matches:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out
