"""Wire-format definitions (remote-write 1.0 and 2.0) with their generated Python.

    from collector.protos import remote_write_v1_pb2, remote_write_v2_pb2

See README.md here for the regeneration command.
"""
