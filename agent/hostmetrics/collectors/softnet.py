"""Per-CPU packet processing from /proc/net/softnet_stat (hex columns, one row per CPU)."""

from __future__ import annotations

from agent.hostmetrics.family import COUNTER, GAUGE, FamilyBuilder, MetricFamily, non_empty
from agent.hostmetrics.paths import HostPaths, require

# (column, metric, type, help). Columns 3-7 are unused; 11 (backlog length)
# and 12 (the CPU number) exist since Linux 5.10 / 6.0.
_COLUMNS = (
    (0, "node_softnet_processed_total", COUNTER, "Number of processed packets"),
    (1, "node_softnet_dropped_total", COUNTER, "Number of dropped packets"),
    (
        2,
        "node_softnet_times_squeezed_total",
        COUNTER,
        "Number of times processing packets ran out of quota",
    ),
    (
        8,
        "node_softnet_cpu_collision_total",
        COUNTER,
        "Number of collision occur while obtaining device lock while transmitting",
    ),
    (9, "node_softnet_received_rps_total", COUNTER, "Number of times cpu woken up received_rps"),
    (
        10,
        "node_softnet_flow_limit_count_total",
        COUNTER,
        "Number of times flow limit has been reached",
    ),
    (11, "node_softnet_backlog_len", GAUGE, "Softnet backlog status"),
)
_INDEX_COLUMN = 12


def parse_softnet(text: str) -> list[tuple[str, list[int]]]:
    """[(cpu, columns)]; the CPU is column 12 when present, else the row number
    (older kernels skip offline CPUs, so the row number can then be wrong)."""
    out = []
    for row, line in enumerate(text.split("\n")):
        cols = [int(x, 16) for x in line.split()]
        if not cols:
            continue
        if len(cols) < 3:
            raise ValueError(f"softnet_stat row with {len(cols)} columns")
        cpu = str(cols[_INDEX_COLUMN]) if len(cols) > _INDEX_COLUMN else str(row)
        out.append((cpu, cols))
    return out


class SoftnetCollector:
    """``node_softnet_*`` per CPU."""

    name = "softnet"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        builders = [(col, FamilyBuilder(n, t, h, ("cpu",))) for col, n, t, h in _COLUMNS]
        for cpu, cols in parse_softnet(require(self._paths.proc("net", "softnet_stat"))):
            for col, b in builders:
                if col < len(cols):
                    b.add(cols[col], cpu)
        return non_empty([b for _, b in builders])
