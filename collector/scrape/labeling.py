"""From an exposed series text to the label set that is stored.

Prometheus's ``mutateSampleLabels`` followed by metric relabeling and the
label checks: the target's labels are merged in (``honor_labels`` keeps the
exposed value on a clash, otherwise the exposed one is renamed
``exported_<name>``), ``metric_relabel_configs`` run, and the result is
checked against the validation scheme and the label limits. It runs once per
new series text; the scrape cache remembers the answer::

    labeler = SampleLabeler(target.public_labels, cfg)
    labeler('up{job="x"}')   # Labels(...), or None when relabeling dropped it
"""

from __future__ import annotations

import sys
from itertools import chain

from collector.relabel import relabel
from collector.relabel.config import ValidationScheme
from collector.scrape.config import ScrapeConfig
from collector.scrape.exposition import series_pairs
from storage.labels import METRIC_NAME, Labels, is_legacy_label_name, is_legacy_metric_name

_intern = sys.intern


class LabelError(Exception):
    """A series breaks a check; ``limit`` names the limit (``label_limit``, ...) if one."""

    def __init__(self, message: str, limit: str | None = None):
        super().__init__(message)
        self.limit = limit


class SampleLabeler:
    """Turns series text into final labels for one target (see the module doc)."""

    __slots__ = ("_has_limits", "_public", "_public_names", "cfg", "scheme")

    def __init__(self, public_labels: Labels, cfg: ScrapeConfig):
        self.cfg = cfg
        self.scheme = ValidationScheme(cfg.metric_name_validation_scheme or "utf8")
        self._public = public_labels.to_dict()
        # Names sorted by length, as Prometheus renames clashes in that order.
        self._public_names = sorted(self._public, key=len)
        self._has_limits = bool(cfg.label_limit or cfg.label_name_length_limit or cfg.label_value_length_limit)

    def __call__(self, key: str) -> Labels | None:
        """Raises ``ExpositionError`` (bad text) or ``LabelError`` (a check failed)."""
        d = series_pairs(key)
        public = self._public
        if self.cfg.honor_labels:
            for n, v in public.items():
                d.setdefault(n, v)
        else:
            clashes = [(n, d[n]) for n in self._public_names if n in d]
            d.update(public)
            for n, v in clashes:
                new = n
                while True:
                    new = "exported_" + new
                    if not d.get(new):
                        d[new] = v
                        break
        # Interned strings: every series of a target shares one copy of each
        # label name and of repeated values ("namespace", "team-07", ...), and
        # the TSDB head, which interns what it stores, keeps this very object
        # instead of building a second copy of the set.
        lset = Labels.from_sorted_flat(map(_intern, chain.from_iterable(sorted(d.items()))))
        if self.cfg.metric_relabel_configs:
            lset = relabel(lset, self.cfg.metric_relabel_configs, self.scheme)
            if lset is None or lset.num_labels() == 0:
                return None
            if not lset.name:  # exposed series always have one; relabeling may drop it
                raise LabelError("missing metric name (__name__ label)")
            lset = Labels.from_sorted_flat(map(_intern, lset))  # replacements made new strings
        if self.scheme is ValidationScheme.LEGACY and (
            not is_legacy_metric_name(lset.name)
            or not all(is_legacy_label_name(n) for n in lset.names() if n != METRIC_NAME)
        ):
            raise LabelError(f"invalid metric name or label names: {lset}")
        if self._has_limits:
            self._check_limits(lset)
        return lset

    def _check_limits(self, lset: Labels) -> None:
        cfg = self.cfg
        metric = lset.name[:50]
        if cfg.label_limit and lset.num_labels() > cfg.label_limit:
            raise LabelError(
                f"label_limit exceeded (metric: {metric}, number of labels: {lset.num_labels()}, "
                f"limit: {cfg.label_limit})",
                limit="label_limit",
            )
        for n, v in lset.items():
            if cfg.label_name_length_limit and len(n) > cfg.label_name_length_limit:
                raise LabelError(
                    f"label_name_length_limit exceeded (metric: {metric}, label name: {n[:50]}, "
                    f"length: {len(n)}, limit: {cfg.label_name_length_limit})",
                    limit="label_name_length_limit",
                )
            if cfg.label_value_length_limit and len(v) > cfg.label_value_length_limit:
                raise LabelError(
                    f"label_value_length_limit exceeded (metric: {metric}, label name: {n[:50]}, "
                    f'value: "{v[:50]}", length: {len(v)}, limit: {cfg.label_value_length_limit})',
                    limit="label_value_length_limit",
                )
