"""InfluxDB line protocol receiver at ``POST /write`` and ``POST /api/v2/write``.

    from collector.receivers import influx
    app.include_router(influx.router(storage, IngestLimits(), registry))

See ``handler`` for the measurement/field → series mapping.
"""

from collector.receivers.influx.handler import InfluxReceiver, label_name, metric_name, router
from collector.receivers.influx.lineprotocol import LineError, Point, parse

__all__ = ["InfluxReceiver", "LineError", "Point", "label_name", "metric_name", "parse", "router"]
