"""Relabeling: a table of Prometheus behaviours, validation wording, and promtool."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.relabel import RelabelConfig, ValidationScheme, expand, hashmod, relabel
from collector.relabel.config import compile_anchored
from storage.labels import Labels
from tests.util import peer_binary


def L(**kw) -> Labels:
    return Labels.from_dict(kw)


def rules(*dicts) -> list[RelabelConfig]:
    return [RelabelConfig.model_validate(d) for d in dicts]


CASES = [
    # (input, rules, expected or None when dropped)
    pytest.param(
        L(a="foo", b="bar", c="baz"),
        [{"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch${1}-ch${1}"}],
        L(a="foo", b="bar", c="baz", d="choo-choo"),
        id="replace-braced-group",
    ),
    pytest.param(
        L(a="foo", b="bar"),
        [{"source_labels": ["a", "b"], "regex": "f(.*);(.*)r", "target_label": "a", "replacement": "b${1}${2}m"}],
        L(a="boobam", b="bar"),
        id="replace-two-sources-separator",
    ),
    pytest.param(
        L(a="foo"),
        [{"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "$1x"}],
        L(a="foo"),  # $1x names group "1x", which does not exist: empty value, label not set
        id="replace-dollar-1x-is-group-named-1x",
    ),
    pytest.param(
        L(a="foo"),
        [{"source_labels": ["a"], "regex": "(?P<first>f)(.*)", "target_label": "d", "replacement": "${first}-$2-$$"}],
        L(a="foo", d="f-oo-$"),
        id="replace-named-group-and-dollar-dollar",
    ),
    pytest.param(
        L(a="foo"),
        [{"source_labels": ["a"], "regex": "o+", "target_label": "d"}],
        L(a="foo"),  # anchored: "o+" does not match "foo"
        id="regex-is-fully-anchored",
    ),
    pytest.param(
        L(a="foo", d="old"),
        [{"source_labels": ["a"], "regex": "(f).*", "target_label": "d", "replacement": ""}],
        L(a="foo"),
        id="replace-with-empty-deletes",
    ),
    pytest.param(
        L(a="foo"),
        [{"source_labels": ["missing"], "target_label": "x", "replacement": "set"}],
        L(a="foo", x="set"),
        id="replace-fast-path-empty-source",
    ),
    pytest.param(
        L(a="some-name-value", b="x"),
        [{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": "${1}", "replacement": "${2}"}],
        L(a="some-name-value", b="x", name="value"),
        id="replace-target-label-template",
    ),
    pytest.param(
        L(a="foo"),
        [{"action": "keep", "source_labels": ["a"], "regex": "f.*"}],
        L(a="foo"),
        id="keep-match",
    ),
    pytest.param(L(a="foo"), [{"action": "keep", "source_labels": ["a"], "regex": "g.*"}], None, id="keep-nomatch"),
    pytest.param(L(a="foo"), [{"action": "drop", "source_labels": ["a"], "regex": "f.*"}], None, id="drop"),
    pytest.param(
        L(a="foo"),
        [{"action": "drop", "source_labels": ["b"], "regex": ""}],
        None,  # a missing label is the empty string, which "" matches
        id="drop-missing-label-empty-regex",
    ),
    pytest.param(
        L(a="foo", b="foo"),
        [{"action": "keepequal", "source_labels": ["a"], "target_label": "b"}],
        L(a="foo", b="foo"),
        id="keepequal",
    ),
    pytest.param(
        L(a="foo", b="bar"),
        [{"action": "keepequal", "source_labels": ["a"], "target_label": "b"}],
        None,
        id="keepequal-differs",
    ),
    pytest.param(
        L(a="foo", b="foo"),
        [{"action": "dropequal", "source_labels": ["a"], "target_label": "b"}],
        None,
        id="dropequal",
    ),
    pytest.param(
        L(a="foo"),
        [{"action": "hashmod", "source_labels": ["a"], "modulus": 1000, "target_label": "h"}],
        L(a="foo", h=str(int.from_bytes(hashlib.md5(b"foo").digest()[8:], "big") % 1000)),
        id="hashmod",
    ),
    pytest.param(
        L(__meta_kubernetes_pod_label_app="web", __meta_kubernetes_pod_label_tier="fe", a="x"),
        [{"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"}],
        L(__meta_kubernetes_pod_label_app="web", __meta_kubernetes_pod_label_tier="fe", a="x", app="web", tier="fe"),
        id="labelmap",
    ),
    pytest.param(
        L(a="1", b="2"),
        [{"action": "labelmap", "regex": "(.)", "replacement": "same"}],
        L(a="1", b="2", same="2"),  # the later source label wins
        id="labelmap-collision-last-wins",
    ),
    pytest.param(
        L(a="1", b="2", tmp_x="3"),
        [{"action": "labeldrop", "regex": "tmp_.*"}],
        L(a="1", b="2"),
        id="labeldrop",
    ),
    pytest.param(
        L(a="1", b="2", c="3"),
        [{"action": "labelkeep", "regex": "a|c"}],
        L(a="1", c="3"),
        id="labelkeep",
    ),
    pytest.param(
        L(a="1"),
        [{"action": "labelkeep", "regex": "b"}],
        Labels.EMPTY,
        id="labelkeep-everything-gone",
    ),
    pytest.param(
        L(a="AbC"),
        [{"action": "lowercase", "source_labels": ["a"], "target_label": "l"},
         {"action": "uppercase", "source_labels": ["a"], "target_label": "u"}],
        L(a="AbC", l="abc", u="ABC"),
        id="lowercase-uppercase",
    ),
    pytest.param(
        L(a="foo"),
        [{"action": "REPLACE", "source_labels": ["a"], "target_label": "b"}],
        L(a="foo", b="foo"),
        id="action-case-insensitive-default-replacement",
    ),
    pytest.param(
        L(a="foo"),
        [{"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"}],
        L(a="foo", foo="v"),
        id="target-from-value",
    ),
    pytest.param(
        L(a=""),  # empty values are absent
        [{"source_labels": ["a"], "regex": "(.*)", "target_label": "x", "replacement": "${1}y"}],
        L(x="y"),
        id="empty-source-with-template",
    ),
    pytest.param(
        L(a="line1\nline2"),
        [{"action": "keep", "source_labels": ["a"], "regex": "line1.line2"}],
        L(a="line1\nline2"),
        id="dot-matches-newline",
    ),
]


@pytest.mark.parametrize("labels, cfgs, expected", CASES)
def test_relabel_table(labels, cfgs, expected):
    assert relabel(labels, rules(*cfgs)) == expected


def test_replace_invalid_target_is_skipped_only_in_legacy_scheme():
    rs = rules({"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"})
    assert relabel(L(a="1bad"), rs, ValidationScheme.LEGACY) == L(a="1bad")
    assert relabel(L(a="1bad"), rs, ValidationScheme.UTF8) == L(a="1bad", **{"1bad": "v"})


def test_rules_apply_in_order_and_stop_at_drop():
    rs = rules(
        {"source_labels": ["a"], "target_label": "b"},
        {"action": "drop", "source_labels": ["b"], "regex": "x"},
        {"source_labels": ["a"], "target_label": "never", "replacement": "seen"},
    )
    assert relabel(L(a="x"), rs) is None
    assert relabel(L(a="y"), rs) == L(a="y", b="y", never="seen")


def test_hashmod_matches_prometheus_known_value():
    # Values from Prometheus's own relabel tests.
    assert hashmod("baz", 1000) == 976
    assert hashmod("foo\nbar", 1000) == 734
    assert hashmod("", 10) == int.from_bytes(hashlib.md5(b"").digest()[8:], "big") % 10


def test_expand_go_semantics():
    rx = compile_anchored("(a)(b)(?P<name>c)")
    m = rx.match("abc")
    assert expand("$1-$2-$name-${3}", m, rx) == "a-b-c-c"
    assert expand("$9", m, rx) == ""  # out of range
    assert expand("$", m, rx) == "$"  # malformed stays
    assert expand("${1", m, rx) == "${1"
    assert expand("$01", m, rx) == ""  # leading zero: a name, not a number
    assert expand("$$1", m, rx) == "$1"


VALIDATION = [
    ({"action": "hashmod", "target_label": "x"}, "relabel configuration for hashmod requires non-zero modulus"),
    ({"action": "replace", "target_label": ""}, "relabel configuration for replace action requires 'target_label' value"),
    ({"action": "lowercase", "target_label": "x", "replacement": "y"}, "'replacement' can not be set for lowercase action"),
    ({"action": "keepequal", "target_label": "x", "regex": "a"},
     "keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
    ({"action": "labeldrop", "regex": "a", "source_labels": ["x"]},
     "labeldrop action requires only 'regex', and no other fields"),
    ({"action": "bogus"}, 'unknown relabel action "bogus"'),
    ({"source_labels": [""], "target_label": "x"}, '"" is not a valid label name'),
    ({"regex": "(unclosed", "target_label": "x"}, "error parsing regexp: missing ): `^(?s:(unclosed)$`"),
]


@pytest.mark.parametrize("cfg, message", VALIDATION)
def test_validation_messages(cfg, message):
    with pytest.raises(ValidationError) as e:
        RelabelConfig.model_validate(cfg)
    assert message in str(e.value)


def test_legacy_scheme_rejects_utf8_target():
    rc = RelabelConfig(source_labels=["a"], target_label="with.dot")
    rc.check(ValidationScheme.UTF8)
    with pytest.raises(ValueError, match=r"\"with.dot\" is invalid 'target_label' for replace action"):
        rc.check(ValidationScheme.LEGACY)


@pytest.mark.peer
@pytest.mark.parametrize(
    "rule, ours",
    [
        ({"action": "hashmod", "target_label": "x", "source_labels": ["a"]}, "requires non-zero modulus"),
        ({"action": "uppercase", "target_label": "x", "replacement": "y"}, "'replacement' can not be set"),
        ({"action": "labelkeep", "regex": "a", "target_label": "t"}, "requires only 'regex'"),
        ({"action": "nope"}, "unknown relabel action"),
    ],
)
def test_promtool_agrees_on_invalid_rules(tmp_path, rule, ours):
    """Real promtool rejects what we reject, with the same words."""
    promtool = peer_binary("promtool")
    cfg = {"scrape_configs": [{"job_name": "j", "static_configs": [{"targets": ["h:1"]}], "relabel_configs": [rule]}]}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode != 0
    assert ours in out.stdout + out.stderr
    with pytest.raises(ValidationError) as e:
        RelabelConfig.model_validate(rule)
    assert ours in str(e.value)


label_names = st.sampled_from(["a", "b", "c", "job", "__name__", "__meta_x"])
label_sets = st.dictionaries(label_names, st.text("xyz-_.", max_size=4)).map(Labels.from_dict)


@settings(max_examples=150, deadline=None)
@given(label_sets, st.sampled_from(["labeldrop", "labelkeep"]), st.sampled_from(["a|b", "__.*", ".*", "c"]))
def test_labeldrop_labelkeep_partition(labels, action, regex):
    out = relabel(labels, rules({"action": action, "regex": regex}))
    rx = compile_anchored(regex)
    kept = {n for n in labels.names() if (rx.match(n) is None) == (action == "labeldrop")}
    assert set(out.names()) == kept
    assert all(out.get(n) == labels.get(n) for n in kept)


@settings(max_examples=150, deadline=None)
@given(label_sets)
def test_default_replace_copies_value(labels):
    out = relabel(labels, rules({"source_labels": ["a"], "target_label": "copy"}))
    assert out.get("copy") == labels.get("a")
    assert out.without("copy") == labels.without("copy")
