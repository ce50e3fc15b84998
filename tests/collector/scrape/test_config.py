"""Scrape config models: Prometheus defaults, global inheritance, and refusals."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from pydantic import ValidationError

from collector.scrape.config import FileSDConfig, ScrapeConfig, parse_base2_bytes
from spyglass.configtypes import GlobalConfig
from tests.util import peer_binary


def sc(**kw) -> ScrapeConfig:
    return ScrapeConfig.model_validate({"job_name": "j", **kw})


def test_defaults_are_prometheus():
    c = sc()
    assert (c.metrics_path, c.scheme, c.honor_labels, c.honor_timestamps) == ("/metrics", "http", False, True)
    assert c.enable_compression and c.enable_http2 and c.follow_redirects
    r = c.with_global(GlobalConfig())
    assert (r.scrape_interval, r.scrape_timeout) == (60.0, 10.0)
    assert r.scrape_protocols == GlobalConfig().scrape_protocols
    assert r.metric_name_validation_scheme == "utf8" and r.metric_name_escaping_scheme == "allow-utf-8"


def test_timeout_defaults_to_min_of_global_timeout_and_interval():
    r = sc(scrape_interval="5s").with_global(GlobalConfig())
    assert (r.scrape_interval, r.scrape_timeout) == (5.0, 5.0)
    g = GlobalConfig.model_validate({"scrape_interval": "30s", "scrape_timeout": "20s", "sample_limit": 7})
    r = sc().with_global(g)
    assert (r.scrape_interval, r.scrape_timeout, r.sample_limit) == (30.0, 20.0, 7)


def test_timeout_greater_than_global_interval_fails():
    with pytest.raises(ValueError, match='scrape timeout greater than scrape interval for scrape config with job name "j"'):
        sc(scrape_timeout="2m").with_global(GlobalConfig())


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"kubernetes_sd_configs": [{"role": "pod"}]}, "kubernetes_sd_configs is not supported by Spyglass"),
        ({"consul_sd_configs": []}, "consul_sd_configs is not supported by Spyglass"),
        ({"oauth2": {"client_id": "x"}}, "oauth2 is not supported by Spyglass"),
        ({"scrape_native_histograms": True}, "scrape_native_histograms: True is not supported"),
        ({"scrape_failure_log_file": "/tmp/x"}, "scrape_failure_log_file: '/tmp/x' is not supported"),
        ({"no_such_key": 1}, "no_such_key"),
        ({"scrape_interval": "10s", "scrape_timeout": "11s"}, "scrape timeout greater than scrape interval"),
        ({"scrape_protocols": ["PrometheusProto"]}, "PrometheusProto is not supported by Spyglass"),
        ({"scrape_protocols": ["Bogus"]}, "unknown scrape protocol Bogus"),
        ({"scrape_protocols": ["PrometheusText0.0.4", "PrometheusText0.0.4"]}, "duplicated protocol in scrape_protocols"),
        ({"static_configs": [{"targets": ["http://host:80/metrics"]}]}, '"http://host:80/metrics" is not a valid hostname'),
        ({"relabel_configs": [None]}, "empty or null target relabeling rule in scrape config"),
        ({"metric_relabel_configs": [{"action": "hashmod", "target_label": "x"}]}, "requires non-zero modulus"),
        ({"static_configs": [{"targets": ["a:1"], "labels": {"": "x"}}]}, '"" is not a valid label name'),
        ({"basic_auth": {"username": "u", "password": "p"}, "bearer_token": "t"}, "at most one of"),
        ({"body_size_limit": "10XB"}, "units:"),
    ],
)
def test_rejections(extra, message):
    with pytest.raises(ValidationError) as e:
        sc(**extra)
    assert message in str(e.value)


def test_missing_job_name():
    with pytest.raises(ValidationError, match="job_name is empty"):
        ScrapeConfig.model_validate({"static_configs": []})


def test_harmless_prometheus_keys_are_accepted():
    c = sc(always_scrape_classic_histograms=True, scrape_native_histograms=False)
    assert c.job_name == "j"


def test_url_in_target_allowed_when_relabeling():
    # Prometheus only checks for URLs when there are no relabel rules to fix them.
    c = sc(static_configs=[{"targets": ["http://a/b"]}], relabel_configs=[{"action": "labeldrop", "regex": "x"}])
    assert c.static_configs[0].targets == ["http://a/b"]


def test_http_client_block_and_params():
    c = sc(
        basic_auth={"username": "u", "password": "p"},
        tls_config={"insecure_skip_verify": True},
        params={"module": ["if_mib"], "x": "single"},
        body_size_limit="10MB",
    )
    assert c.basic_auth.credentials() == ("u", "p")
    assert c.params == {"module": ["if_mib"], "x": ["single"]}
    assert c.body_size_limit == 10 << 20
    assert "p" not in repr(c.basic_auth.password)


def test_base2_bytes():
    assert parse_base2_bytes("0") == 0
    assert parse_base2_bytes("512B") == 512
    assert parse_base2_bytes("1KB") == parse_base2_bytes("1KiB") == 1024
    assert parse_base2_bytes("3GB") == 3 << 30
    with pytest.raises(ValueError):
        parse_base2_bytes("12")


def test_file_sd_name_and_defaults():
    f = FileSDConfig.model_validate({"files": ["/etc/targets/*.json"]})
    assert f.refresh_interval == 300.0
    with pytest.raises(ValidationError, match='path name "/etc/t.txt" is not valid for file discovery'):
        FileSDConfig.model_validate({"files": ["/etc/t.txt"]})
    with pytest.raises(ValidationError, match="must contain at least one path name"):
        FileSDConfig.model_validate({"files": []})


@pytest.mark.peer
def test_promtool_accepts_what_we_accept(tmp_path):
    """A realistic scrape config: both real promtool and we accept it."""
    promtool = peer_binary("promtool")
    (tmp_path / "t.json").write_text("[]")
    cfg = {
        "global": {"scrape_interval": "15s"},
        "scrape_configs": [
            {
                "job_name": "node",
                "scrape_interval": "10s",
                "honor_labels": True,
                "params": {"collect[]": ["cpu"]},
                "basic_auth": {"username": "u", "password": "p"},
                "static_configs": [{"targets": ["localhost:9100"], "labels": {"env": "dev"}}],
                "file_sd_configs": [{"files": [str(tmp_path / "*.json")], "refresh_interval": "1m"}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "regex": "(.*):.*", "target_label": "host"},
                    {"action": "labelmap", "regex": "__meta_(.+)"},
                ],
                "metric_relabel_configs": [{"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"}],
                "sample_limit": 1000,
            }
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    c = ScrapeConfig.model_validate(cfg["scrape_configs"][0]).with_global(GlobalConfig.model_validate(cfg["global"]))
    assert (c.scrape_interval, c.scrape_timeout, c.sample_limit) == (10.0, 10.0, 1000)
