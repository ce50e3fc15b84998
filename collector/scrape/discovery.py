"""Target discovery: ``static_configs`` and ``file_sd_configs``.

Discovery yields ``TargetGroup``s, each a list of targets (label sets with at
least ``__address__``) plus labels common to the group, keyed by a source
string so that an update replaces exactly the group it came from::

    groups = static_groups(scrape_config)
    fd = FileDiscovery(file_sd_config); groups = fd.refresh()  # re-reads changed files

File SD reads JSON or YAML lists of ``{targets: [...], labels: {...}}`` and adds
``__meta_filepath``. A file that fails to parse keeps its last good groups (as
Prometheus does) and the error is counted and reported.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass

import yaml

from collector.relabel.config import is_valid_label_name
from collector.scrape.config import FileSDConfig, ScrapeConfig

log = logging.getLogger(__name__)

ADDRESS = "__address__"
META_FILEPATH = "__meta_filepath"


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """Targets sharing labels, from one source (``static/0``, ``/etc/t.json:2``)."""

    source: str
    targets: tuple[tuple[tuple[str, str], ...], ...]  # each target: sorted (name, value) pairs
    labels: tuple[tuple[str, str], ...] = ()


def static_groups(cfg: ScrapeConfig) -> list[TargetGroup]:
    out = []
    for i, sc in enumerate(cfg.static_configs):
        out.append(
            TargetGroup(
                source=str(i),
                targets=tuple(((ADDRESS, t),) for t in sc.targets),
                labels=tuple(sorted(sc.labels.items())),
            )
        )
    return out


class FileSDError(ValueError):
    """A target file is not a valid list of target groups."""


def parse_target_file(path: str, data: bytes) -> list[TargetGroup]:
    """Parse one file's groups (JSON for ``.json``, else YAML)."""
    try:
        if path.lower().endswith(".json"):
            doc = json.loads(data)
        else:
            doc = yaml.safe_load(data)
    except (ValueError, yaml.YAMLError) as e:
        raise FileSDError(f"error parsing {path}: {e}") from None
    if doc is None:
        doc = []
    if not isinstance(doc, list):
        raise FileSDError(f"error parsing {path}: expected a list of target groups")
    groups = []
    for i, g in enumerate(doc):
        if not isinstance(g, dict):
            raise FileSDError(f"error parsing {path}: group {i} is not a mapping")
        unknown = set(g) - {"targets", "labels"}
        if unknown:
            raise FileSDError(f"error parsing {path}: group {i} has unknown keys {sorted(unknown)}")
        targets = g.get("targets") or []
        labels = g.get("labels") or {}
        if not isinstance(targets, list) or not isinstance(labels, dict):
            raise FileSDError(f"error parsing {path}: group {i}: targets must be a list, labels a mapping")
        for name in labels:
            if not is_valid_label_name(str(name)):
                raise FileSDError(f'error parsing {path}: "{name}" is not a valid label name')
        lab = {str(k): "" if v is None else str(v) for k, v in labels.items()}
        lab[META_FILEPATH] = path
        groups.append(
            TargetGroup(
                source=f"{path}:{i}",
                targets=tuple(((ADDRESS, str(t)),) for t in targets),
                labels=tuple(sorted(lab.items())),
            )
        )
    return groups


class FileDiscovery:
    """Watches the files of one ``file_sd_configs`` entry.

    ``poll()`` is cheap (a glob and a ``stat`` per file) and re-reads only files
    whose size or mtime changed, or every file once ``refresh_interval`` passed.
    """

    def __init__(self, cfg: FileSDConfig, base_dir: str = "."):
        self.cfg = cfg
        self.patterns = [p if os.path.isabs(p) else os.path.join(base_dir, p) for p in cfg.files]
        self._stamps: dict[str, tuple[float, int]] = {}
        self._groups: dict[str, list[TargetGroup]] = {}
        self._last_full = -1e18
        self.errors: dict[str, str] = {}

    def _paths(self) -> list[str]:
        out: set[str] = set()
        for p in self.patterns:
            out.update(glob.glob(p) if any(c in p for c in "*?[") else [p] if os.path.exists(p) else [])
        return sorted(out)

    def poll(self, now: float) -> bool:
        """Re-read what changed; True when the groups changed."""
        full = now - self._last_full >= self.cfg.refresh_interval
        if full:
            self._last_full = now
        paths = self._paths()
        changed = False
        for gone in set(self._groups) - set(paths):
            del self._groups[gone]
            self._stamps.pop(gone, None)
            self.errors.pop(gone, None)
            changed = True
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_mtime, st.st_size)
            if not full and self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            try:
                with open(path, "rb") as f:
                    groups = parse_target_file(path, f.read())
            except (OSError, FileSDError) as e:
                # Keep the last good groups of this file.
                self.errors[path] = str(e)
                log.warning("file_sd: %s", e)
                continue
            self.errors.pop(path, None)
            if self._groups.get(path) != groups:
                self._groups[path] = groups
                changed = True
        return changed

    def groups(self) -> list[TargetGroup]:
        return [g for path in sorted(self._groups) for g in self._groups[path]]
