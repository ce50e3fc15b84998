"""Applying relabel rules to a label set, with Prometheus's semantics.

``relabel(labels, rules)`` returns the new ``Labels``, or ``None`` when a rule
dropped the series/target. Replacement templates expand like Go's
``regexp.Expand`` (``$1``, ``${1}``, ``$name``, ``$$``; ``$1x`` names the group
``1x``, which does not exist, so it expands to nothing), because that is what
users' existing rules were written against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from collector.relabel.config import (
    DEFAULT_REGEX,
    Action,
    RelabelConfig,
    ValidationScheme,
    is_valid_label_name,
)
from storage.labels import Labels


def _is_word(c: str) -> bool:
    return c == "_" or c.isalnum()


def expand(template: str, match, pattern) -> str:
    """Go ``regexp.Expand`` of ``template`` with the groups of ``match``."""
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        brace = i < n and template[i] == "{"
        k = i + 1 if brace else i
        start = k
        while k < n and _is_word(template[k]):
            k += 1
        name = template[start:k]
        if not name or (brace and (k >= n or template[k] != "}")):
            out.append("$")  # malformed: the $ stays as text
            continue
        i = k + 1 if brace else k
        num = -1
        if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
            num = int(name)
        elif name in pattern.groupindex:
            num = pattern.groupindex[name]
        if 0 <= num <= pattern.groups:
            g = match.group(num)
            if g:
                out.append(g)
    return "".join(out)


class _Builder:
    """Prometheus's ``labels.Builder``: a base set with ordered additions and deletions.

    Iteration order (base labels first, then additions in the order they were
    made) matters for ``labelmap`` when two names map to the same target.
    """

    __slots__ = ("add", "base", "dels")

    def __init__(self, base: Labels):
        self.base = base
        self.add: dict[str, str] = {}
        self.dels: set[str] = set()

    def get(self, name: str) -> str:
        if name in self.add:
            return self.add[name]
        if name in self.dels:
            return ""
        return self.base.get(name)

    def set(self, name: str, value: str) -> None:
        if value == "":
            self.delete(name)
            return
        self.dels.discard(name)
        self.add.pop(name, None)  # re-setting moves it to the end, as Go's slice does
        self.add[name] = value

    def delete(self, name: str) -> None:
        self.add.pop(name, None)
        self.dels.add(name)

    def snapshot(self) -> list[tuple[str, str]]:
        out = [(n, v) for n, v in self.base.items() if n not in self.dels and n not in self.add]
        out.extend(self.add.items())
        return out

    def labels(self) -> Labels:
        if not self.add and not self.dels:
            return self.base
        return Labels.from_pairs(self.snapshot())


def hashmod(value: str, modulus: int) -> int:
    """Prometheus's hashmod: the last 8 bytes of the MD5 digest, big-endian, mod ``modulus``."""
    digest = hashlib.md5(value.encode("utf-8")).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def _apply(rule: RelabelConfig, b: _Builder, scheme: ValidationScheme) -> bool:
    src = rule.source_labels
    if src:
        val = rule.separator.join(b.get(n) for n in src)
    else:
        val = ""
    a = rule.action
    rx = rule.compiled
    if a is Action.DROP:
        return rx.match(val) is None
    if a is Action.KEEP:
        return rx.match(val) is not None
    if a is Action.DROPEQUAL:
        return b.get(rule.target_label) != val
    if a is Action.KEEPEQUAL:
        return b.get(rule.target_label) == val
    if a is Action.REPLACE:
        if (
            val == ""
            and rule.regex == DEFAULT_REGEX
            and "$" not in rule.target_label
            and "$" not in rule.replacement
        ):
            b.set(rule.target_label, rule.replacement)
            return True
        m = rx.match(val)
        if m is None:
            return True
        target = expand(rule.target_label, m, rx)
        if not is_valid_label_name(target, scheme):
            return True
        b.set(target, expand(rule.replacement, m, rx))
        return True
    if a is Action.LOWERCASE:
        b.set(rule.target_label, val.lower())
        return True
    if a is Action.UPPERCASE:
        b.set(rule.target_label, val.upper())
        return True
    if a is Action.HASHMOD:
        b.set(rule.target_label, str(hashmod(val, rule.modulus)))
        return True
    if a is Action.LABELMAP:
        for name, value in b.snapshot():
            m = rx.match(name)
            if m is not None:
                b.set(expand(rule.replacement, m, rx), value)
        return True
    if a is Action.LABELDROP:
        for name, _ in b.snapshot():
            if rx.match(name) is not None:
                b.delete(name)
        return True
    if a is Action.LABELKEEP:
        for name, _ in b.snapshot():
            if rx.match(name) is None:
                b.delete(name)
        return True
    raise AssertionError(f"unhandled relabel action {a}")  # the enum is closed


def relabel(
    labels: Labels,
    rules: Sequence[RelabelConfig],
    scheme: ValidationScheme = ValidationScheme.UTF8,
) -> Labels | None:
    """Apply ``rules`` in order; ``None`` means dropped. An empty result is
    returned as ``Labels.EMPTY``; callers treat it as dropped where Prometheus does."""
    if not rules:
        return labels
    b = _Builder(labels)
    for rule in rules:
        if not _apply(rule, b, scheme):
            return None
    return b.labels()
