"""The embedded TSDB (WAL → head → blocks), implementing ``storage.interface.Storage``::

    from storage.tsdb import TSDB, TSDBOptions
    db = TSDB.open("data", TSDBOptions(), registry=None, clock=time.time)

See ``db.py`` for the lifecycle and FORMAT.md for the files it writes.
"""

from storage.tsdb.db import TSDB, MaintenanceReport
from storage.tsdb.options import TSDBOptions

__all__ = ["TSDB", "MaintenanceReport", "TSDBOptions"]
