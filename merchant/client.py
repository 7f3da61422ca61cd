"""The client address the merchant's per-client limits use (``MERCHANT_TRUST_FORWARDED_FOR``)."""

from __future__ import annotations

from aiohttp import web

from merchant.app_keys import SETTINGS
from servicekit.client_address import client_address

__all__ = ["client_of"]


def client_of(request: web.Request) -> str:
    """The TCP peer, or behind a trusted proxy its ``X-Forwarded-For`` entry."""
    return client_address(request, trust_forwarded_for=request.app[SETTINGS].trust_forwarded_for)
