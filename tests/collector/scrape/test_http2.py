"""HTTP/2 scrapes: negotiated with ALPN over TLS when ``enable_http2`` (the default)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time

import h2.config
import h2.connection
import h2.events
import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.manager import ScrapeManager
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage

BODY = b"# TYPE a gauge\na 42\n"


class TLSTarget:
    """A TLS server that answers every GET with ``BODY`` over HTTP/2 or HTTP/1.1,
    whichever ALPN picked; ``protocols`` lists what each connection negotiated."""

    def __init__(self, certfile: str, keyfile: str):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.protocols: list[str] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        proto = tls.selected_alpn_protocol() or "http/1.1"
        self.protocols.append(proto)
        try:
            self._h2(tls) if proto == "h2" else self._h1(tls)
        except OSError:
            pass
        finally:
            tls.close()

    def _h2(self, tls: ssl.SSLSocket) -> None:
        c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        c.initiate_connection()
        tls.sendall(c.data_to_send())
        while True:
            data = tls.recv(65535)
            if not data:
                return
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    c.send_headers(ev.stream_id, [
                        (":status", "200"), ("content-type", "text/plain; version=0.0.4"),
                        ("content-length", str(len(BODY))),
                    ])
                    c.send_data(ev.stream_id, BODY, end_stream=True)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    tls.sendall(c.data_to_send())
                    return
            tls.sendall(c.data_to_send())

    def _h1(self, tls: ssl.SSLSocket) -> None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = tls.recv(4096)
            if not chunk:
                return
            buf += chunk
        tls.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            + f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode() + BODY
        )


@pytest.fixture
def tls_target(tmp_path):
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command (Debian's openssl package) is needed to make a test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    t = TLSTarget(str(cert), str(key))
    yield t, str(cert)
    t.close()


@pytest.mark.parametrize("enable_http2, want", [(None, ("h2", "HTTP/2")), (False, ("http/1.1", "HTTP/1.1"))])
def test_http2_negotiated_over_tls(tls_target, enable_http2, want):
    target, ca = tls_target
    store = MemoryStorage()
    m = ScrapeManager(store, registry=CollectorRegistry())
    m.start()
    cfg = {
        "job_name": "tls", "scheme": "https", "scrape_interval": "200ms",
        "tls_config": {"ca_file": ca}, "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}],
    }
    if enable_http2 is not None:
        cfg["enable_http2"] = enable_http2
    try:
        m.apply_config([ScrapeConfig.model_validate(cfg)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and m.active_targets()[0].health != "up":
            time.sleep(0.05)
        (health,) = m.active_targets()
        assert health.health == "up", health.last_error
        (loop, _), = m.pools["tls"].loops.values()
        assert (target.protocols[0], loop.state.http_version) == want
    finally:
        m.stop()
    ss = store.querier(-(2**62), 2**62).select([Matcher("=", "__name__", "a")])
    assert ss.labels[0] == Labels.from_dict({"__name__": "a", "job": "tls", "instance": f"127.0.0.1:{target.port}"})
    assert ss.series(0)[1][0] == 42.0
