"""Serve Spyglass's notification pipeline and its Alertmanager API v2 as one process
(what the notification benchmark measures against Debian's prometheus-alertmanager)::

    python -m bench._notify_server CONFIG DATA_DIR PORT
"""

from __future__ import annotations

import sys

import uvicorn

from alerting.api import create_app
from alerting.notify import Notifier, load_config


def main(argv: list[str]) -> None:
    config, data_dir, port = argv[0], argv[1], int(argv[2])
    notifier = Notifier(load_config(config), data_dir, external_url="http://bench.test")
    notifier.start()
    try:
        uvicorn.run(create_app(notifier), host="127.0.0.1", port=port, log_level="warning")
    finally:
        notifier.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
