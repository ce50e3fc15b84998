"""Remote-write out: a persistent, sharded queue per ``remote_write`` entry."""
