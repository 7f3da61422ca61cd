"""Resolve ``localhost`` and ``*.localhost`` to loopback in the services' HTTP clients.

RFC 6761 section 6.3: name lookups for "localhost." and its subdomains should resolve to
loopback. Browsers do so, which is how the demo runs two sites (``issuer.localhost``,
``shop.localhost``) on one machine; glibc's resolver does not without an /etc/hosts entry
per name. This resolver makes the merchant's server-side fetches (issuer metadata, live
OCSP at the URL in a certificate) reach the same addresses the browser reaches. Every
other name goes to aiohttp's default resolver.
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["LocalhostResolver", "client_connector"]


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


class LocalhostResolver(AbstractResolver):
    def __init__(self) -> None:
        self._default = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if _is_localhost(host):
            return [
                ResolveResult(
                    hostname=host,
                    host="127.0.0.1",
                    port=port,
                    family=socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        return await self._default.resolve(host, port, family)

    async def close(self) -> None:
        await self._default.close()


def client_connector(**options: object) -> aiohttp.TCPConnector:
    """A connector for the services' outgoing requests, with :class:`LocalhostResolver`."""
    return aiohttp.TCPConnector(resolver=LocalhostResolver(), **options)  # type: ignore[arg-type]
