"""Scraping Prometheus targets: config, exposition parsers, discovery, loops, manager.

    from collector.scrape import ScrapeManager
    mgr = ScrapeManager(storage); mgr.start(); mgr.apply_config(cfg.scrape_configs, cfg.global_)
"""

from collector.scrape.config import FileSDConfig, RelabelConfig, ScrapeConfig, StaticConfig
from collector.scrape.exposition import ExpositionError, ParsedScrape, parse, parse_series
from collector.scrape.manager import DroppedTarget, ScrapeManager, TargetHealth

__all__ = [
    "DroppedTarget",
    "ExpositionError",
    "FileSDConfig",
    "ParsedScrape",
    "RelabelConfig",
    "ScrapeConfig",
    "ScrapeManager",
    "StaticConfig",
    "TargetHealth",
    "parse",
    "parse_series",
]
