"""The collector role: embedded storage, remote-write out, scraping, the query API,
the receivers and the host-metrics source (``spyglass up``, ``spyglass collector``)."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time

from spyglass.config import SpyglassConfig, parse_listen_address

log = logging.getLogger("spyglass")


class CollectorRole:
    """Mixed into ``spyglass.server.Stack``; uses its config, app, registry and stoppers."""

    def start_storage(self) -> None:
        """Begin opening the TSDB (WAL replay) in the background, so that it overlaps
        with importing and building everything else: start-up is a restart's cost."""
        self._storage_thread = threading.Thread(target=self._open_storage, name="tsdb-open", daemon=True)
        self._storage_thread.start()

    def _open_storage(self) -> None:
        from storage.tsdb import TSDB

        t0 = time.monotonic()
        try:
            os.makedirs(self.data_dir, exist_ok=True)
            self.storage = TSDB.open(
                os.path.join(self.data_dir, "tsdb"), self.config.storage.tsdb.tsdb_options(), registry=self.registry
            )
        except BaseException as e:  # noqa: BLE001  re-raised on the main path by open()
            self._storage_error = e
            return
        log.info("storage opened", extra={"path": self.data_dir, "seconds": round(time.monotonic() - t0, 3)})

    def _open_collector(self) -> None:
        """Embedded storage, remote-write out, the query API and the receivers: what
        accepting writes and answering queries needs (scraping starts after ready)."""
        from storage.fanout import Fanout
        from storage.promql import Engine, EngineOptions
        from storage.remote.storage import RemoteStorage

        c = self.config
        if self._storage_thread is None:
            self.start_storage()
        self._storage_thread.join()
        if self._storage_error is not None:
            raise self._storage_error
        self._stoppers.append(("tsdb", self.storage.close))
        self.remote = RemoteStorage(os.path.join(self.data_dir, "remote_write"), registry=self.registry)
        self.remote.apply_config(c.remote_write, c.global_.external_labels)
        self._stoppers.append(("remote_write", self.remote.shutdown))
        self.appendable = Fanout(self.storage, [self.remote], registry=self.registry)
        self.engine = Engine(
            EngineOptions(
                lookback_delta_ms=int(c.query.lookback_delta * 1000),
                max_samples=c.query.max_samples,
                timeout_s=c.query.timeout,
                max_concurrent=c.query.max_concurrency,
            )
        )
        self._mount_query_api()
        self._mount_receivers()

    def _start_scrape(self) -> None:
        from collector.scrape.manager import ScrapeManager

        c = self.config
        self.scrape = ScrapeManager(self.appendable, registry=self.registry, base_dir=self.config_dir)
        self.scrape.start()
        self.scrape.apply_config(c.scrape_configs, c.global_)
        # no stale markers on shutdown, so that series continue across a restart
        self._stoppers.append(("scrape", lambda: self.scrape.stop(stale_markers=False)))

    def _maintenance(self) -> None:
        try:
            self.storage.maintenance()
        except Exception:
            log.exception("storage maintenance failed")
        # Label sets live as long as their series and hold no cycles: keep the cyclic
        # collector from re-scanning hundreds of thousands of them (pauses of 100+ ms).
        gc.freeze()

    def _mount_query_api(self) -> None:
        from collector.api.prometheus import PrometheusAPI

        api = PrometheusAPI(
            storage=self.storage,
            engine=self.engine,
            targets=lambda params: self.scrape.targets_api(),
            rules=self._rules_api,
            alerts=self._alerts_api,
            config_yaml=self.config_yaml,
            flags=self.flags(),
            reload_status=lambda: self._last_reload,
            storage_retention=retention_text(self.config),
        )
        router = api.router()
        self.app.include_router(router)
        self.route_table.add(router.routes)  # the same routes, straight to their endpoints

    def _mount_receivers(self) -> None:
        from collector.receivers import influx, otlp, remote_write

        c = self.config
        limits = c.ingest_limits
        self.app.include_router(remote_write.router(self.appendable, limits, self.registry))
        self.app.include_router(influx.router(self.appendable, limits, self.registry))
        # one OTLP receiver for every OTLP listener: it holds the delta → cumulative state
        rx = otlp.OTLPReceiver(self.appendable, limits, self.registry, options=c.otlp)
        self.app.include_router(rx.http_router(prefix="/api/v1/otlp"))
        self.otlp_app.include_router(rx.http_router(prefix=""))
        grpc_addr = parse_listen_address(self.options.otlp_grpc or c.server.otlp_grpc, 4317)
        if grpc_addr:
            creds = None
            if c.server.tls:
                import grpc

                with open(c.server.tls.cert_file, "rb") as f1, open(c.server.tls.key_file, "rb") as f2:
                    creds = grpc.ssl_server_credentials([(f2.read(), f1.read())])
            g = rx.grpc_server(server_credentials=creds)
            g.start(f"{grpc_addr[0]}:{grpc_addr[1]}")
            self._stoppers.append(("otlp-grpc", lambda: g.shutdown(grace=5)))
            log.info("listening", extra={"otlp_grpc": f"{grpc_addr[0]}:{grpc_addr[1]}"})

    def _start_host_metrics(self) -> None:
        from agent.hostmetrics import HostMetrics

        hm = HostMetrics(self.config.host_metrics, registry=self.registry)

        def collect() -> None:
            try:
                self.appendable.append(hm.collect())
            except Exception:
                log.exception("host metrics collection failed")

        collect()  # a first point at once, so a new user sees their machine immediately
        self.scheduler.add_job(collect, "interval", seconds=self.config.host_metrics.interval,
                               id="host-metrics", max_instances=1, coalesce=True)


def retention_text(cfg: SpyglassConfig) -> str:
    """Retention as /status/runtimeinfo shows it ("15d", "15d or 50GB")."""
    from spyglass.configtypes import format_duration_ms

    parts = [format_duration_ms(int(cfg.storage.tsdb.retention_time * 1000))]
    if cfg.storage.tsdb.retention_size:
        parts.append(str(cfg.storage.tsdb.retention_size))
    return " or ".join(parts)
