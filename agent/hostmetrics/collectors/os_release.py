"""``node_os_info`` and ``node_os_version`` from /etc/os-release (or /usr/lib/os-release)."""

from __future__ import annotations

import os
import re
import shlex

from agent.hostmetrics.family import GAUGE, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError

_VERSION = re.compile(r"^[0-9]+\.?[0-9]*")

_FIELDS = (
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
)


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting, as os-release(5) specifies."""
    env = {}
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            words = [raw.strip("\"'")]
        env[key.strip()] = " ".join(words)
    return env


class OSReleaseCollector:
    """The distribution's name and version; the file is re-read only when its mtime changes."""

    name = "os"

    def __init__(self, paths: HostPaths):
        self._paths = paths
        self._cache: tuple[str, float, list[MetricFamily]] | None = None

    def collect(self, now: float) -> list[MetricFamily]:
        for p in ("/etc/os-release", "/usr/lib/os-release"):
            path = self._paths.root(p)
            try:
                mtime = os.stat(path).st_mtime
            except FileNotFoundError:
                continue
            if self._cache and self._cache[:2] == (path, mtime):
                return self._cache[2]
            with open(path, encoding="utf-8", errors="replace") as f:
                fams = self._families(parse_os_release(f.read()))
            self._cache = (path, mtime, fams)
            return fams
        raise NoDataError("no os-release file")

    @staticmethod
    def _families(env: dict[str, str]) -> list[MetricFamily]:
        info = MetricFamily(
            "node_os_info",
            GAUGE,
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, "
            "image_version, name, pretty_name, variant, variant_id, version, version_codename, "
            "version_id.",
            tuple(label for label, _ in _FIELDS),
            (tuple(env.get(key, "") for _, key in _FIELDS),),
            (1.0,),
        )
        fams = [info]
        m = _VERSION.match(env.get("VERSION_ID", ""))
        version = float(m.group(0)) if m else 0.0
        if version > 0:
            fams.append(
                MetricFamily(
                    "node_os_version",
                    GAUGE,
                    "Metric containing the major.minor part of the OS version.",
                    ("id", "id_like", "name"),
                    ((env.get("ID", ""), env.get("ID_LIKE", ""), env.get("NAME", "")),),
                    (version,),
                )
            )
        return fams
