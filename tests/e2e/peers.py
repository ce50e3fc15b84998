"""Real peers (Debian's Prometheus) started on free ports for side-by-side tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.util import free_port, peer_binary, stop_process, wait_http


class PrometheusProcess:
    """``prometheus`` with a remote-write receiver and whatever config the test gives."""

    def __init__(self, workdir: Path, config_text: str = "global: {}\n", extra_args=()):
        self.workdir = workdir
        self.config_text = config_text
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "prometheus.yml"
        cfg.write_text(self.config_text)
        with open(self.workdir / "prometheus.log", "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [peer_binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
                 "--web.enable-lifecycle", *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_http(self.url + "/-/ready", timeout=60)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc, timeout=30)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
