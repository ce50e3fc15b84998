"""Hypothesis strategies that generate valid PromQL (for parser and engine property tests)."""

from __future__ import annotations

from hypothesis import strategies as st

names = st.sampled_from(["up", "http_requests_total", "node_cpu_seconds_total", "x:y_z", "a"])
label_names = st.sampled_from(["job", "instance", "le", "mode"])
label_values = st.text(alphabet="abc01-_./ ", max_size=6)
durations = st.sampled_from(["1s", "30s", "5m", "1h", "1h30m", "500ms", "2d"])
numbers = st.one_of(
    st.integers(0, 10_000).map(str),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["Inf", "NaN", "1e3", "0x1F", ".5"]),
)


@st.composite
def selectors(draw, modifiers=True):
    name = draw(names)
    matchers = draw(
        st.lists(
            st.tuples(label_names, st.sampled_from(["=", "!=", "=~", "!~"]), label_values),
            max_size=3,
        )
    )
    body = ", ".join(f'{n}{op}"{v}"' for n, op, v in matchers)
    text = f"{name}{{{body}}}" if matchers or draw(st.booleans()) else name
    if modifiers and draw(st.booleans()):
        text += f" offset {draw(st.sampled_from(['', '-']))}{draw(durations)}"
    if modifiers and draw(st.integers(0, 4)) == 0:
        text += f" @ {draw(st.integers(-(10**6), 10**6))}"
    return text


@st.composite
def range_selectors(draw):
    text = f"{draw(selectors(False))}[{draw(durations)}]"
    if draw(st.booleans()):
        text += f" offset {draw(durations)}"
    if draw(st.integers(0, 3)) == 0:
        text += f" @ {draw(st.integers(-(10**6), 10**6))}"
    return text


def vector_exprs():
    base = st.one_of(
        selectors(),
        st.builds(
            lambda f, r: f"{f}({r})",
            st.sampled_from(["rate", "irate", "increase", "delta", "sum_over_time", "changes"]),
            range_selectors(),
        ),
        st.builds(lambda s: f"vector({s})", numbers),
    )

    def extend(children):
        return st.one_of(
            st.builds(
                lambda op, e: f"{op}({e})",
                st.sampled_from(["sum", "avg", "max", "count"]),
                children,
            ),
            st.builds(
                lambda op, g, e: f"{op} by ({g}) ({e})",
                st.sampled_from(["sum", "min"]),
                label_names,
                children,
            ),
            st.builds(lambda k, e: f"topk({k}, {e})", st.integers(1, 5), children),
            st.builds(
                lambda a, op, b: f"{a} {op} {b}",
                children,
                st.sampled_from(
                    [
                        "+",
                        "-",
                        "*",
                        "/",
                        "%",
                        "^",
                        "and",
                        "or",
                        "unless",
                        "> bool",
                        "== bool",
                        "atan2",
                    ]
                ),
                children,
            ),
            st.builds(lambda a, b: f"{a} / on(job) group_left(instance) {b}", children, children),
            st.builds(lambda e: f"({e})", children),
            st.builds(lambda e: f"-{e}", children),
            st.builds(
                lambda f, e: f"{f}({e})",
                st.sampled_from(["abs", "ceil", "sort", "timestamp"]),
                children,
            ),
            st.builds(lambda e, d: f"max_over_time(({e})[{d}:])", children, durations),
            st.builds(lambda e, n: f"{e} * {n}", children, numbers),
        )

    return st.recursive(base, extend, max_leaves=6)
