import pytest

from spyglass.config import (
    ConfigError,
    load_config,
    parse_bytes,
    parse_config,
    parse_listen_address,
)
from spyglass.configtypes import format_duration_ms, parse_duration_ms


def test_debian_prometheus_yml_loads_unchanged():
    cfg = load_config("/etc/prometheus/prometheus.yml")
    assert cfg.global_.scrape_interval == 15.0
    assert cfg.global_.external_labels == {"monitor": "example"}
    assert [s.job_name for s in cfg.scrape_configs] == ["prometheus", "node"]
    assert cfg.alerting.alertmanagers[0].static_configs[0].targets == ["localhost:9093"]
    assert cfg.rule_files == []


def test_errors_name_key_path_and_line():
    text = """
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: a
    static_configs:
      - targets: [x:1]
  - job_name: b
    scrape_interval: 5x
    bogus: 1
server:
  http: "host:notaport"
"""
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "p.yml")
    msg = str(ei.value)
    assert 'p.yml:9: scrape_configs.1.scrape_interval: not a valid duration string: "5x"' in msg
    assert "p.yml:10: scrape_configs.1.bogus: unknown key 'bogus'" in msg
    assert "p.yml:12: server.http" in msg and "port must be a number" in msg


def test_unknown_top_level_section_is_an_error():
    with pytest.raises(ConfigError, match=r"remote_read: unknown key"):
        parse_config("remote_read:\n  - url: http://x\n")


def test_duplicate_job_names_rejected():
    text = "scrape_configs:\n  - job_name: a\n  - job_name: a\n"
    with pytest.raises(ConfigError, match='multiple scrape configs with job name "a"'):
        parse_config(text)


def test_invalid_yaml_reports_position():
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_config("global: [\n", "x.yml")


def test_defaults():
    cfg = parse_config("")
    assert cfg.server.http == "127.0.0.1:9700"
    assert cfg.query.max_samples == 50_000_000
    assert cfg.query.lookback_delta == 300.0
    assert cfg.storage.tsdb.retention_time == 15 * 86400


def test_prometheus_storage_section():
    cfg = parse_config("storage:\n  tsdb:\n    out_of_order_time_window: 30m\n")
    assert cfg.storage.tsdb.out_of_order_time_window == 1800.0


@pytest.mark.parametrize(
    "text,ms",
    [("0", 0), ("15s", 15_000), ("1h30m", 5_400_000), ("10s53ms", 10_053), ("1d", 86_400_000),
     ("2w", 14 * 86_400_000), ("1y", 365 * 86_400_000), ("500ms", 500)],
)
def test_durations(text, ms):
    assert parse_duration_ms(text) == ms
    assert parse_duration_ms(format_duration_ms(ms)) == ms


@pytest.mark.parametrize("bad", ["", "5", "1.5s", "s", "1m1h", "-1s", "1x"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration_ms(bad)


def test_listen_address_and_sizes():
    assert parse_listen_address("off", 1) is None
    assert parse_listen_address(":9700", 1) == ("0.0.0.0", 9700)
    assert parse_listen_address("[::1]:4317", 1) == ("::1", 4317)
    assert parse_bytes("512MB") == 512 << 20
    assert parse_bytes("1GB") == 1 << 30
    with pytest.raises(ValueError):
        parse_bytes("12 parsecs")


def test_secrets_are_redacted_in_dumps():
    cfg = parse_config(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: hunter2\n"
    )
    dumped = str(cfg.model_dump(mode="json"))
    assert "hunter2" not in dumped and "<secret>" in dumped
    assert "hunter2" not in repr(cfg)


@pytest.mark.parametrize("bad", [[], {}, None, True, float("nan"), -1])
def test_non_string_durations_are_value_errors(bad):
    with pytest.raises(ValueError):
        parse_duration_ms(bad)
