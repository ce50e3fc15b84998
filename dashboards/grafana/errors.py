"""The one error a Grafana dashboard import raises: it names the panel and the field."""

from __future__ import annotations


class DashboardError(ValueError):
    """A dashboard JSON that cannot be imported.

    ``path`` is a JSON path (``panels[3].fieldConfig.defaults.unit``) and ``panel``
    names the panel (``panel 12 "CPU Busy"``) when the fault is inside one, so that
    the person who pasted the JSON can find it::

        raise DashboardError("expected a string, got 12", path="panels[0].title",
                             panel='panel 2 "CPU"')
    """

    def __init__(self, message: str, *, path: str = "", panel: str = ""):
        self.reason = message
        self.path = path
        self.panel = panel
        where = ", ".join(p for p in (panel, f"field {path}" if path else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
