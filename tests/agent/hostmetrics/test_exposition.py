"""The text exposition renderer and the ASGI /metrics endpoint, read back with
prometheus_client's parser."""

import asyncio
import math

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from agent.hostmetrics import (
    CONTENT_TYPE,
    HostMetrics,
    HostMetricsConfig,
    MetricsEndpoint,
    render_text,
)
from agent.hostmetrics.collectors.loadavg import LoadavgCollector
from agent.hostmetrics.family import COUNTER, GAUGE, UNTYPED, FamilyBuilder, MetricFamily


def parse(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_render_types_help_and_escaping():
    fams = [
        MetricFamily(
            "node_b_total",
            COUNTER,
            "A counter\nwith a newline and a \\.",
            ("device",),
            (("sda",), ('with "quote" and \\ and\nnewline',)),
            (1.0, 2.5),
        ),
        MetricFamily("node_a", UNTYPED, "untyped one", (), ((),), (math.inf,)),
        MetricFamily("node_c_info", GAUGE, "info", ("ifalias", "device"), (("", "eth0"),), (1.0,)),
    ]
    text = render_text(fams)
    assert text.index("node_a ") < text.index("node_b_total") < text.index("node_c_info")
    assert "# TYPE node_a untyped\n" in text
    assert 'ifalias=""' in text  # empty values are printed, as node-exporter does
    p = parse(text)
    assert p["node_b"].type == "counter"
    assert p["node_b"].documentation == "A counter\nwith a newline and a \\."
    samples = {s.labels["device"]: s.value for s in p["node_b"].samples}
    assert samples == {"sda": 1.0, 'with "quote" and \\ and\nnewline': 2.5}
    assert p["node_a"].type == "unknown" and p["node_a"].samples[0].value == math.inf


_label_value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_label_value, st.floats(allow_nan=False)),
        min_size=1,
        max_size=5,
        unique_by=lambda t: t[0],
    )
)
def test_render_round_trips(series):
    b = FamilyBuilder("node_x", GAUGE, "x", ("v",))
    for value_label, v in series:
        b.add(v, value_label)
    p = parse(render_text([b.build()]))
    got = {s.labels["v"]: s.value for s in p["node_x"].samples}
    assert got == {lv: v for lv, v in series}


def test_metrics_endpoint(host_paths, registry):
    hm = HostMetrics(
        HostMetricsConfig(instance="h"),
        collectors=[LoadavgCollector(host_paths)],
        registry=registry,
    )
    app = MetricsEndpoint(hm)

    async def go():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://agent"
        ) as c:
            return await c.get("/metrics"), await c.post("/metrics"), await c.head("/metrics")

    get, post, head = asyncio.run(go())
    assert get.status_code == 200 and get.headers["content-type"] == CONTENT_TYPE
    p = parse(get.text)
    assert p["node_load15"].samples[0].value == 0.10
    assert p["node_scrape_collector_success"].samples[0].labels == {"collector": "loadavg"}
    assert post.status_code == 405
    assert head.status_code == 200 and head.content == b""
