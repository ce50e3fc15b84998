"""Prometheus relabeling: rule configs and their application.

    from collector.relabel import RelabelConfig, relabel
    out = relabel(labels, [RelabelConfig(action="labeldrop", regex="tmp_.*")])
"""

from collector.relabel.config import (
    Action,
    RelabelConfig,
    ValidationScheme,
    check_rules,
    compile_anchored,
    is_valid_label_name,
)
from collector.relabel.process import expand, hashmod, relabel

__all__ = [
    "Action",
    "RelabelConfig",
    "ValidationScheme",
    "check_rules",
    "compile_anchored",
    "expand",
    "hashmod",
    "is_valid_label_name",
    "relabel",
]
