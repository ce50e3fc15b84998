"""``ExportMetricsServiceRequest`` → ``SampleBatch``, with the OpenTelemetry
specification's Prometheus mapping.

- Names and labels: see :mod:`naming`. Every series gets ``job``
  (``service.namespace/service.name``) and ``instance``
  (``service.instance.id``) from its resource, and by default
  ``otel_scope_name`` / ``otel_scope_version``.
- Gauge → gauge. Monotonic sum → counter (``_total``). Non-monotonic sum →
  gauge. Delta sums and histograms are accumulated into cumulative ones
  (:mod:`delta`); points with unspecified temporality are rejected.
- Histogram → ``_bucket{le}`` (cumulative over buckets, ``+Inf`` = count),
  ``_sum`` (when the point has one), ``_count``.
- Exponential histogram → rejected: Spyglass stores no native histograms; the
  partial_success message says to use explicit-bucket histograms.
- Summary → ``{quantile}`` series, ``_sum``, ``_count``.
- A point flagged "no recorded value" becomes a stale marker on all its series.
- Resource attributes other than the three service ones → ``target_info``;
  scopes with attributes → ``otel_scope_info``; both gauges of value 1 at the
  latest timestamp of their points.
- Exemplars are counted, not stored. ``_created`` series are not produced.

    t = Translator(OTLPOptions(), LabelLimits())
    out = t.translate(request)     # Translated(batch, points, rejected, ...)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.receivers.batchbuilder import BatchBuilder
from collector.receivers.errors import IngestError
from collector.receivers.labelcache import LabelCache
from collector.receivers.otlp.delta import DeltaAccumulator, DeltaRefusal
from collector.receivers.otlp.naming import (
    MetricKind,
    format_float,
    metric_name,
    prometheus_unit,
    raw_attributes,
    sanitize_pairs,
)
from collector.receivers.otlp.options import OTLPOptions
from collector.receivers.telemetry import DROP_EXPONENTIAL_HISTOGRAM, DROP_INVALID_LABELS
from storage.interface import STALE_NAN, MetricMetadata, MetricType, SampleBatch
from storage.labels import DEFAULT_LABEL_LIMITS, METRIC_NAME, InvalidLabels, LabelLimits, Labels

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
NO_RECORDED_VALUE = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

DROP_INVALID_TEMPORALITY = "invalid_temporality"
DROP_INVALID_HISTOGRAM = "invalid_histogram"
DROP_EMPTY_NAME = "invalid_metric_name"

_SERVICE_KEYS = ("service.name", "service.namespace", "service.instance.id")
_MAX_MESSAGES = 10


@dataclass(slots=True)
class Translated:
    """The batch to append, and an account of what did not make it into it."""

    batch: SampleBatch
    points: int = 0  # OTLP data points in the request
    rejected_points: int = 0  # data points left out (partial_success.rejected_data_points)
    dropped: dict[str, int] = field(default_factory=dict)  # reason → samples/points left out
    errors: list[str] = field(default_factory=list)
    exemplars: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class _Resource:
    """A resource's contribution to labels; compared by identity, so a cache
    key holding one hashes in O(1)."""

    base: tuple[tuple[str, str], ...]  # job/instance: override point attributes
    promoted: tuple[tuple[str, str], ...]  # promoted attributes: only where the point has none
    target: tuple[tuple[str, str], ...]  # target_info labels (without job/instance)
    info: _Resource | None  # the same resource as info series see it


class _Request:
    """Per-request scratch: the batch under construction and the account."""

    __slots__ = ("b", "metadata", "now_ms", "out")

    def __init__(self, now_ms: int):
        self.b = BatchBuilder()
        self.out = Translated(batch=None)  # type: ignore[arg-type]
        self.metadata: dict[str, MetricMetadata] = {}
        self.now_ms = now_ms

    def reject(self, reason: str, points: int, samples: int | None = None, message: str | None = None):
        o = self.out
        o.rejected_points += points
        n = points if samples is None else samples
        o.dropped[reason] = o.dropped.get(reason, 0) + n
        if message and len(o.errors) < _MAX_MESSAGES and message not in o.errors:
            o.errors.append(message)


def _add(r: _Request, labels: Labels | InvalidLabels, ts: int, v: float) -> None:
    """Add a derived series' sample (bucket, sum, quantile); its label set can
    break a limit its point's _count did not (one more label, ``le``)."""
    if type(labels) is Labels:
        r.b.add(labels, ts, v)
    else:
        r.out.dropped[DROP_INVALID_LABELS] = r.out.dropped.get(DROP_INVALID_LABELS, 0) + 1
        if len(r.out.errors) < _MAX_MESSAGES:
            r.out.errors.append(str(labels))


class Translator:
    """Turns OTLP export requests into sample batches; holds the label cache
    and the delta accumulator, so one instance serves all OTLP listeners."""

    def __init__(
        self,
        options: OTLPOptions | None = None,
        label_limits: LabelLimits = DEFAULT_LABEL_LIMITS,
        cache_size: int = 100_000,
        max_points: int = 0,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.options = options or OTLPOptions()
        self.limits = label_limits
        self.max_points = max_points
        self.cache = LabelCache(cache_size)
        self.clock_ns = clock_ns
        self.delta = DeltaAccumulator(
            self.options.delta_max_streams, self.options.delta_stale_after, monotonic
        )
        self._resources: dict[tuple[str, ...], _Resource] = {}
        self._promote = frozenset(self.options.promote_resource_attributes)

    # --- labels ---------------------------------------------------------------
    def _resource(self, raw: tuple[str, ...]) -> _Resource:
        r = self._resources.get(raw)
        if r is not None:
            return r
        attrs = dict(zip(raw[0::2], raw[1::2]))
        name, ns, inst = (attrs.get(k, "") for k in _SERVICE_KEYS)
        job = f"{ns}/{name}" if ns and name else name
        base = tuple(p for p in (("job", job), ("instance", inst)) if p[1])
        rest = tuple(x for k, v in zip(raw[0::2], raw[1::2]) if k not in _SERVICE_KEYS for x in (k, v))
        promoted = tuple(
            sanitize_pairs(tuple(x for k, v in zip(raw[0::2], raw[1::2]) if k in self._promote for x in (k, v)))
        )
        target = tuple(p for p in sanitize_pairs(rest) if p[0] not in ("job", "instance"))
        # info series carry exactly job/instance and their attributes, no promoted ones
        r = _Resource(base, promoted, target, _Resource(base, (), (), None))
        if len(self._resources) > 10_000:  # resources are few; this only guards memory
            self._resources.clear()
        self._resources[raw] = r
        return r

    def _labels(self, name: str, res: _Resource, scope: tuple[tuple[str, str], ...],
                raw: tuple[str, ...], extra: tuple[str, str] | None = None) -> Labels | InvalidLabels:
        key = (name, res, scope, raw, extra)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        d = dict(sanitize_pairs(raw))
        for n, v in res.promoted:
            d.setdefault(n, v)
        d.update(scope)
        d.update(res.base)
        d[METRIC_NAME] = name
        if extra:
            d[extra[0]] = extra[1]
        labels = Labels.from_dict(d)
        try:
            labels.validate(self.limits)
        except InvalidLabels as e:
            return self.cache.put(key, e)
        return self.cache.put(key, labels)

    # --- request --------------------------------------------------------------
    def translate(self, req: ExportMetricsServiceRequest) -> Translated:
        r = _Request(self.clock_ns() // 1_000_000)
        opts = self.options
        if self.max_points:
            n = _count_points(req)
            if n > self.max_points:
                raise IngestError(
                    413, f"request has {n} data points, more than the limit of {self.max_points}", "too_large"
                )
        for rm in req.resource_metrics:
            res = self._resource(raw_attributes(rm.resource.attributes))
            res_max_ts = 0
            for sm in rm.scope_metrics:
                scope = sm.scope
                scope_pairs: tuple[tuple[str, str], ...] = ()
                if opts.scope_labels:
                    scope_pairs = tuple(
                        p for p in (("otel_scope_name", scope.name), ("otel_scope_version", scope.version)) if p[1]
                    )
                scope_max_ts = 0
                for metric in sm.metrics:
                    ts = self._metric(r, metric, res, scope_pairs)
                    scope_max_ts = max(scope_max_ts, ts)
                res_max_ts = max(res_max_ts, scope_max_ts)
                if opts.scope_info and scope.attributes and scope_max_ts:
                    info = tuple(
                        p for p in (("otel_scope_name", scope.name), ("otel_scope_version", scope.version)) if p[1]
                    )
                    self._info(r, "otel_scope_info", res, info, raw_attributes(scope.attributes), scope_max_ts,
                               "Instrumentation scope metadata")
            if opts.target_info and res.target and res_max_ts:
                raw = tuple(x for p in res.target for x in p)
                self._info(r, "target_info", res, (), raw, res_max_ts, "Target metadata")
        out = r.out
        out.batch = r.b.batch(r.metadata)
        return out

    def _info(self, r: _Request, name: str, res: _Resource, fixed, raw, ts: int, help_: str) -> None:
        labels = self._labels(name, res.info, tuple(fixed), raw)
        if type(labels) is Labels:
            r.b.add(labels, ts, 1.0)
            r.metadata[name] = MetricMetadata(MetricType.GAUGE, help_, "")

    def _metric(self, r: _Request, metric, res: _Resource, scope) -> int:
        """Translate one metric; returns its latest timestamp (ms) or 0."""
        kind = metric.WhichOneof("data")
        if kind == "gauge":
            return self._numbers(r, metric, metric.gauge.data_points, MetricKind.GAUGE, res, scope, False)
        if kind == "sum":
            s = metric.sum
            mk = MetricKind.COUNTER if s.is_monotonic else MetricKind.UPDOWN
            if s.aggregation_temporality not in (DELTA, CUMULATIVE):
                n = len(s.data_points)
                r.out.points += n
                r.reject(DROP_INVALID_TEMPORALITY, n, message=f"sum {metric.name!r}: aggregation temporality is unspecified")
                return 0
            return self._numbers(r, metric, s.data_points, mk, res, scope, s.aggregation_temporality == DELTA)
        if kind == "histogram":
            return self._histograms(r, metric, res, scope)
        if kind == "summary":
            return self._summaries(r, metric, res, scope)
        if kind == "exponential_histogram":
            n = len(metric.exponential_histogram.data_points)
            r.out.points += n
            r.out.exemplars += sum(len(p.exemplars) for p in metric.exponential_histogram.data_points)
            r.reject(
                DROP_EXPONENTIAL_HISTOGRAM, n,
                message=f"exponential histogram {metric.name!r} not stored: Spyglass has no native "
                        f"histograms; configure the SDK to use explicit bucket histograms",
            )
        return 0

    def _name(self, r: _Request, metric, kind: MetricKind, points: int) -> str:
        name = metric_name(metric.name, metric.unit, kind, self.options.add_metric_suffixes)
        if not name:
            r.out.points += points
            r.reject(DROP_EMPTY_NAME, points, message=f"metric name {metric.name!r} has no usable characters")
        return name

    def _ts(self, r: _Request, time_ns: int) -> int:
        return time_ns // 1_000_000 if time_ns else r.now_ms

    def _numbers(self, r: _Request, metric, points, kind: MetricKind, res, scope, delta: bool) -> int:
        name = self._name(r, metric, kind, len(points))
        if not name:
            return 0
        mtype = {MetricKind.GAUGE: MetricType.GAUGE, MetricKind.COUNTER: MetricType.COUNTER,
                 MetricKind.UPDOWN: MetricType.GAUGE}[kind]
        if kind is MetricKind.GAUGE and metric.metadata:
            for kv in metric.metadata:
                if kv.key == "prometheus.type" and kv.value.string_value == "unknown":
                    mtype = MetricType.UNKNOWN
        r.metadata[name] = MetricMetadata(mtype, metric.description, prometheus_unit(metric.unit, kind))
        out, b = r.out, r.b
        out.points += len(points)
        max_ts = 0
        for p in points:
            if p.exemplars:
                out.exemplars += len(p.exemplars)
            labels = self._labels(name, res, scope, raw_attributes(p.attributes))
            if type(labels) is not Labels:
                r.reject(DROP_INVALID_LABELS, 1, message=f"{name}: {labels}")
                continue
            ts = self._ts(r, p.time_unix_nano)
            if p.flags & NO_RECORDED_VALUE:
                if delta:
                    self.delta.forget(labels)
                v = STALE_NAN
            else:
                v = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
                if delta:
                    acc = self.delta.add_sum(labels, p.start_time_unix_nano, p.time_unix_nano, v)
                    if isinstance(acc, DeltaRefusal):
                        r.reject(str(acc), 1, message=f"{labels}: delta point refused ({acc})")
                        continue
                    v = acc
            b.add(labels, ts, v)
            max_ts = max(max_ts, ts)
        return max_ts

    def _histograms(self, r: _Request, metric, res, scope) -> int:
        h = metric.histogram
        points = h.data_points
        name = self._name(r, metric, MetricKind.HISTOGRAM, len(points))
        if not name:
            return 0
        out = r.out
        out.points += len(points)
        if h.aggregation_temporality not in (DELTA, CUMULATIVE):
            r.reject(DROP_INVALID_TEMPORALITY, len(points),
                     message=f"histogram {metric.name!r}: aggregation temporality is unspecified")
            return 0
        delta = h.aggregation_temporality == DELTA
        r.metadata[name] = MetricMetadata(
            MetricType.HISTOGRAM, metric.description, prometheus_unit(metric.unit, MetricKind.HISTOGRAM)
        )
        bucket, sum_name, count_name = name + "_bucket", name + "_sum", name + "_count"
        max_ts = 0
        for p in points:
            if p.exemplars:
                out.exemplars += len(p.exemplars)
            raw = raw_attributes(p.attributes)
            bounds = tuple(p.explicit_bounds)
            counts = list(p.bucket_counts)
            if counts and len(counts) != len(bounds) + 1 or any(
                not (a < b_) for a, b_ in pairwise(bounds)
            ):
                r.reject(DROP_INVALID_HISTOGRAM, 1, message=(
                    f"histogram {name}: {len(counts)} bucket counts for {len(bounds)} bounds "
                    f"(need bounds+1, bounds strictly increasing)"))
                continue
            count_labels = self._labels(count_name, res, scope, raw)
            if type(count_labels) is not Labels:
                r.reject(DROP_INVALID_LABELS, 1, message=f"{name}: {count_labels}")
                continue
            ts = self._ts(r, p.time_unix_nano)
            stale = bool(p.flags & NO_RECORDED_VALUE)
            count, total, has_sum = p.count, p.sum, p.HasField("sum")
            if delta:
                if stale:
                    self.delta.forget(count_labels)
                else:
                    acc = self.delta.add_histogram(
                        count_labels, p.start_time_unix_nano, p.time_unix_nano, bounds,
                        counts or [0] * (len(bounds) + 1), count, total if has_sum else 0.0,
                    )
                    if isinstance(acc, DeltaRefusal):
                        r.reject(str(acc), 1, message=f"{count_labels}: delta point refused ({acc})")
                        continue
                    counts, count, total = list(acc.counts), acc.count, acc.sum
            b = r.b
            cum = 0
            for i, bound in enumerate(bounds):
                if counts:
                    cum += counts[i]
                lab = self._labels(bucket, res, scope, raw, ("le", format_float(bound)))
                _add(r, lab, ts, STALE_NAN if stale else float(cum))
            _add(r, self._labels(bucket, res, scope, raw, ("le", "+Inf")), ts, STALE_NAN if stale else float(count))
            if has_sum:
                _add(r, self._labels(sum_name, res, scope, raw), ts, STALE_NAN if stale else total)
            b.add(count_labels, ts, STALE_NAN if stale else float(count))
            max_ts = max(max_ts, ts)
        return max_ts

    def _summaries(self, r: _Request, metric, res, scope) -> int:
        points = metric.summary.data_points
        name = self._name(r, metric, MetricKind.SUMMARY, len(points))
        if not name:
            return 0
        r.out.points += len(points)
        r.metadata[name] = MetricMetadata(
            MetricType.SUMMARY, metric.description, prometheus_unit(metric.unit, MetricKind.SUMMARY)
        )
        sum_name, count_name = name + "_sum", name + "_count"
        max_ts = 0
        for p in points:
            raw = raw_attributes(p.attributes)
            count_labels = self._labels(count_name, res, scope, raw)
            if type(count_labels) is not Labels:
                r.reject(DROP_INVALID_LABELS, 1, message=f"{name}: {count_labels}")
                continue
            ts = self._ts(r, p.time_unix_nano)
            stale = bool(p.flags & NO_RECORDED_VALUE)
            b = r.b
            for q in sorted(p.quantile_values, key=lambda q: q.quantile):
                lab = self._labels(name, res, scope, raw, ("quantile", format_float(q.quantile)))
                _add(r, lab, ts, STALE_NAN if stale else q.value)
            _add(r, self._labels(sum_name, res, scope, raw), ts, STALE_NAN if stale else p.sum)
            b.add(count_labels, ts, STALE_NAN if stale else float(p.count))
            max_ts = max(max_ts, ts)
        return max_ts




def _count_points(req: ExportMetricsServiceRequest) -> int:
    n = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind:
                    n += len(getattr(m, kind).data_points)
    return n
