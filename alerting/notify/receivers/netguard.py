"""Refuse notification targets that point inside the cloud's control plane.

A webhook URL is user input; one that resolves to a link-local address
(169.254.0.0/16, fe80::/10) or a cloud metadata service (169.254.169.254,
fd00:ec2::254, metadata.google.internal, ...) could leak instance
credentials. Such targets are refused unless explicitly allowed. The check
runs twice: on the URL's host name before the request, and on the address
actually connected to (a network backend for httpcore), so DNS answers that
change between the two (rebinding) cannot slip through::

    guard = AddressGuard(allow_link_local=False)
    await guard.check_host("metadata.google.internal", 80)   # raises TargetRefused
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "metadata.azure.com",
    "instance-data", "instance-data.ec2.internal",
})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "169.254.170.2",  # AWS ECS task metadata
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (classic)
))

Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(Exception):
    """The target is link-local or a metadata service and not allowed."""


def forbidden_address(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_link_local or addr in METADATA_ADDRESSES


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


class AddressGuard:
    """The policy and the resolver (injectable for tests)."""

    def __init__(self, allow_link_local: bool = False, resolver: Resolver | None = None,
                 on_refuse: Callable[[], None] | None = None):
        self.allow = allow_link_local
        self._resolve = resolver or system_resolver
        self._on_refuse = on_refuse

    def _refuse(self, msg: str) -> TargetRefused:
        if self._on_refuse:
            self._on_refuse()
        return TargetRefused(msg)

    async def resolve_checked(self, host: str, port: int) -> list[str]:
        """Addresses of ``host``; raises ``TargetRefused`` if any is forbidden."""
        name = host.strip("[]").rstrip(".").lower()
        if not self.allow and name in METADATA_HOSTS:
            raise self._refuse(f"target {host} is a cloud metadata service")
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
            addrs = [name]
        except ValueError:
            addrs = await self._resolve(name, port)
        if not self.allow:
            bad = [a for a in addrs if forbidden_address(a)]
            if bad:
                raise self._refuse(f"target {host} resolves to link-local/metadata address {bad[0]}")
        return addrs

    async def check_host(self, host: str, port: int) -> None:
        await self.resolve_checked(host, port)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard accepts, by IP (no second lookup)."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable | None = None) -> httpcore.AsyncNetworkStream:
        try:
            addrs = await self._guard.resolve_checked(host, port)
        except TargetRefused as e:
            raise httpcore.ConnectError(str(e)) from e
        last: Exception | None = None
        for ip in addrs:
            try:
                return await self._inner.connect_tcp(ip, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as e:
                last = e
        raise httpcore.ConnectError(str(last) if last else f"cannot connect to {host}:{port}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not notification targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
