"""``relabel_configs`` entries, exactly as a ``prometheus.yml`` writes them.

Defaults, validation rules and error wording follow Prometheus's
``model/relabel``: separator ``;``, regex ``(.*)``, replacement ``$1``, action
``replace``; regexes are RE2, fully anchored::

    RelabelConfig(source_labels=["__meta_x"], target_label="x")
"""

from __future__ import annotations

import enum
import re
from typing import Any, ClassVar

import re2
from pydantic import Field, PrivateAttr, field_validator, model_validator

from spyglass.configtypes import ConfigModel

DEFAULT_SEPARATOR = ";"
DEFAULT_REGEX = "(.*)"
DEFAULT_REPLACEMENT = "$1"

# Legacy label-name syntax plus ``$var`` / ``${var}`` references (Prometheus's
# ``relabelTargetLegacy``), for target labels and labelmap replacements.
_LEGACY_TARGET_WITH_VARS = re.compile(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+\Z", re.ASCII)
_LEGACY_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")


class Action(str, enum.Enum):
    """What a relabel rule does; YAML spelling is case-insensitive, as in Prometheus."""

    REPLACE = "replace"
    KEEP = "keep"
    DROP = "drop"
    KEEPEQUAL = "keepequal"
    DROPEQUAL = "dropequal"
    HASHMOD = "hashmod"
    LABELMAP = "labelmap"
    LABELDROP = "labeldrop"
    LABELKEEP = "labelkeep"
    LOWERCASE = "lowercase"
    UPPERCASE = "uppercase"


class ValidationScheme(str, enum.Enum):
    """Which label names are valid: any UTF-8 (Prometheus 3's default) or the legacy set."""

    UTF8 = "utf8"
    LEGACY = "legacy"


def is_valid_label_name(name: str, scheme: ValidationScheme = ValidationScheme.UTF8) -> bool:
    if scheme is ValidationScheme.LEGACY:
        return bool(_LEGACY_LABEL_NAME.match(name))
    return bool(name) and "\ufffd" not in name and not any(
        0xD800 <= ord(c) <= 0xDFFF for c in name
    )


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are raised to the caller, not printed by the C++ library


def compile_anchored(regex: str):
    """Compile ``regex`` as Prometheus does: RE2, fully anchored, ``.`` matches newline."""
    anchored = f"^(?s:{regex})$"
    try:
        return re2.compile(anchored, _RE2_OPTIONS)
    except re2.error as e:
        msg = e.args[0] if e.args else str(e)
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        reason = msg.rsplit(": " + anchored, 1)[0] if msg.endswith(anchored) else msg
        raise ValueError(f"error parsing regexp: {reason}: `{anchored}`") from None


class RelabelConfig(ConfigModel):
    """One relabeling rule (``relabel_configs``, ``metric_relabel_configs``,
    ``write_relabel_configs``); apply rules with ``collector.relabel.relabel``."""

    # Documented upstream, key for key: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#relabel_config
    upstream_docs: ClassVar[str] = "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#relabel_config"

    source_labels: list[str] | None = Field(
        None, description="Labels whose values are joined with `separator` to form the input."
    )
    separator: str = Field(DEFAULT_SEPARATOR, description="Put between the source label values.")
    regex: str = Field(
        DEFAULT_REGEX,
        description="RE2 regular expression matched against the input, fully anchored.",
    )
    modulus: int = Field(0, ge=0, description="Modulus of the hash for the `hashmod` action.")
    target_label: str = Field(
        "", description="Label written by replace/hashmod/lowercase/uppercase; compared by keepequal/dropequal."
    )
    replacement: str = Field(
        DEFAULT_REPLACEMENT,
        description="Value written by `replace` (and the new name for `labelmap`); `$1`, `${name}` expand groups.",
    )
    action: Action = Field(Action.REPLACE, description="What the rule does (see `Action`).")

    _compiled: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _null_regex(cls, data):
        # Prometheus: an explicit null regex becomes the empty regex.
        if isinstance(data, dict) and "regex" in data and data["regex"] is None:
            data = {**data, "regex": ""}
        return data

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, v):
        if isinstance(v, Action):
            return v
        if not isinstance(v, str):
            # pydantic turns only ValueError into a ValidationError
            raise ValueError(f"unknown relabel action {v!r}")  # noqa: TRY004
        try:
            return Action(v.lower())
        except ValueError:
            raise ValueError(f'unknown relabel action "{v}"') from None

    @field_validator("source_labels")
    @classmethod
    def _source_labels(cls, v):
        for name in v or ():
            if not is_valid_label_name(name):
                raise ValueError(f'"{name}" is not a valid label name')
        return v

    @field_validator("regex", mode="before")
    @classmethod
    def _regex(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)  # YAML reads `regex: 1` as a number; Prometheus reads a string
        if isinstance(v, str):
            compile_anchored(v)
        return v

    @model_validator(mode="after")
    def _validate(self):
        self.check(ValidationScheme.UTF8)
        self._compiled = compile_anchored(self.regex)
        return self

    @property
    def compiled(self):
        """The anchored RE2 pattern."""
        return self._compiled

    def check(self, scheme: ValidationScheme) -> None:
        """Raise ``ValueError`` with Prometheus's wording when the rule is invalid
        under the label-name ``scheme`` (``utf8`` or ``legacy``)."""
        a = self.action
        t = self.target_label
        if a is Action.HASHMOD and self.modulus == 0:
            raise ValueError("relabel configuration for hashmod requires non-zero modulus")
        needs_target = (
            Action.REPLACE, Action.HASHMOD, Action.LOWERCASE, Action.UPPERCASE,
            Action.KEEPEQUAL, Action.DROPEQUAL,
        )
        if a in needs_target and t == "":
            raise ValueError(f"relabel configuration for {a.value} action requires 'target_label' value")

        def valid_with_vars(value: str) -> bool:
            if scheme is ValidationScheme.UTF8:
                return is_valid_label_name(value, scheme)
            return bool(_LEGACY_TARGET_WITH_VARS.match(value))

        if a is Action.REPLACE:
            ok = valid_with_vars(t) if "$" in t else is_valid_label_name(t, scheme)
            if not ok:
                raise ValueError(f'"{t}" is invalid \'target_label\' for {a.value} action')
        simple = (Action.LOWERCASE, Action.UPPERCASE, Action.KEEPEQUAL, Action.DROPEQUAL)
        if a in simple and not is_valid_label_name(t, scheme):
            raise ValueError(f'"{t}" is invalid \'target_label\' for {a.value} action')
        if a in simple and self.replacement != DEFAULT_REPLACEMENT:
            raise ValueError(f"'replacement' can not be set for {a.value} action")
        if a is Action.LABELMAP and not valid_with_vars(self.replacement):
            raise ValueError(f'"{self.replacement}" is invalid \'replacement\' for {a.value} action')
        if a is Action.HASHMOD and not is_valid_label_name(t, scheme):
            raise ValueError(f'"{t}" is invalid \'target_label\' for {a.value} action')
        if a in (Action.KEEPEQUAL, Action.DROPEQUAL) and (
            self.regex != DEFAULT_REGEX
            or self.modulus != 0
            or self.separator != DEFAULT_SEPARATOR
            or self.replacement != DEFAULT_REPLACEMENT
        ):
            raise ValueError(
                f"{a.value} action requires only 'source_labels' and `target_label`, and no other fields"
            )
        if a in (Action.LABELDROP, Action.LABELKEEP) and (
            self.source_labels is not None
            or t != ""
            or self.modulus != 0
            or self.separator != DEFAULT_SEPARATOR
            or self.replacement != DEFAULT_REPLACEMENT
        ):
            raise ValueError(f"{a.value} action requires only 'regex', and no other fields")


def check_rules(rules: list[RelabelConfig] | None, scheme: ValidationScheme) -> None:
    for r in rules or ():
        r.check(scheme)


def reject_null_rules(rules: Any, what: str) -> None:
    """Prometheus's message for ``- null`` entries in a rule list."""
    if isinstance(rules, list) and any(r is None for r in rules):
        raise ValueError(f"empty or null {what}")
