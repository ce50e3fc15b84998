"""A real HTTP server on a free port that stands in for a chat platform: it
records every request and answers with scripted responses."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.util import free_port


class Recorded:
    def __init__(self, method, path, query, headers, body, raw_query=""):
        self.t = time.monotonic()
        self.raw_query = raw_query
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class CaptureServer:
    """``responses[path]`` is a list of (status, body) used in turn; the last one repeats."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.responses: dict[str, list[tuple[int, str]]] = {}
        self.delay: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                u = urlsplit(self.path)
                ev = outer.delay.get(u.path)
                if ev is not None:
                    ev.wait(10)
                with outer._lock:
                    outer.requests.append(Recorded("POST", u.path, parse_qs(u.query), dict(self.headers), body,
                                                   u.query))
                    script = outer.responses.get(u.path) or [(200, "ok")]
                    status, text = script.pop(0) if len(script) > 1 else script[0]
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if text.startswith("{") else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            request_queue_size = 512  # many groups flush at once
            daemon_threads = True

        self.port = free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        for ev in self.delay.values():
            ev.set()
        self.server.shutdown()
        self.server.server_close()

    def at(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


class AppServer:
    """Serve an ASGI app with uvicorn on a free port in a thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        from tests.util import wait_http

        self.thread.start()
        wait_http(self.url + "/-/ready", timeout=20)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


class PeerAlertmanager:
    """Debian's prometheus-alertmanager on free ports, clustering off."""

    def __init__(self, config_text: str, workdir, external_url: str = "http://sg.test"):
        from tests.util import peer_binary

        self.port = free_port()
        cfg = workdir / "alertmanager.yml"
        cfg.write_text(config_text)
        (workdir / "am-data").mkdir(exist_ok=True)
        # Open for the process's lifetime; closed in __exit__.
        self.log = open(workdir / "alertmanager.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [peer_binary("prometheus-alertmanager"), f"--config.file={cfg}", f"--storage.path={workdir / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             f"--web.external-url={external_url}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        from tests.util import wait_http

        try:
            wait_http(self.url + "/-/ready", timeout=30)
        except AssertionError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
