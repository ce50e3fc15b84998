"""The UI role's wiring decisions."""

from __future__ import annotations

import dataclasses

from spyglass.config import parse_config
from spyglass.roles.ui import UIRole
from spyglass.server import RunOptions


class _Role(UIRole):
    def __init__(self, yaml_text: str, host_metrics: bool = True):
        self.config = parse_config(yaml_text, "test.yml")
        self.options = dataclasses.replace(RunOptions(), host_metrics=host_metrics)


def test_panels_step_floor_is_the_shortest_collection_interval():
    # Prometheus's default global interval is 1m; host metrics come every 15 s
    assert _Role("{}")._collection_interval_s() == 15.0
    assert _Role("{}", host_metrics=False)._collection_interval_s() == 60.0
    assert _Role("host_metrics: {interval: 30s}")._collection_interval_s() == 30.0
    assert _Role("""
global: {scrape_interval: 1m}
scrape_configs:
  - job_name: fast
    scrape_interval: 5s
    static_configs: [{targets: ["a:9100"]}]
  - job_name: default
    static_configs: [{targets: ["b:9100"]}]
""", host_metrics=False)._collection_interval_s() == 5.0
    assert _Role("host_metrics: {enabled: false}\nglobal: {scrape_interval: 20s}")._collection_interval_s() == 20.0
