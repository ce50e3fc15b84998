"""The alerting role: rules, the notification pipeline and forwarding to Alertmanagers
(``spyglass up``; ``spyglass alerting`` on its own against a Prometheus-compatible API)."""

from __future__ import annotations

import logging
import os

from fastapi import Request

from spyglass.config import ConfigError, SpyglassConfig
from spyglass.roles import StartupError

log = logging.getLogger("spyglass")


class AlertingRole:
    """Mixed into ``spyglass.server.Stack``; uses its config, app, registry and stoppers."""

    def _open_remote_backend(self) -> None:
        """`spyglass alerting` on its own: rules query a Prometheus-compatible API (a Spyglass
        collector, Prometheus, Mimir, Thanos, VictoriaMetrics) and write their results back by
        remote-write, as Thanos Ruler and Mimir's ruler do."""
        from storage.remote.config import RemoteWriteConfig
        from storage.remote.promapi import PrometheusAPIQueryable, remote_query_func
        from storage.remote.storage import RemoteStorage

        a = self.config.alerting
        query_url = self.options.query_url or a.query_url
        if not query_url:
            raise StartupError("spyglass alerting needs --query-url (or alerting.query_url): the "
                               "Prometheus-compatible API the rules query")
        write_url = self.options.remote_write_url or a.remote_write_url or query_url.rstrip("/") + "/api/v1/write"
        self.storage = PrometheusAPIQueryable(query_url, registry=self.registry)
        self._stoppers.append(("query-backend", self.storage.close))
        self.query_func = remote_query_func(self.storage.client)
        self.remote = RemoteStorage(os.path.join(self.data_dir, "remote_write"), registry=self.registry)
        self.remote.apply_config([RemoteWriteConfig(url=write_url, name="rules")], {})
        self._stoppers.append(("remote_write", self.remote.shutdown))
        self.appendable = self.remote
        self._mount_rules_api()

    def _mount_rules_api(self) -> None:
        """/api/v1/rules and /api/v1/alerts when this process has no full query API."""
        from collector.api.params import BadParam
        from collector.api.prometheus import _dumps, _params, error, success

        async def rules(request: Request):
            try:
                return success(_dumps(self._rules_api(await _params(request))))
            except BadParam as e:
                return error("bad_data", str(e))

        async def alerts(request: Request):
            return success(_dumps(self._alerts_api()))

        self.app.add_api_route("/api/v1/rules", rules, methods=["GET"])
        self.app.add_api_route("/api/v1/alerts", alerts, methods=["GET"])

    def rule_globs(self, config: SpyglassConfig) -> list[str]:
        """The config's rule_files (relative to the config file), --rules, and the built-ins."""
        from alerting.rules.manager import builtin_rule_files

        globs = [g if os.path.isabs(g) else os.path.join(self.config_dir, g) for g in config.rule_files]
        globs += self.options.rules
        if config.builtin_rules:
            globs += builtin_rule_files()
        return globs

    def _start_rules(self) -> None:
        from alerting.rules.manager import Manager, ManagerOptions
        from alerting.rules.rule import engine_query_func

        c = self.config
        self.rules = Manager(ManagerOptions(
            query_func=self.query_func or engine_query_func(self.engine, self.storage),
            appendable=self.appendable,
            queryable=self.storage,
            notify=self._send_alerts,
            external_labels=dict(c.global_.external_labels),
            external_url=self.external_url,
            evaluation_interval_ms=int(c.global_.evaluation_interval * 1000),
            rule_query_offset_ms=int(c.global_.rule_query_offset * 1000),
            registry=self.registry,
        ))
        self.rules.update(self.rule_globs(c))  # RuleLoadError: refuse to start, as Prometheus does
        self.rules.start()
        self._stoppers.append(("rules", self.rules.stop))

    def _send_alerts(self, expr: str, alerts: list) -> None:
        """Where the rule manager's alerts go, as Prometheus's notifier does it: external
        labels, then alert_relabel_configs, then the built-in notifier and/or Alertmanagers."""
        from alerting.rules.rule import NotifierAlert, add_external_labels
        from collector.relabel import relabel

        alerts = add_external_labels(alerts, self.config.global_.external_labels)
        rules = self.config.alerting.alert_relabel_configs
        if rules:
            kept = []
            for a in alerts:
                ls = relabel(a.labels, rules)
                if ls is not None and ls.num_labels():
                    kept.append(NotifierAlert(ls, a.annotations, a.starts_at_ms, a.ends_at_ms, a.generator_url))
            alerts = kept
        for name, sink in self.alert_sinks:
            try:
                sink(expr, alerts)
            except Exception:
                log.exception("sending alerts failed", extra={"sink": name})

    def alertmanager_config_path(self) -> str | None:
        p = self.options.alertmanager_config or self.config.alertmanager_config
        if p and not os.path.isabs(p) and not self.options.alertmanager_config:
            p = os.path.join(self.config_dir, p)
        return p

    def _load_alertmanager_config(self):
        from alerting.notify import ConfigError as AMConfigError
        from alerting.notify import load_config as load_am_config
        from alerting.notify import parse_config as parse_am_config

        path = self.alertmanager_config_path()
        try:
            if path:
                return load_am_config(path)
            # no alertmanager.yml: alerts are grouped and shown, and silences work, but
            # nothing is sent anywhere until a receiver is configured
            return parse_am_config("route:\n  receiver: default\nreceivers:\n  - name: default\n")
        except AMConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def _start_notifications(self) -> None:
        from alerting.api import router as alertmanager_router
        from alerting.notify import Notifier

        c = self.config
        if c.alerting.builtin_notifier:
            self.notifier = Notifier(
                self._load_alertmanager_config(), os.path.join(self.data_dir, "alertmanager"),
                registry=self.registry, external_url=self.external_url,
                allow_link_local_targets=c.alerting.allow_link_local_targets,
            )
            self.notifier.start()
            self._stoppers.append(("notifier", self.notifier.shutdown))
            self.app.include_router(alertmanager_router(self.notifier))
            self.alert_sinks.append(("notifier", self.notifier.notify))
        self._set_forwarder(c)
        self._stoppers.append(("alertmanager-forwarder", lambda: self.forwarder and self.forwarder.stop()))

    def _set_forwarder(self, c: SpyglassConfig) -> None:
        """(Re)create the forwarder to external Alertmanagers when their config changed."""
        from alerting.notify.forward import AlertmanagerForwarder, targets_from_prometheus

        if self.forwarder is not None and self._forwarder_cfg == c.alerting.alertmanagers:
            return
        if self.forwarder is not None:
            self.forwarder.stop()
            self.alert_sinks = [s for s in self.alert_sinks if s[0] != "alertmanagers"]
            self.forwarder = None
        self._forwarder_cfg = c.alerting.alertmanagers
        if c.alerting.alertmanagers:
            self.forwarder = AlertmanagerForwarder(targets_from_prometheus(c.alerting.alertmanagers),
                                                   registry=self.registry)
            self.forwarder.start()
            self.alert_sinks.append(("alertmanagers", self.forwarder.notify))

    def _rules_api(self, p: dict[str, list[str]]) -> dict:
        from alerting.rules.api import BadParameter, rules_data
        from collector.api.params import BadParam

        if self.rules is None:
            return {"groups": []}
        one = lambda k: (p.get(k) or [None])[0]
        try:
            return rules_data(
                self.rules.rule_groups(), type=one("type"), rule_name=p.get("rule_name[]", []),
                rule_group=p.get("rule_group[]", []), file=p.get("file[]", []), match=p.get("match[]", []),
                exclude_alerts=one("exclude_alerts"), group_limit=one("group_limit"),
                group_next_token_param=one("group_next_token"),
            )
        except BadParameter as e:
            raise BadParam(str(e)) from None

    def _alerts_api(self) -> dict:
        from alerting.rules.api import alerts_data

        return alerts_data(self.rules.alerting_rules()) if self.rules is not None else {"alerts": []}
