"""Rule files the built-in and imported Kubernetes dashboards depend on."""

from pathlib import Path

KUBERNETES_MIXIN_RULES = Path(__file__).with_name("kubernetes-mixin.rules.yaml")
