"""How OTLP metrics are turned into Prometheus series (the ``otlp:`` config section)."""

from __future__ import annotations

from pydantic import Field

from spyglass.configtypes import ConfigModel, Duration


class OTLPOptions(ConfigModel):
    """Translation switches of the OTLP receiver; the defaults follow the
    OpenTelemetry specification's Prometheus compatibility rules::

        OTLPOptions(promote_resource_attributes=["k8s.namespace.name"])
    """

    # Append unit (`_seconds`, `_bytes`, `_ratio`) and type (`_total`) suffixes
    # to metric names. False keeps the sanitized OTel name as it is.
    add_metric_suffixes: bool = True
    # Put `otel_scope_name` / `otel_scope_version` labels on every series (the
    # spec's default); turn off to keep series identities scope-independent.
    scope_labels: bool = True
    # Emit `otel_scope_info{otel_scope_name, otel_scope_version, <scope attributes>} 1`
    # for instrumentation scopes that have attributes.
    scope_info: bool = True
    # Emit `target_info{job, instance, <resource attributes>} 1` for resources
    # with attributes besides service.name / service.namespace / service.instance.id.
    target_info: bool = True
    # Resource attributes copied onto every series of the resource as labels
    # (a data point attribute of the same name wins), e.g. "k8s.pod.name".
    promote_resource_attributes: list[str] = Field(default_factory=list)
    # Delta sums and histograms are accumulated into cumulative ones in memory,
    # per stream. At most this many streams are tracked; points of new
    # streams beyond it are rejected (reported in partial_success) so memory
    # stays bounded.
    delta_max_streams: int = Field(default=100_000, gt=0)
    # A delta stream with no point for this long is forgotten (its next
    # point starts a new cumulative series from zero, which PromQL's rate()
    # treats as a counter reset).
    delta_stale_after: Duration = 3600.0
