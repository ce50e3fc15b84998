"""The listening sockets the stack hands to uvicorn."""

from __future__ import annotations

import asyncio
import socket

from spyglass.server import _listen


def test_accepted_connections_have_nagle_off():
    # Without TCP_NODELAY a keep-alive response written as headers + body waits for the
    # client's delayed ACK: ~40 ms per request on the UI's and Grafana's connections.
    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = _listen(("127.0.0.1", 0))
        server = await asyncio.start_server(handle, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) != 0


def test_listen_names_the_address_it_cannot_bind():
    taken = _listen(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        try:
            _listen(("127.0.0.1", port))
        except OSError as e:
            assert f"127.0.0.1:{port}" in str(e)
        else:
            raise AssertionError("binding a taken port succeeded")
    finally:
        taken.close()
