"""Run a real ``spyglass`` process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from tests.util import free_port, stop_process, wait_http


@dataclass
class SpyglassProcess:
    data_dir: Path
    config_text: str | None = None
    command: str = "up"
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    # give the OTLP listeners free ports instead of turning them off
    otlp: bool = False
    otlp_grpc_port: int = 0
    otlp_http_port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, timeout: float = 60.0) -> SpyglassProcess:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.otlp:
            self.otlp_grpc_port = self.otlp_grpc_port or free_port()
            self.otlp_http_port = self.otlp_http_port or free_port()
            otlp_args = ["--otlp-grpc", f"127.0.0.1:{self.otlp_grpc_port}",
                         "--otlp-http", f"127.0.0.1:{self.otlp_http_port}"]
        else:
            otlp_args = ["--otlp-grpc", "off", "--otlp-http", "off"]
        args = [sys.executable, "-m", "spyglass.cli", self.command, "--data-dir", str(self.data_dir),
                "--http", f"127.0.0.1:{self.port}", *otlp_args]
        if self.config_text is not None:
            cfg = self.data_dir.parent / f"{self.data_dir.name}-config.yml"
            cfg.write_text(self.config_text)
            args += ["--config", str(cfg)]
        args += self.extra_args
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        if wait_ready:
            try:
                wait_http(self.url + "/-/ready", timeout=timeout)
            except AssertionError:
                raise AssertionError(f"spyglass did not become ready; log:\n{self.log()}") from None
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if not stop_process(self.proc, sig, timeout):
            raise AssertionError(f"spyglass did not stop within {timeout}s; log:\n{self.log()}")
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(fn, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
