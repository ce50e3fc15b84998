"""Alertmanager-compatible notifications: routing, grouping, silences, inhibition,
time intervals, a persisted notification log, and integrations for webhook,
Slack, Microsoft Teams, Telegram, email, DingTalk, Feishu and WeCom.

    from alerting.notify import Notifier, load_config, PostableAlert
    notifier = Notifier(load_config("alertmanager.yml"), "data/alerting")
    notifier.start()
    notifier.put_alerts([PostableAlert({"alertname": "Down", "job": "api"})])

The API v2 router is in ``alerting.api``; forwarding to an existing
Alertmanager instead is ``alerting.notify.forward.AlertmanagerForwarder``.
"""

from alerting.notify.alert import Alert, PostableAlert
from alerting.notify.clock import Clock, FakeClock, SystemClock
from alerting.notify.config import AlertmanagerConfig, ConfigError, load_config, parse_config
from alerting.notify.notifier import Notifier
from alerting.notify.silence import Silence, SilenceNotFound
from alerting.notify.wire import GoTime

__all__ = [
    "Alert", "AlertmanagerConfig", "Clock", "ConfigError", "FakeClock", "GoTime", "Notifier",
    "PostableAlert", "Silence", "SilenceNotFound", "SystemClock", "load_config", "parse_config",
]
