"""Run an ASGI app on a free port in a background thread, for tests that need a
real socket (real Prometheus, the OpenTelemetry exporters)."""

from __future__ import annotations

import contextlib
import threading
import time

import uvicorn

from tests.util import free_port


@contextlib.contextmanager
def serving(app, host: str = "127.0.0.1"):
    """Yield the base URL of ``app`` served by uvicorn; stop it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
