"""Scraping Prometheus targets: config, exposition parsers, discovery, loops, manager."""
