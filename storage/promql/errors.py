"""Errors the engine raises, each with the Prometheus API ``errorType`` it maps to.

Callers (the HTTP API, rule evaluation, the UI) catch ``PromQLError`` and use
``error_type`` as the API's ``errorType`` and ``str(e)`` as its ``error``::

    try:
        engine.instant_query(store, "sum(", 0)
    except PromQLError as e:
        e.error_type   # "bad_data"
        str(e)         # '1:5: parse error: unclosed left parenthesis'
"""

from __future__ import annotations


class PromQLError(Exception):
    """Base of every engine error; ``error_type`` is the Prometheus API errorType."""

    error_type = "execution"

    def __init__(self, message: str, error_type: str | None = None):
        super().__init__(message)
        if error_type is not None:
            self.error_type = error_type


class ParseError(PromQLError):
    """The expression does not parse or does not type-check.

    ``position`` is the 0-based character offset of the offending part and
    ``line``/``column`` its 1-based place, which the message starts with
    (``1:5: parse error: ...``), as Prometheus words it.
    """

    error_type = "bad_data"

    def __init__(self, message: str, position: int = 0, line: int = 1, column: int = 1):
        self.position, self.line, self.column = position, line, column
        self.detail = message
        super().__init__(f"{line}:{column}: parse error: {message}")


class BadQueryError(PromQLError):
    """A well-formed query that cannot run as asked (range query of a range vector,
    too many points per series, a bad step)."""

    error_type = "bad_data"


class EvaluationError(PromQLError):
    """A run-time error of the query itself (duplicate series, bad regex in
    ``label_replace``, many-to-many matching, ...)."""

    error_type = "execution"


class QueryTimeoutError(PromQLError):
    """The query ran past its deadline; the message says where."""

    error_type = "timeout"


class ConcurrencyLimitError(QueryTimeoutError):
    """No free query slot came before the deadline: too many queries run at once."""


class QueryCanceledError(PromQLError):
    """The caller canceled the query."""

    error_type = "canceled"


class TooManySamplesError(PromQLError):
    """The query would hold more samples in memory than ``max_samples`` allows."""

    error_type = "execution"

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(
            "query processing would load too many samples into memory in query execution "
            f"(limit max_samples={limit})"
        )


class StorageReadError(PromQLError):
    """The storage failed while the query read from it."""

    error_type = "execution"


class InternalError(PromQLError):
    """A bug in the engine; the message carries the original exception."""

    error_type = "internal"
