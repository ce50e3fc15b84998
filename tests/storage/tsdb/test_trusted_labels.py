"""Label sets a producer checked (``SampleBatch.labels_checked``) are not checked
again, unless the TSDB's own limits are stricter."""

from __future__ import annotations

import numpy as np
import pytest

from storage.interface import RejectReason, SampleBatch
from storage.labels import LabelLimits, Labels
from storage.tsdb.appendrules import labels_trusted
from tests.storage.tsdb.conftest import T0


@pytest.mark.parametrize(
    ("checked", "mine", "trusted"),
    [
        (None, LabelLimits(), False),
        (LabelLimits(), LabelLimits(), True),
        (LabelLimits(max_labels=10), LabelLimits(), True),
        (LabelLimits(), LabelLimits(max_labels=10), False),  # unlimited is looser than 10
        (LabelLimits(max_labels=10), LabelLimits(max_labels=10), True),
        (LabelLimits(max_labels=11), LabelLimits(max_labels=10), False),
        (LabelLimits(max_name_length=5), LabelLimits(max_name_length=4), False),
        (LabelLimits(max_value_length=5), LabelLimits(max_value_length=9), True),
        (LabelLimits(utf8_names=True), LabelLimits(utf8_names=False), False),
        (LabelLimits(utf8_names=False), LabelLimits(utf8_names=True), True),
    ],
)
def test_labels_trusted(checked, mine, trusted):
    assert labels_trusted(checked, mine) is trusted


def _batch(labels: list[Labels], checked: LabelLimits | None) -> SampleBatch:
    n = len(labels)
    return SampleBatch(labels, np.arange(n), np.full(n, T0, np.int64), np.ones(n), labels_checked=checked)


def test_checked_label_sets_are_not_validated_again(open_db, monkeypatch):
    db, _ = open_db()

    def refuse(self, limits=None):
        raise AssertionError("validated twice")

    monkeypatch.setattr(Labels, "validate", refuse)
    labels = [Labels.from_pairs([("__name__", "m"), ("i", str(i))]) for i in range(5)]
    result = db.append(_batch(labels, LabelLimits()))
    assert result.accepted == 5 and db.head.num_series == 5


def test_stricter_tsdb_limits_still_apply_to_checked_label_sets(open_db):
    db, _ = open_db(label_limits=LabelLimits(max_labels=2))
    ok = Labels.from_pairs([("__name__", "m"), ("a", "1")])
    too_many = Labels.from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")])
    result = db.append(_batch([ok, too_many], LabelLimits(max_labels=5)))
    assert result.accepted == 1
    assert result.rejected[RejectReason.INVALID_LABELS] == 1
    assert db.head.num_series == 1
