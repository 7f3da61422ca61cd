"""API keys: high-entropy bearer secrets, stored only as SHA-256 hashes, compared in constant time.

A key is ``<prefix>_<43 base64url chars>`` (256 random bits). Because keys are random and
long, a fast hash (SHA-256) is the right storage form (a password hash would only add
latency); the database never holds a key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from certs.wire import b64url_encode
from servicekit.errors import Unauthorized

__all__ = ["bearer_token", "generate_api_key", "hash_api_key", "key_matches"]


def generate_api_key(prefix: str) -> str:
    return f"{prefix}_{b64url_encode(secrets.token_bytes(32))}"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def bearer_token(request: web.Request) -> str:
    """The bearer token of ``Authorization``, or ``Unauthorized`` (``unauthorized``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()
