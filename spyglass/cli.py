"""The ``spyglass`` command.

    spyglass up                      # everything on this machine, embedded storage
    spyglass collector               # ingestion, storage and query APIs only
    spyglass query 'up' [--range now-1h now 1m]
    spyglass version
"""

from __future__ import annotations

import argparse
import sys

from spyglass.version import VERSION, build_info


def _add_server_flags(p: argparse.ArgumentParser, *, alerting: bool, dashboards: bool) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML configuration file (prometheus.yml sections work as is)")
    p.add_argument("--data-dir", metavar="DIR", help="where data is kept (default: ./data or the config's data_dir)")
    p.add_argument("--http", metavar="HOST:PORT", help="APIs and UI listener, or 'off' (default 127.0.0.1:9700)")
    p.add_argument("--otlp-grpc", metavar="HOST:PORT", help="OTLP gRPC listener, or 'off' (default 127.0.0.1:4317)")
    p.add_argument("--otlp-http", metavar="HOST:PORT", help="OTLP HTTP listener, or 'off' (default 127.0.0.1:4318)")
    if alerting:
        p.add_argument("--rules", metavar="GLOB", action="append", default=[],
                       help="rule files to evaluate (repeatable; added to the config's rule_files)")
        p.add_argument("--alertmanager-config", metavar="FILE",
                       help="alertmanager.yml for the built-in notification pipeline")
    if dashboards:
        p.add_argument("--dashboards", metavar="DIR", help="provision Grafana dashboard JSON files from DIR")
    p.add_argument("--no-host-metrics", action="store_true", help="do not collect this machine's metrics")
    p.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    p.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spyglass", description="Spyglass observability stack")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run the all-in-one stack on this machine")
    _add_server_flags(up, alerting=True, dashboards=True)

    col = sub.add_parser("collector", help="run ingestion, storage and the query APIs")
    _add_server_flags(col, alerting=False, dashboards=False)

    al = sub.add_parser("alerting", help="run rules and notifications against a Prometheus-compatible API")
    _add_server_flags(al, alerting=True, dashboards=False)
    al.add_argument("--query-url", metavar="URL",
                    help="the Prometheus-compatible API rules query (a Spyglass collector, Prometheus, Mimir, ...)")
    al.add_argument("--remote-write-url", metavar="URL",
                    help="where recording-rule results and ALERTS go (default: QUERY_URL/api/v1/write)")

    q = sub.add_parser("query", help="evaluate PromQL against a running server")
    q.add_argument("expr", help="PromQL expression")
    q.add_argument("--server", default="http://127.0.0.1:9700", help="server URL")
    q.add_argument("--time", help="evaluation time for an instant query (unix, RFC 3339, now, now-5m)")
    q.add_argument("--range", nargs=3, metavar=("START", "END", "STEP"), help="a range query")
    q.add_argument("--format", default="table", choices=["table", "promtool", "json"])
    q.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")

    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    chk = cfg_sub.add_parser("check", help="validate a configuration file")
    chk.add_argument("file")
    cfg_sub.add_parser("reference", help="print every configuration key with its default and documentation")

    rules = sub.add_parser("rules", help="check and unit-test Prometheus rule files (promtool compatible)")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rc = rules_sub.add_parser("check", help="validate rule files, like `promtool check rules`")
    rc.add_argument("files", nargs="+", metavar="FILE")
    rc.add_argument("--lint-fatal", action="store_true", help="make lint errors exit with status 3")
    rc.add_argument("--ignore-unknown-fields", action="store_true")
    rt = rules_sub.add_parser("test", help="run rule unit tests, like `promtool test rules`")
    rt.add_argument("files", nargs="+", metavar="FILE")
    rt.add_argument("--run", action="append", metavar="REGEX", help="only test groups matching REGEX")
    rt.add_argument("--ignore-unknown-fields", action="store_true")

    slo = sub.add_parser("slo", help="service level objectives")
    slo_sub = slo.add_subparsers(dest="slo_command", required=True, metavar="ACTION")
    sg = slo_sub.add_parser("generate", help="print the Prometheus rules for a Sloth prometheus/v1 SLO spec")
    sg.add_argument("spec", metavar="SPEC")
    sg.add_argument("--extra-labels", action="append", default=[], metavar="KEY=VALUE",
                    help="labels added to every generated rule")

    sub.add_parser("version", help="print the version")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"spyglass, version {VERSION} (revision: {build_info()['revision'] or 'unknown'})")
        print(f"  python: {build_info()['goVersion']}")
        return 0
    if args.command == "query":
        from spyglass import querycli

        return querycli.run(args)
    if args.command == "config" and args.config_command == "reference":
        from spyglass.config import SpyglassConfig
        from spyglass.configref import reference_yaml

        sys.stdout.write(reference_yaml(SpyglassConfig))
        return 0
    if args.command == "config":
        from spyglass.config import ConfigError, load_config

        try:
            load_config(args.file)
        except ConfigError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        print(f"SUCCESS: {args.file} is valid")
        return 0
    if args.command == "rules":
        if args.rules_command == "check":
            from alerting.rules.cli import check

            return check(args.files, lint_fatal=args.lint_fatal, ignore_unknown_fields=args.ignore_unknown_fields)
        from alerting.ruletest import run

        return run(args.files, run=args.run, ignore_unknown_fields=args.ignore_unknown_fields)
    if args.command == "slo":
        from alerting.slo import SLOSpecError, generate

        extra = dict(kv.split("=", 1) for kv in args.extra_labels if "=" in kv)
        try:
            sys.stdout.write(generate(args.spec, extra_labels=extra))
        except (SLOSpecError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    # Start-up imports allocate hundreds of thousands of long-lived objects: with the
    # default threshold the cyclic collector runs ~200 times over them (~5 % of start-up).
    # server.main keeps this threshold for ingestion's bursts too.
    import gc

    gc.set_threshold(50_000, 20, 20)
    from spyglass import server

    return server.main(args)


if __name__ == "__main__":
    sys.exit(main())
