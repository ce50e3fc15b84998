"""The PromQL engine (Prometheus 3.x semantics for float samples).

Public API (the HTTP API, alerting and dashboards use exactly this)::

    from storage.promql import Engine, EngineOptions, QueryResult, PromQLError
    engine = Engine(EngineOptions())
    res = engine.instant_query(queryable, "sum(rate(x[5m]))", time_ms)
    res = engine.range_query(queryable, expr, start_ms, end_ms, step_ms)
    tree = engine.parse(expr)        # raises ParseError

See README.md for the semantics, limits and what is not supported.
"""

from storage.promql.engine import Engine, EngineOptions, QueryResult, QueryStats
from storage.promql.errors import (
    BadQueryError,
    ConcurrencyLimitError,
    EvaluationError,
    InternalError,
    ParseError,
    PromQLError,
    QueryCanceledError,
    QueryTimeoutError,
    StorageReadError,
    TooManySamplesError,
)
from storage.promql.value import Matrix, Sample, Scalar, Series, String, Vector

__all__ = [
    "BadQueryError",
    "ConcurrencyLimitError",
    "Engine",
    "EngineOptions",
    "EvaluationError",
    "InternalError",
    "Matrix",
    "ParseError",
    "PromQLError",
    "QueryCanceledError",
    "QueryResult",
    "QueryStats",
    "QueryTimeoutError",
    "Sample",
    "Scalar",
    "Series",
    "StorageReadError",
    "String",
    "TooManySamplesError",
    "Vector",
]
