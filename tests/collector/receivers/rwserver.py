"""``python -m tests.collector.receivers.rwserver PORT DATA_DIR``: the
remote-write receiver over the embedded TSDB in a process of its own, for
tests that kill it."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.responses import PlainTextResponse

from collector.receivers import IngestLimits, remote_write
from storage.tsdb import TSDB


def main() -> None:
    port, data_dir = int(sys.argv[1]), sys.argv[2]
    db = TSDB.open(data_dir, registry=CollectorRegistry())
    app = FastAPI()
    app.include_router(remote_write.router(db, IngestLimits(), CollectorRegistry()))
    app.add_api_route("/-/ready", lambda: PlainTextResponse("ready"), methods=["GET"])
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        db.close()


if __name__ == "__main__":
    main()
