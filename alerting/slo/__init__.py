"""``spyglass slo generate SPEC``: Sloth ``prometheus/v1`` SLO specs to Prometheus rules.

    from alerting.slo import generate
    print(generate("slo.yml"))          # rule YAML, loadable by Spyglass or Prometheus

See ``alerting.slo.sloth`` for what is generated (SLI ratios per window,
metadata with the error budget remaining, multi-window multi-burn-rate alerts).
"""

from __future__ import annotations

from pathlib import Path

from alerting.slo.sloth import SLOSpecError, generate_from_text, rule_groups

__all__ = ["SLOSpecError", "generate", "generate_from_text", "rule_groups"]


def generate(spec_path: str | Path, **kw) -> str:
    """The Prometheus rule YAML for the SLO spec file at ``spec_path``; raises SLOSpecError.

    Keyword options: ``extra_labels`` (added to every rule, like Sloth's
    ``--extra-labels``), ``version`` and ``mode`` (the ``sloth_slo_info`` labels)."""
    try:
        text = Path(spec_path).read_text(encoding="utf-8")
    except OSError as e:
        raise SLOSpecError(f"could not read {spec_path}: {e.strerror or e}") from None
    return generate_from_text(text, **kw)
