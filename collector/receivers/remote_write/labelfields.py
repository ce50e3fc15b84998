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

from google.protobuf.message import DecodeError

from collector.protos import remote_write_view_pb2 as view
from collector.receivers.remote_write.framing import frame_series
from storage.labels import InvalidLabels, LabelLimits, Labels

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
    labels = Labels.from_pairs(pairs)
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
    pairs = list(map(distinct.__getitem__, fields))
    bad = [p for p in distinct.values() if type(p) is str]
    if bad:  # rare: keep the messages with their series
        return _with_bad_strings(pairs, fields_per_key, limits)
    # every series' strings, name, value, name, value ..., cut from one list
    strings = list(chain.from_iterable(pairs))
    out: list[Labels | Normalised | InvalidLabels] = []
    at = 0
    for k in fields_per_key:
        flat = strings[at:at + 2 * k]
        at += 2 * k
        out.append(_label_set(flat, limits))
    return out


def _label_set(flat: list[str], limits: LabelLimits) -> Labels | Normalised | InvalidLabels:
    names, values = flat[0::2], flat[1::2]
    if "" not in values and all(map(lt, names, names[1:])):
        labels = Labels.from_sorted_flat(flat)
        try:
            labels.validate(limits)
        except InvalidLabels as e:
            return e
        return labels
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
