"""SLO specs in Sloth's ``prometheus/v1`` format, turned into Prometheus rules.

For each SLO, three groups, named and labelled as Sloth names them so that its
dashboards and queries work unchanged:

* ``sloth-slo-sli-recordings-<id>``: the SLI error ratio over each alert window
  (``slo:sli_error:ratio_rate5m`` ... ``_rate3d``) and over the SLO period,
  the latter averaged from the 5m ratio;
* ``sloth-slo-meta-recordings-<id>``: objective, error budget, period, current
  and period burn rates, and ``slo:period_error_budget_remaining:ratio``;
* ``sloth-slo-alerts-<id>``: multi-window multi-burn-rate alerts, a page alert
  (5m/1h at 14.4x, 30m/6h at 6x) and a ticket alert (2h/1d at 3x, 6h/3d at 1x)
  for the 30-day period.

    doc = generate_from_text(open("slo.yml").read())   # Prometheus rule YAML

SLI ``events`` and ``raw`` queries are supported; Sloth's SLI and SLO plugins,
OpenSLO and Kubernetes CRD inputs are not (they are rejected with a message).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from alerting.template import Template, TemplateError
from spyglass.configtypes import format_duration_ms

SPEC_VERSION = "prometheus/v1"

SLI_ERROR_METRIC = "slo:sli_error:ratio_rate"
LABEL_ID, LABEL_SLO, LABEL_SERVICE = "sloth_id", "sloth_slo", "sloth_service"
LABEL_WINDOW, LABEL_SEVERITY = "sloth_window", "sloth_severity"

_NAME_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")
_WINDOW_VAR_RE = re.compile(r"{{ *\.window *}}")

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class SLOSpecError(ValueError):
    """An SLO spec Spyglass cannot turn into rules; the message says why."""


@dataclass(frozen=True, slots=True)
class MWMBAlert:
    """One window pair of a multi-window multi-burn-rate alert."""

    short_window_ms: int
    long_window_ms: int
    # percent of the period's error budget consumed during the long window
    budget_percent: float
    # "page" or "ticket"
    severity: str

    def burn_rate_factor(self, period_ms: int) -> float:
        """How fast the budget burns when this share of it goes in the long window
        (computed in Sloth's order, so the float prints the same)."""
        hours_required = self.budget_percent * (period_ms / HOUR) / 100
        return hours_required / (self.long_window_ms / HOUR)


# Google SRE workbook parameters for a 30-day period (Sloth's default).
WINDOWS_30D = {
    "page_quick": MWMBAlert(5 * MINUTE, HOUR, 2, "page"),
    "page_slow": MWMBAlert(30 * MINUTE, 6 * HOUR, 5, "page"),
    "ticket_quick": MWMBAlert(2 * HOUR, DAY, 10, "ticket"),
    "ticket_slow": MWMBAlert(6 * HOUR, 3 * DAY, 10, "ticket"),
}
PERIOD_MS = 30 * DAY


def _dur(ms: int) -> str:
    return format_duration_ms(ms)


def _sli_metric(window_ms: int) -> str:
    return SLI_ERROR_METRIC + _dur(window_ms)


def _merge(*maps: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps:
        if m:
            out.update({str(k): "" if v is None else str(v) for k, v in m.items()})
    return out


def _label_filter(labels: Mapping[str, str]) -> str:
    """prometheus/common LabelSet.String(): ``{a="b", c="d"}``."""
    from alerting.template.gofmt import go_quote

    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items())) + "}"


def _go_float(v: float) -> str:
    """Go's %g / %v of a float64 (shortest representation)."""
    from alerting.template.gofmt import sprintf

    return sprintf("%g", v)


def _render(tpl: str, data, what: str) -> str:
    t = Template(missingkey="error", name="sliExpr")
    try:
        return t.execute_string(tpl, data, name="sliExpr")
    except TemplateError as e:
        raise SLOSpecError(f"could not render {what}: {e}") from None


@dataclass
class _SLO:
    id: str
    name: str
    service: str
    objective: float
    labels: dict[str, str]
    error_query: str | None
    total_query: str | None
    raw_query: str | None
    page: dict | None  # {"name", "labels", "annotations"} or None when disabled
    ticket: dict | None


def _parse_spec(spec: Mapping, parse_expr) -> list[_SLO]:
    if not isinstance(spec, Mapping):
        raise SLOSpecError("an SLO spec must be a YAML mapping")
    if spec.get("version") != SPEC_VERSION:
        raise SLOSpecError(f'invalid spec version, should be "{SPEC_VERSION}"')
    slos = spec.get("slos") or []
    if not slos:
        raise SLOSpecError("at least one SLO is required")
    if spec.get("slo_plugins"):
        raise SLOSpecError("Sloth SLO plugins (slo_plugins) are not supported")
    service = str(spec.get("service") or "")
    out = []
    for s in slos:
        name = str(s.get("name") or "")
        where = f"SLO {name!r}" if name else "an SLO"
        if s.get("plugins"):
            raise SLOSpecError(f"{where}: Sloth SLO plugins are not supported")
        sli = s.get("sli") or {}
        if sli.get("plugin"):
            raise SLOSpecError(f"{where}: Sloth SLI plugins are not supported")
        events, raw = sli.get("events"), sli.get("raw")
        slo = _SLO(
            id=f"{service}-{name}",
            name=name,
            service=service,
            objective=float(s.get("objective") or 0),
            labels=_merge(spec.get("labels"), s.get("labels")),
            error_query=events.get("error_query") if events else None,
            total_query=events.get("total_query") if events else None,
            raw_query=raw.get("error_ratio_query") if raw else None,
            page=None,
            ticket=None,
        )
        alerting = s.get("alerting") or {}
        for kind in ("page", "ticket"):
            a = alerting.get(f"{kind}_alert") or {}
            if a.get("disable"):
                continue
            meta = {
                "name": str(alerting.get("name") or ""),
                "labels": _merge(alerting.get("labels"), a.get("labels")),
                "annotations": _merge(alerting.get("annotations"), a.get("annotations")),
            }
            setattr(slo, kind, meta)
        _validate(slo, where, parse_expr)
        out.append(slo)
    return out


def _validate(slo: _SLO, where: str, parse_expr) -> None:
    for what, v in (("SLO ID", slo.id), ("SLO name", slo.name), ("SLO service", slo.service)):
        if not _NAME_RE.match(v):
            raise SLOSpecError(
                f"{where}: invalid {what}: name must start and end with an alphanumeric and can only "
                "contain alphanumeric, '.', '_', and '-'"
            )
    if not 0 < slo.objective <= 100:
        raise SLOSpecError(f"{where}: objective must >0 and <=100")
    kinds = [q for q in (slo.error_query is not None, slo.raw_query is not None) if q]
    if not kinds:
        raise SLOSpecError(f"{where}: invalid SLI: at least one SLI type is required")
    if len(kinds) > 1:
        raise SLOSpecError(f"{where}: invalid SLI: only one SLI type is allowed")
    queries = (
        [("sli error query", slo.error_query), ("sli total query", slo.total_query)]
        if slo.error_query is not None
        else [("sli raw query", slo.raw_query)]
    )
    if slo.error_query is not None and slo.error_query == slo.total_query:
        raise SLOSpecError(f"{where}: invalid SLI: both error and total queries can't be the same")
    for what, q in queries:
        if not q:
            raise SLOSpecError(f"{where}: invalid SLI: {what} template: query template is required")
        if not _WINDOW_VAR_RE.search(q):
            raise SLOSpecError(f"{where}: invalid SLI: {what} template: template must contain the {{{{ .window }}}} variable")
        expr = _render(q, {"window": "1m"}, what)
        try:
            parse_expr(expr)
        except Exception as e:  # noqa: BLE001 - any parse failure makes the spec invalid
            raise SLOSpecError(f"{where}: invalid SLI: {what} expression: {e}") from None
    for kind in ("page", "ticket"):
        meta = getattr(slo, kind)
        if meta is not None and not meta["name"]:
            raise SLOSpecError(f"{where}: invalid alert: {kind} alert: alert name is required")


def _sli_rules(slo: _SLO) -> list[dict]:
    id_labels = {LABEL_ID: slo.id, LABEL_SLO: slo.name, LABEL_SERVICE: slo.service}
    windows = sorted(
        {w for a in WINDOWS_30D.values() for w in (a.short_window_ms, a.long_window_ms)}
    )
    rules = []
    for w in windows + [PERIOD_MS]:
        sw = _dur(w)
        if w == PERIOD_MS:
            short = WINDOWS_30D["page_quick"].short_window_ms
            expr = (
                f"sum_over_time({_sli_metric(short)}{_label_filter(id_labels)}[{sw}])\n"
                f"/ ignoring ({LABEL_WINDOW})\n"
                f"count_over_time({_sli_metric(short)}{_label_filter(id_labels)}[{sw}])\n"
            )
        elif slo.error_query is not None:
            tpl = f"({slo.error_query})\n/\n({slo.total_query})\n"
            expr = _render(tpl, {"window": sw}, "the SLI expression")
        else:
            expr = _render(f"({slo.raw_query})", {"window": sw}, "the SLI expression")
        rules.append(
            {"record": _sli_metric(w), "expr": expr, "labels": _merge(id_labels, {LABEL_WINDOW: sw}, slo.labels)}
        )
    return rules


def _meta_rules(slo: _SLO, version: str, mode: str) -> list[dict]:
    id_labels = {LABEL_ID: slo.id, LABEL_SLO: slo.name, LABEL_SERVICE: slo.service}
    labels = _merge(id_labels, slo.labels)
    flt = _label_filter(id_labels)
    ratio = slo.objective / 100
    quick_short = WINDOWS_30D["page_quick"].short_window_ms

    def burn(metric: str) -> str:
        return (
            f"{metric}{flt}\n/ on({LABEL_ID}, {LABEL_SLO}, {LABEL_SERVICE}) group_left\n"
            f"slo:error_budget:ratio{flt}\n"
        )

    from alerting.template.gofmt import format_float

    return [
        {"record": "slo:objective:ratio", "expr": f"vector({_go_float(ratio)})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{_go_float(ratio)})", "labels": labels},
        {"record": "slo:time_period:days", "expr": f"vector({_go_float(PERIOD_MS / DAY)})", "labels": labels},
        {"record": "slo:current_burn_rate:ratio", "expr": burn(_sli_metric(quick_short)), "labels": labels},
        {"record": "slo:period_burn_rate:ratio", "expr": burn(_sli_metric(PERIOD_MS)), "labels": labels},
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{flt}",
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": _merge(
                labels,
                {
                    "sloth_version": version,
                    "sloth_mode": mode,
                    "sloth_spec": SPEC_VERSION,
                    "sloth_objective": format_float(slo.objective, "f", -1),
                },
            ),
        },
    ]


_MWMB_TPL = """(
    max({{ .QuickShortMetric }}{{ .MetricFilter}} > ({{ .QuickShortBurnFactor }} * {{ .ErrorBudgetRatio }})) without ({{ .WindowLabel }})
    and
    max({{ .QuickLongMetric }}{{ .MetricFilter}} > ({{ .QuickLongBurnFactor }} * {{ .ErrorBudgetRatio }})) without ({{ .WindowLabel }})
)
or
(
    max({{ .SlowShortMetric }}{{ .MetricFilter }} > ({{ .SlowShortBurnFactor }} * {{ .ErrorBudgetRatio }})) without ({{ .WindowLabel }})
    and
    max({{ .SlowQuickMetric }}{{ .MetricFilter }} > ({{ .SlowQuickBurnFactor }} * {{ .ErrorBudgetRatio }})) without ({{ .WindowLabel }})
)
"""


def _alert_rules(slo: _SLO) -> list[dict]:
    id_labels = {LABEL_ID: slo.id, LABEL_SLO: slo.name, LABEL_SERVICE: slo.service}
    rules = []
    for kind in ("page", "ticket"):
        meta = getattr(slo, kind)
        if meta is None:
            continue
        quick, slow = WINDOWS_30D[f"{kind}_quick"], WINDOWS_30D[f"{kind}_slow"]
        data = {
            "MetricFilter": _label_filter(id_labels),
            "ErrorBudgetRatio": (100 - slo.objective) / 100,
            "QuickShortMetric": _sli_metric(quick.short_window_ms),
            "QuickShortBurnFactor": quick.burn_rate_factor(PERIOD_MS),
            "QuickLongMetric": _sli_metric(quick.long_window_ms),
            "QuickLongBurnFactor": quick.burn_rate_factor(PERIOD_MS),
            "SlowShortMetric": _sli_metric(slow.short_window_ms),
            "SlowShortBurnFactor": slow.burn_rate_factor(PERIOD_MS),
            "SlowQuickMetric": _sli_metric(slow.long_window_ms),
            "SlowQuickBurnFactor": slow.burn_rate_factor(PERIOD_MS),
            "WindowLabel": LABEL_WINDOW,
        }
        expr = _render(_MWMB_TPL, data, "the alert expression")
        extra_ann = {
            "title": f"({kind}) {{{{$labels.{LABEL_SERVICE}}}}} {{{{$labels.{LABEL_SLO}}}}} SLO error budget burn rate is too fast.",
            "summary": f"{{{{$labels.{LABEL_SERVICE}}}}} {{{{$labels.{LABEL_SLO}}}}} SLO error budget burn rate is over expected.",
        }
        rules.append(
            {
                "alert": meta["name"],
                "expr": expr,
                "labels": _merge({LABEL_SEVERITY: kind}, meta["labels"]),
                "annotations": _merge(extra_ann, meta["annotations"]),
            }
        )
    return rules


def rule_groups(
    spec: Mapping,
    *,
    extra_labels: Mapping[str, str] | None = None,
    version: str = "spyglass",
    mode: str = "cli-gen-prom",
    parse_expr=None,
) -> list[dict]:
    """The Prometheus rule groups (plain dicts, as in a rule file) for one spec."""
    if parse_expr is None:
        from storage.promql import Engine

        parse_expr = Engine().parse
    groups = []
    for slo in _parse_spec(spec, parse_expr):
        slo.labels = _merge(extra_labels, slo.labels)
        groups.append({"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": _sli_rules(slo)})
        groups.append({"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": _meta_rules(slo, version, mode)})
        alerts = _alert_rules(slo)
        if alerts:
            groups.append({"name": f"sloth-slo-alerts-{slo.id}", "rules": alerts})
    return groups


class _Dumper(yaml.SafeDumper):
    pass


def _str_repr(dumper, s: str):
    if "\n" in s:
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", s)


def _dict_repr(dumper, d: dict):
    # rules keep their field order (record/alert, expr, labels, annotations);
    # label and annotation maps are sorted like Go's YAML encoder sorts them
    keys = list(d)
    if not ({"record", "alert", "expr", "name", "rules", "groups"} & set(keys)):
        keys = sorted(keys)
    return dumper.represent_mapping("tag:yaml.org,2002:map", [(k, d[k]) for k in keys])


_Dumper.add_representer(str, _str_repr)
_Dumper.add_representer(dict, _dict_repr)

HEADER = "# Code generated by Spyglass from a Sloth prometheus/v1 SLO spec.\n# DO NOT EDIT.\n\n"


def generate_from_text(text: str, **kw) -> str:
    """Rule YAML for every spec document in ``text`` (``---``-separated)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise SLOSpecError(f"could not read the spec YAML: {e}") from None
    if not docs:
        raise SLOSpecError("spec is required")
    out = []
    for d in docs:
        groups = rule_groups(d, **kw)
        out.append("---\n" + HEADER + yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=1 << 16))
    return "".join(out)
