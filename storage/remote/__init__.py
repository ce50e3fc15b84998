"""Remote-write out: a persistent, sharded queue per ``remote_write`` entry.

    from storage.remote import RemoteWriteQueue
    q = RemoteWriteQueue(cfg, os.path.join(data_dir, "remote_write", queue_name(cfg)))
"""

from storage.remote.config import MetadataConfig, QueueConfig, RemoteWriteConfig
from storage.remote.queue import RemoteWriteQueue, queue_name

__all__ = ["MetadataConfig", "QueueConfig", "RemoteWriteConfig", "RemoteWriteQueue", "queue_name"]
