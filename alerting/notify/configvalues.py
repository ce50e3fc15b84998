"""Value types of ``alertmanager.yml`` fields, parsed where they are read.

URLs (http/https only, secret ones redacted when printed), secrets, matcher
lists in Alertmanager syntax (kept sorted, as upstream), the deprecated
``match``/``match_re`` maps, ``host:port`` and time-interval lists, and the
rule that a setting comes inline or from ``<name>_file``, not both::

    class Section(Model):
        url: SecretURL
        matchers: MatchersField = Field(default_factory=Matchers)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, PlainSerializer

from alerting.notify.matchers import (
    Matcher,
    MatcherError,
    Matchers,
    MatchType,
    is_legacy_label_name,
    parse_matchers,
)
from alerting.notify.timeinterval import TimeInterval, TimeIntervalError
from spyglass.configtypes import ConfigModel, Secret


def _check_url(v: str) -> str:
    if not isinstance(v, str):
        raise ValueError("a URL must be a string")  # noqa: TRY004 - pydantic reports ValueError as a config error
    if v == "<secret>":
        raise ValueError("a redacted URL (<secret>) cannot be loaded")
    u = urlsplit(v)
    if u.scheme not in ("http", "https"):
        raise ValueError(f'unsupported scheme "{u.scheme}" for URL')
    if not u.netloc:
        raise ValueError("missing host for URL")
    return v


def _redact(v: str | None) -> str:
    return "<secret>" if v else ""


# An http(s) URL, printed as is.
URL = Annotated[str, AfterValidator(_check_url)]
# An http(s) URL with a credential in it (Slack, chat robots): never printed.
SecretURL = Annotated[str, AfterValidator(_check_url), AfterValidator(Secret),
                      PlainSerializer(_redact, return_type=str)]
# A secret string (token, password): never printed.
SecretText = Annotated[str, AfterValidator(Secret), PlainSerializer(_redact, return_type=str)]


def _matchers_from_lines(v: Any) -> Matchers:
    if isinstance(v, Matchers):
        return v
    if v is None:
        return Matchers()
    if not isinstance(v, list):
        raise ValueError("matchers must be a list of strings")  # noqa: TRY004 - pydantic reports ValueError as a config error
    out: list[Matcher] = []
    for line in v:
        if isinstance(line, Matcher):
            out.append(line)
            continue
        if not isinstance(line, str):
            raise ValueError(f"matcher {line!r} must be a string")  # noqa: TRY004 - pydantic reports ValueError as a config error
        try:
            out.extend(parse_matchers(line))
        except MatcherError as e:
            raise ValueError(str(e)) from None
    return Matchers(out).sorted()


# A `matchers:` list: Alertmanager matcher syntax, one or more per line, kept sorted.
MatchersField = Annotated[
    Matchers,
    BeforeValidator(_matchers_from_lines),
    PlainSerializer(lambda ms: [str(m) for m in ms], return_type=list),
]


def _check_match(v: Any) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ValueError("must be a map of label name to value")  # noqa: TRY004 - pydantic reports ValueError as a config error
    out = {}
    for k, val in v.items():
        if not isinstance(k, str) or not is_legacy_label_name(k):
            raise ValueError(f'invalid label name "{k}"')
        out[k] = "" if val is None else str(val)
    return out


def _check_match_re(v: Any) -> dict[str, str]:
    out = _check_match(v)
    for k, val in out.items():
        try:
            Matcher(MatchType.REGEX, k, val)
        except ValueError as e:
            raise ValueError(f'invalid regexp value for "{k}": {e}') from None
    return out


MatchMap = Annotated[dict[str, str], BeforeValidator(_check_match)]
MatchREMap = Annotated[dict[str, str], BeforeValidator(_check_match_re)]


def _host_port(v: Any) -> str:
    if v is None or v == "":
        return ""
    s = str(v)
    host, sep, port = s.rpartition(":")
    if not sep:
        raise ValueError(f"address {s}: missing port in address")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"address {s}: missing ']' in address")
    if not port:
        raise ValueError(f'address "{s}": port cannot be empty')
    return s


# `host:port` (the SMTP smarthost), validated like Go's net.SplitHostPort.
HostPort = Annotated[str, BeforeValidator(_host_port)]


def _time_intervals(v: Any) -> tuple[TimeInterval, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ValueError("time_intervals must be a list")  # noqa: TRY004 - pydantic reports ValueError as a config error
    out = []
    for item in v:
        if isinstance(item, TimeInterval):
            out.append(item)
            continue
        try:
            out.append(TimeInterval.parse(item or {}))
        except TimeIntervalError as e:
            raise ValueError(str(e)) from None
    return tuple(out)


TimeIntervals = Annotated[
    tuple[TimeInterval, ...],
    BeforeValidator(_time_intervals),
    PlainSerializer(lambda tis: [ti.to_dict() for ti in tis], return_type=list),
]


class Model(ConfigModel):
    """Base of the alertmanager.yml sections: strict, frozen, may hold parsed values."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              arbitrary_types_allowed=True)


def inline_or_file(value: object, from_file: str, name: str, *, required: bool,
                    missing: str = "") -> None:
    """Refuse a setting given both inline and as ``<name>_file``; with ``required``,
    also refuse neither (``missing`` overrides Alertmanager's generic message)."""
    if required and not value and not from_file:
        raise ValueError(missing or f"one of {name} or {name}_file must be configured")
    if value and from_file:
        raise ValueError(f"at most one of {name} & {name}_file must be configured")

