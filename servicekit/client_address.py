"""The client's address, for per-client limits: the TCP peer, or behind a trusted proxy the
address that proxy appended to ``X-Forwarded-For``.

Only the last ``X-Forwarded-For`` entry is used: it is the one the trusted reverse proxy
added; entries before it come from the client and can say anything. Trusting the header
without a proxy in front would let every client pick its own address, so it is off unless
the operator turns it on (``ISSUER_TRUST_FORWARDED_FOR``, ``MERCHANT_TRUST_FORWARDED_FOR``).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

__all__ = ["client_address"]


def client_address(request: web.Request, *, trust_forwarded_for: bool) -> str:
    """The client's IP address as text (``unknown`` when the transport has none)."""
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.remote or "unknown"
