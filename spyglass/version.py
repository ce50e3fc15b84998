"""Version and build information (``spyglass version``, ``/api/v1/status/buildinfo``)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata

try:
    VERSION = metadata.version("spyglass")
except metadata.PackageNotFoundError:  # running from a source tree without install
    VERSION = "0.0.0+source"


def _revision() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.cache
def build_info() -> dict[str, str]:
    """The shape of Prometheus's buildinfo, plus which Prometheus API level we follow.
    (Computed on first use: asking git for the revision costs start-up time.)"""
    return {
        "version": VERSION,
        "revision": _revision(),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "application": "Spyglass",
        "prometheusVersion": "3.0.0",
    }
