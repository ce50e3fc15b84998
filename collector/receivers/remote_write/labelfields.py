"""Label sets of new series, from their label-field bytes, all at once.

The label-cache key of a remote-write 1.0 series is the bytes of its
``Label`` fields (see ``framing.py``). The keys of a request that the cache
does not know are parsed together by protobuf into one list of ``Label``
messages as bytes; series of one request share most of their labels (names
always, values like ``job`` or ``namespace`` mostly), so each *distinct*
label message is decoded once, and a label set is assembled from the
decoded pairs::

    sets = label_sets(keys, LabelLimits())
    # each entry: Labels, Normalised(Labels) or InvalidLabels; None: use protobuf

A label message is decoded here when it has one of the two layouts encoders
produce (``0a <len> name 12 <len> value``, or ``0a <len> name`` for an empty
value); any other makes ``label_sets`` return None, and the caller decodes
the request message by message.

The checks of ``Labels.validate`` are made for all the new series of a
request at once: those on single strings over its distinct labels, those on
a series' names (sorted, unique, a metric name) in numpy over every label
as a number, the rank of its name. Only a series failing them is checked on
its own, which names the reason.

A key whose labels come sorted by name with no empty value is the one
encoding of its label set, so equal label sets from such keys are one
``Labels`` object in the cache. Anything else that is still valid is
wrapped in ``Normalised`` (sorted, empty values dropped), which tells the
decoder to compare those series by value.
"""

from __future__ import annotations

import sys
from itertools import chain
from operator import lt

import numpy as np
from google.protobuf.message import DecodeError

from collector.protos import remote_write_view_pb2 as view
from collector.receivers.remote_write.framing import frame_series
from storage.labels import METRIC_NAME, InvalidLabels, LabelLimits, Labels

_intern = sys.intern


class Normalised(tuple):
    """A valid label set whose key was not its canonical encoding: ``labels``."""

    __slots__ = ()

    @property
    def labels(self) -> Labels:
        return self[0]


def checked(pairs: list[tuple[str, str]], limits: LabelLimits) -> Labels | InvalidLabels:
    """A label set from ``pairs`` in any order, or why it is invalid."""
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        dup = sorted(n for n in set(names) if names.count(n) > 1)
        return InvalidLabels(f"series has duplicate label names {dup}")
    return _validated(Labels.from_pairs(pairs), limits)


def _validated(labels: Labels, limits: LabelLimits) -> Labels | InvalidLabels:
    try:
        labels.validate(limits)
    except InvalidLabels as e:
        return e
    return labels


class _Unusual(Exception):
    """A label message of a layout this decoder leaves to protobuf."""


def _string_at(field: bytes, i: int, tag: int) -> tuple[bytes, int]:
    """The length-delimited field ``tag`` at ``field[i]``: (its bytes, where it ends)."""
    if i + 1 >= len(field) or field[i] != tag:
        raise _Unusual
    n, i = field[i + 1], i + 2
    if n >= 0x80:  # strings of 128 bytes or more: a longer length
        shift, n = 7, n & 0x7F
        while True:
            if i >= len(field) or shift > 28:
                raise _Unusual
            b = field[i]
            n |= (b & 0x7F) << shift
            i += 1
            if b < 0x80:
                break
            shift += 7
    end = i + n
    if end > len(field):
        raise _Unusual
    return field[i:end], end


def _pair(field: bytes) -> tuple[str, str] | str:
    """(name, value) of one ``Label`` message, or why it is not UTF-8."""
    # inline, the layout of nearly every label: both strings shorter than 128 bytes
    size = len(field)
    n = field[1] if size > 1 else 0x80
    m = field[n + 3] if n < 0x80 and size > n + 3 else 0x80
    if m < 0x80 and field[0] == 0x0A and field[n + 2] == 0x12 and size == n + 4 + m:
        name, value = field[2:n + 2], field[n + 4:]
    else:
        name, i = _string_at(field, 0, 0x0A)
        if i == len(field):
            value = b""
        else:
            value, i = _string_at(field, i, 0x12)
            if i != len(field):
                raise _Unusual
    try:
        return _intern(name.decode("utf-8")), _intern(value.decode("utf-8"))
    except UnicodeDecodeError as e:
        return f"series has labels that are not valid UTF-8 ({e})"


def label_sets(keys: list[bytes], limits: LabelLimits) -> list[Labels | Normalised | InvalidLabels] | None:
    """Decode ``keys``; None when one is not made only of label fields or a
    label message has a layout left to protobuf."""
    frames = frame_series(keys, count_fields=True)
    if frames is None or (frames.label_ends != frames.ends).any():
        return None
    fields_per_key = frames.fields.tolist()
    try:
        fields = list(view.LabelFieldsV1.FromString(b"".join(keys)).labels)
    except DecodeError:
        return None
    if len(fields) != sum(fields_per_key):
        return None
    distinct = dict.fromkeys(fields)
    try:
        for f in distinct:
            distinct[f] = _pair(f)
    except _Unusual:
        return None
    if str in set(map(type, distinct.values())):  # rare: keep the messages with their series
        return _with_bad_strings(list(map(distinct.__getitem__, fields)), fields_per_key, limits)
    # every series' strings, name, value, name, value ..., cut from one list
    strings = list(chain.from_iterable(map(distinct.__getitem__, fields)))
    valid = _plainly_valid(fields, distinct, frames.fields, limits)
    out: list[Labels | Normalised | InvalidLabels] = []
    make = Labels.from_sorted_flat
    at = 0
    for k, ok in zip(fields_per_key, valid):
        flat = strings[at:at + 2 * k]
        at += 2 * k
        out.append(make(flat) if ok else _label_set(flat, limits))
    return out


def _plainly_valid(fields: list[bytes], distinct: dict, counts: np.ndarray, limits: LabelLimits) -> list[bool]:
    """Per series (``counts[i]`` of the label ``fields`` each; ``distinct`` maps a
    field to its (name, value)): True when its labels, as they stand, pass every
    check of ``Labels.validate`` — sorted, unique and non-empty names, a metric
    name, no empty value, few enough labels, and the checks on single strings,
    made once on the request's distinct labels. False: check it one by one."""
    n = len(counts)
    if not n or not _strings_ok(distinct.values(), limits):
        return [False] * n
    # each field as one number: the rank of its name among the request's names
    # (so names compare as their ranks do), times 2, plus 1 for an empty value
    names = sorted({name for name, _ in distinct.values()})
    rank = {name: 2 * i for i, name in enumerate(names)}
    code = {f: rank[name] + (value == "") for f, (name, value) in distinct.items()}
    codes = np.fromiter(map(code.__getitem__, fields), np.int64, len(fields))
    ranks = codes >> 1
    ends = np.cumsum(counts)
    starts = ends - counts
    # pair p: field p's name is not below field p + 1's; a series [s, e) holds
    # pairs s .. e - 2 (running counts: before[q] = unordered pairs below q)
    pairs = np.zeros(len(fields), np.int64)
    pairs[:-1] = ranks[1:] <= ranks[:-1]
    before = np.concatenate(([0], np.cumsum(pairs)))
    bad = before[np.maximum(ends - 1, starts)] - before[starts]
    empty = np.concatenate(([0], np.cumsum(codes & 1)))
    metric_rank = rank.get(METRIC_NAME, -2) // 2
    metric = np.concatenate(([0], np.cumsum(ranks == metric_rank)))
    ok = (counts > 0) & (bad == 0) & (empty[ends] == empty[starts]) & (metric[ends] - metric[starts] == 1)
    if limits.max_labels:
        ok &= counts <= limits.max_labels
    return ok.tolist()


def _strings_ok(pairs, limits: LabelLimits) -> bool:
    """Whether every (name, value) of ``pairs`` passes the checks ``Labels.validate``
    makes on single strings (with UTF-8 names: legacy names are checked per series)."""
    if not limits.utf8_names:
        return False
    names = [n for n, _ in pairs]
    values = [v for _, v in pairs]
    if not names or "" in names:
        return False
    if limits.max_name_length and max(map(len, names)) > limits.max_name_length:
        return False
    if limits.max_value_length and max(map(len, values)) > limits.max_value_length:
        return False
    return "\ufffd" not in "".join(names) and "\ufffd" not in "".join(values)


def _label_set(flat: list[str], limits: LabelLimits) -> Labels | Normalised | InvalidLabels:
    names, values = flat[0::2], flat[1::2]
    if "" not in values and all(map(lt, names, names[1:])):
        return _validated(Labels.from_sorted_flat(flat), limits)
    got = checked(list(zip(names, values)), limits)
    return got if type(got) is InvalidLabels else Normalised((got,))


def _with_bad_strings(pairs: list, fields_per_key: list[int], limits: LabelLimits) -> list:
    out: list[Labels | Normalised | InvalidLabels] = []
    at = 0
    for k in fields_per_key:
        mine = pairs[at:at + k]
        at += k
        bad = next((p for p in mine if type(p) is str), None)
        out.append(InvalidLabels(bad) if bad is not None else _label_set(list(chain.from_iterable(mine)), limits))
    return out
