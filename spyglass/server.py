"""Process wiring: build the components a role needs, serve them, reload, shut down.

``spyglass up`` runs every role in one process: embedded TSDB, ingestion
(remote-write, OTLP, InfluxDB, scrape), the query APIs, remote-write out, the
host-metrics source, rules and notifications, and the UI — all on one HTTP port
plus the OTLP listeners. Components meet only through the storage contracts and
are started and stopped here, in data-flow order.

Start-up is what a restart costs, so it comes in two steps. ``open()`` opens the
TSDB (replaying its WAL), the receivers and the query API; then ``/-/ready``
answers 200, as Prometheus's does once its WAL is replayed: writes and queries
are served. ``start_rest()`` then starts the rest (scrape, host metrics, rules,
notifications, dashboards, scheduled jobs); meanwhile requests that need those
wait for them (``StartGate``) instead of seeing them absent::

    stack = Stack(load_config(path), RunOptions(data_dir="data"))
    asyncio.run(stack.serve())
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.routing import Match

from spyglass.config import ConfigError, SpyglassConfig, load_config, parse_listen_address
from spyglass.http import AuthMiddleware, HTTPTelemetry, RequestMetricsMiddleware, RouteTable
from spyglass.roles import StartupError
from spyglass.roles.alerting import AlertingRole
from spyglass.roles.collector import CollectorRole
from spyglass.roles.ui import UIRole
from spyglass.version import VERSION

log = logging.getLogger("spyglass")

ROLES_UP = frozenset({"collector", "hostmetrics", "alerting", "dashboards"})
ROLES_COLLECTOR = frozenset({"collector"})
ROLES_ALERTING = frozenset({"alerting"})

# Answers that depend on components ``start_rest()`` starts after /-/ready: requests
# for them wait for those components instead of seeing them empty.
AFTER_START_PATHS = frozenset({"/api/v1/targets", "/api/v1/targets/metadata", "/api/v1/rules", "/api/v1/alerts",
                               "/api/v1/alertmanagers", "/-/reload"})


@dataclass
class RunOptions:
    """What the command line says; it wins over the config file."""

    config_path: str | None = None
    data_dir: str | None = None
    http: str | None = None
    otlp_grpc: str | None = None
    otlp_http: str | None = None
    rules: list[str] = field(default_factory=list)
    alertmanager_config: str | None = None
    dashboards: str | None = None
    host_metrics: bool = True
    roles: frozenset[str] = ROLES_UP
    # `spyglass alerting` on its own: where rules read and write
    query_url: str | None = None
    remote_write_url: str | None = None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the stack owns SIGTERM/SIGINT/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class StartGate:
    """ASGI middleware: between ``/-/ready`` and the end of ``Stack.start_rest()``,
    requests for anything but the routes ``early`` accepts wait for ``started``.

        app = StartGate(app, started=threading.Event(), early=lambda scope: True)
    """

    def __init__(self, app, started: threading.Event, early: Callable[[dict], bool]):
        self.app, self.started, self.early = app, started, early

    async def __call__(self, scope, receive, send) -> None:
        if not self.started.is_set() and scope["type"] == "http" and not self.early(scope):
            # a short poll: the wait lasts a fraction of a second, once per process
            while not self.started.is_set():
                await asyncio.sleep(0.01)
        await self.app(scope, receive, send)


class StackTelemetry:
    def __init__(self, registry: CollectorRegistry):
        self.reload_ok = Gauge(
            "spyglass_config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or not (0).",
            registry=registry,
        )
        self.reload_time = Gauge(
            "spyglass_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully.",
            registry=registry,
        )
        self.ready = Gauge("spyglass_ready", "Whether the process is ready to serve (1) or not (0).", registry=registry)
        info = Gauge("spyglass_build_info", "Spyglass version.", ["version"], registry=registry)
        info.labels(VERSION).set(1)


class Stack(CollectorRole, AlertingRole, UIRole):
    """The components of one process, wired together."""

    def __init__(self, config: SpyglassConfig, options: RunOptions, registry: CollectorRegistry = REGISTRY):
        self.config = config
        self.options = options
        self.registry = registry
        self.telemetry = StackTelemetry(registry)
        self.http_telemetry = HTTPTelemetry(registry)
        self.data_dir = os.path.abspath(options.data_dir or config.data_dir)
        # relative paths in the config (rule files, file_sd) are relative to the config file
        self.config_dir = os.path.dirname(os.path.abspath(options.config_path)) if options.config_path else os.getcwd()
        self.ready = threading.Event()
        # set when start_rest() is over (successfully or not)
        self.started = threading.Event()
        self._early_routes: list = []
        self._start_error: BaseException | None = None
        self.stopping: asyncio.Event | None = None  # created inside the event loop
        self._scheduler = None
        self._last_reload = (True, int(time.time() * 1000))
        self._reload_lock = threading.Lock()
        # (name, stop function), called in reverse order of start on shutdown
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self.storage = None
        self._storage_thread: threading.Thread | None = None
        self._storage_error: BaseException | None = None
        self.appendable = None
        self.engine = None
        self.rules = None
        self.query_func = None
        self.ui = None
        self.dashboard_store = None
        self._internal_token = __import__("secrets").token_urlsafe(32)
        self.notifier = None
        self.forwarder = None
        # (name, notify(expr, alerts)): where the rule manager's alerts go
        self.alert_sinks: list[tuple[str, Callable[[str, list], None]]] = []
        self.app = self._build_app()
        # the hot API routes, served without the FastAPI layers (roles add to it)
        self.route_table = RouteTable(self.app)

    @property
    def scheduler(self):
        """Interval jobs (maintenance, self-metrics, host metrics); created on first use,
        which is after /-/ready: importing apscheduler is start-up time."""
        if self._scheduler is None:
            from apscheduler.schedulers.background import BackgroundScheduler

            self._scheduler = BackgroundScheduler(daemon=True)
        return self._scheduler

    # --- building ---------------------------------------------------------------
    def open(self) -> None:
        """Open storage (WAL replay), the receivers and the query API, then set ready
        (blocking; done off the event loop). ``start_rest()`` starts the rest."""
        if "collector" in self.options.roles:
            self._open_collector()
        else:
            self._open_remote_backend()
        gc.freeze()  # everything built so far (WAL replay's label sets) is long-lived
        self._early_routes = list(self.app.router.routes)
        self.ready.set()
        self.telemetry.ready.set(1)
        self.telemetry.reload_ok.set(1)
        self.telemetry.reload_time.set(time.time())

    def start_rest(self) -> None:
        """Start what ready does not wait for (blocking; after ``open()``, off the event loop).
        ``started`` is set at the end, also on failure, so that no request waits forever."""
        roles, c = self.options.roles, self.config
        steps: list[tuple[str, Callable[[], None]]] = []
        fatal: tuple[type[BaseException], ...] = (ConfigError, StartupError)
        if "collector" in roles:
            steps.append(("scrape", self._start_scrape))
        if "hostmetrics" in roles and c.host_metrics.enabled:
            steps.append(("hostmetrics", self._start_host_metrics))
        if "alerting" in roles:
            from alerting.rules.manager import RuleLoadError

            fatal += (RuleLoadError,)
            steps += [("notifier", self._start_notifications), ("rules", self._start_rules)]
        if "dashboards" in roles:
            steps.append(("dashboards", self._mount_dashboards))  # last: the UI is mounted at "/"
        try:
            for name, step in steps:
                try:
                    step()
                except fatal:
                    raise  # a bad configuration stops the process, as Prometheus does at start
                except Exception:
                    # the server is serving writes and queries already: a component that
                    # cannot start (a full disk, say) does not take them down
                    log.exception("component failed to start; the rest keeps serving", extra={"component": name})
            if "collector" in roles:
                self.scheduler.add_job(self._maintenance, "interval", seconds=60, id="tsdb-maintenance",
                                       max_instances=1, coalesce=True)
            if self.config.self_metrics.enabled:
                self.scheduler.add_job(self._self_metrics, "interval", seconds=self.config.self_metrics.interval,
                                       id="self-metrics", max_instances=1, coalesce=True)
            self.scheduler.start()
            gc.freeze()
        finally:
            self.started.set()

    def _early(self, scope: dict) -> bool:
        """Whether a request can be served before ``start_rest()`` is over."""
        if not self.ready.is_set():
            return True  # nothing waits before ready: the probes answer, the rest is not mounted
        if scope["path"] in AFTER_START_PATHS:
            return False
        return any(r.matches(scope)[0] == Match.FULL for r in self._early_routes)

    def _self_metrics(self) -> None:
        """Our own telemetry into our own TSDB, as a self-scrape would (job="spyglass")."""
        from spyglass.selfmetrics import registry_batch

        addr = parse_listen_address(self.options.http or self.config.server.http, 9700)
        instance = f"{addr[0]}:{addr[1]}" if addr else "spyglass"
        try:
            self.appendable.append(registry_batch(self.registry, {"job": "spyglass", "instance": instance},
                                                  int(time.time() * 1000)))
        except Exception:
            log.exception("storing self-metrics failed")

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Spyglass", version=VERSION, docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/-/healthy", response_class=PlainTextResponse)
        @app.head("/-/healthy", response_class=PlainTextResponse)
        def healthy():
            return "Spyglass is Healthy.\n"

        @app.get("/-/ready", response_class=PlainTextResponse)
        @app.head("/-/ready", response_class=PlainTextResponse)
        def ready():
            if self.ready.is_set():
                return "Spyglass is Ready.\n"
            return PlainTextResponse("Service Unavailable\n", status_code=503)

        @app.api_route("/-/reload", methods=["POST", "PUT"], response_class=PlainTextResponse)
        def reload():
            ok, err = self.reload()
            if ok:
                return "configuration reloaded\n"
            return PlainTextResponse(f"failed to reload config: {err}\n", status_code=500)

        @app.api_route("/-/quit", methods=["POST", "PUT"], response_class=PlainTextResponse)
        def quit_():
            self.request_stop()
            return "Requesting termination... Goodbye!\n"

        @app.get("/metrics")
        def metrics(request: Request):
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        app.state.stack = self
        # the OTLP/HTTP listener (:4318) serves /v1/metrics and the probes
        self.otlp_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        self.otlp_app.add_api_route("/-/healthy", healthy, methods=["GET", "HEAD"], response_class=PlainTextResponse)
        return app

    @property
    def external_url(self) -> str:
        if self.config.server.external_url:
            return self.config.server.external_url.rstrip("/")
        addr = parse_listen_address(self.options.http or self.config.server.http, 9700)
        host, port = addr if addr else ("localhost", 9700)
        if host in ("0.0.0.0", "::"):
            import socket

            host = socket.gethostname()
        scheme = "https" if self.config.server.tls else "http"
        return f"{scheme}://{host}:{port}"

    def asgi(self, app: FastAPI | None = None):
        """An app with middleware, outermost first: auth (when configured; not for the
        probes), request metrics, gzip (answers of 4 KiB and more), then for the main
        app the start gate and the route table (the query API without FastAPI's layers)."""
        from starlette.middleware.gzip import GZipMiddleware

        auth = self.config.server.auth
        if app is None:
            app = StartGate(self.route_table, self.started, self._early)
        inner = RequestMetricsMiddleware(GZipMiddleware(app, minimum_size=4096), self.http_telemetry)
        tokens = list(auth.bearer_tokens)
        if not (auth.basic_auth_users or tokens):
            return inner  # auth is off (the default): no layer to pass through
        tokens.append(self._internal_token)  # the UI's own calls to the APIs
        return AuthMiddleware(inner, auth.basic_auth_users, tokens)

    # --- running ----------------------------------------------------------------
    def config_yaml(self) -> str:
        import yaml

        data = self.config.model_dump(mode="json", by_alias=True, exclude_defaults=False)
        return yaml.safe_dump(data, sort_keys=False)

    def flags(self) -> dict[str, str]:
        o = self.options
        return {
            "config.file": o.config_path or "",
            "storage.tsdb.path": self.data_dir,
            "web.listen-address": o.http or self.config.server.http,
            "otlp.grpc-address": o.otlp_grpc or self.config.server.otlp_grpc,
            "otlp.http-address": o.otlp_http or self.config.server.otlp_http,
            "query.lookback-delta": f"{int(self.config.query.lookback_delta)}s",
            "query.max-samples": str(self.config.query.max_samples),
            "query.timeout": f"{int(self.config.query.timeout)}s",
            "query.max-concurrency": str(self.config.query.max_concurrency),
        }

    def reload(self) -> tuple[bool, str]:
        """Re-read the config file; on any error keep running with the old one."""
        self.started.wait()  # a reload applies to every component: wait until they all run
        with self._reload_lock:
            try:
                new = load_config(self.options.config_path)
                self._apply(new)
            except Exception as e:  # noqa: BLE001  any error (ConfigError or a component's): keep the last good config
                self.telemetry.reload_ok.set(0)
                self._last_reload = (False, self._last_reload[1])
                log.error("config reload failed; keeping the previous configuration", extra={"err": str(e)})
                return False, str(e)
            self.config = new
            self._last_reload = (True, int(time.time() * 1000))
            self.telemetry.reload_ok.set(1)
            self.telemetry.reload_time.set(time.time())
            log.info("configuration reloaded", extra={"file": self.options.config_path or "(defaults)"})
            return True, ""

    def _apply(self, new: SpyglassConfig) -> None:
        """Hand the new configuration to each component; each keeps what did not change."""
        if self.rules is not None:
            from alerting.rules.manager import RuleLoadError

            try:
                self.rules.update(self.rule_globs(new))
            except RuleLoadError as e:
                raise ConfigError("\n".join(e.errors)) from None
        if self.notifier is not None:
            old, self.config = self.config, new  # the path may be relative to the new config
            try:
                am = self._load_alertmanager_config()
            finally:
                self.config = old
            self.notifier.reload(am)
        if "alerting" in self.options.roles:
            self._set_forwarder(new)
        if "collector" in self.options.roles:
            self.remote.apply_config(new.remote_write, new.global_.external_labels)
            self.scrape.apply_config(new.scrape_configs, new.global_)

    def request_stop(self) -> None:
        if self._loop is not None and self.stopping is not None:
            self._loop.call_soon_threadsafe(self.stopping.set)

    _loop: asyncio.AbstractEventLoop | None = None

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        loop = self._loop
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.reload))

        listeners = []  # (server, socket)
        http_addr = parse_listen_address(self.options.http or self.config.server.http, 9700)
        otlp_http_addr = parse_listen_address(self.options.otlp_http or self.config.server.otlp_http, 4318)
        try:
            # bind first, so that a taken port is a clear error before anything starts
            if http_addr:
                listeners.append((self._uvicorn(self.asgi(), http_addr), _listen(http_addr)))
            if otlp_http_addr and "collector" in self.options.roles:
                listeners.append((self._uvicorn(self.asgi(self.otlp_app), otlp_http_addr), _listen(otlp_http_addr)))
        except OSError as e:
            for _, sock in listeners:
                sock.close()
            raise StartupError(str(e)) from None
        servers = [srv for srv, _ in listeners]
        tasks = [asyncio.create_task(srv.serve(sockets=[sock])) for srv, sock in listeners]
        # storage replay can take a while: serve /-/healthy and a 503 /-/ready meanwhile
        try:
            await loop.run_in_executor(None, self.open)
        except Exception:
            log.exception("startup failed")
            for s in servers:
                s.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            self.close()
            raise
        if http_addr:
            log.info("listening", extra={"http": f"{http_addr[0]}:{http_addr[1]}"})
        rest = loop.run_in_executor(None, self.start_rest)

        def rest_done(f: asyncio.Future) -> None:
            if f.cancelled():
                return
            if f.exception() is not None:
                self._start_error = f.exception()
                log.error("startup failed", exc_info=self._start_error)
                self.stopping.set()
            elif self.ui is not None and http_addr:
                loop.run_in_executor(None, self._build_ui_logged)

        rest.add_done_callback(rest_done)
        stop_wait = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([stop_wait, *tasks], return_when=asyncio.FIRST_COMPLETED)
        log.info("shutting down: no new requests; finishing in-flight work")
        self.ready.clear()
        self.telemetry.ready.set(0)
        for s in servers:
            s.should_exit = True
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                               timeout=self.config.server.shutdown_timeout + 5)
        await asyncio.gather(rest, return_exceptions=True)  # nothing starts while we stop
        await loop.run_in_executor(None, self.close)
        log.info("stopped")
        if self._start_error is not None:
            raise self._start_error

    def _uvicorn(self, app, addr) -> _Server:
        host, port = addr
        tls = self.config.server.tls
        cfg = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",  # no WebSocket routes; loading a WebSocket protocol is start-up time
            # httptools (C) rather than h11 (pure Python): ~0.07 ms less per request
            http="httptools",
            timeout_graceful_shutdown=int(self.config.server.shutdown_timeout),
            ssl_certfile=tls.cert_file if tls else None,
            ssl_keyfile=tls.key_file if tls else None,
            ssl_ca_certs=tls.client_ca_file if tls else None,
            ssl_cert_reqs=2 if tls and tls.client_ca_file else 0,
        )
        return _Server(cfg)

    def close(self) -> None:
        """Stop components in reverse order of start; the storage (WAL) closes last."""
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=True)
        if self._storage_thread is not None:
            self._storage_thread.join()
            if self.storage is not None and not any(n == "tsdb" for n, _ in self._stoppers):
                self._stoppers.insert(0, ("tsdb", self.storage.close))  # opened, never started
        while self._stoppers:
            name, stop = self._stoppers.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping", extra={"component": name})


def _listen(addr: tuple[str, int]) -> socket.socket:
    host, port = addr
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listener says it is TCP; without it a response written as headers + body waits
    # for the client's delayed ACK (~40 ms) on every keep-alive request
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def options_from_args(args) -> RunOptions:
    roles = {"up": ROLES_UP, "collector": ROLES_COLLECTOR, "alerting": ROLES_ALERTING}[args.command]
    if getattr(args, "no_host_metrics", False):
        roles = roles - {"hostmetrics"}
    return RunOptions(
        config_path=args.config,
        data_dir=args.data_dir,
        http=args.http,
        otlp_grpc=args.otlp_grpc,
        otlp_http=args.otlp_http,
        rules=list(getattr(args, "rules", []) or []),
        alertmanager_config=getattr(args, "alertmanager_config", None),
        dashboards=getattr(args, "dashboards", None),
        host_metrics="hostmetrics" in roles,
        roles=roles,
        query_url=getattr(args, "query_url", None),
        remote_write_url=getattr(args, "remote_write_url", None),
    )


def main(args) -> int:
    from spyglass import logs

    logs.setup(args.log_level, args.log_format)
    # fewer, larger young-generation collections: ingestion allocates in bursts
    gc.set_threshold(50_000, 20, 20)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        log.error("invalid configuration", extra={"err": str(e)})
        print(f"spyglass: invalid configuration:\n{e}", file=sys.stderr)
        return 2
    options = options_from_args(args)
    stack = Stack(config, options)
    if "collector" in options.roles:
        stack.start_storage()
    log.info("starting Spyglass", extra={"version": VERSION, "roles": ",".join(sorted(options.roles)),
                                         "data_dir": stack.data_dir})
    try:
        asyncio.run(stack.serve())
    except StartupError as e:
        log.error("cannot start", extra={"err": str(e)})
        print(f"spyglass: {e}", file=sys.stderr)
        stack.close()
        return 1
    except Exception as e:  # noqa: BLE001  the process's last word: log it, exit non-zero
        log.error("fatal", extra={"err": repr(e)})
        return 1
    return 0
