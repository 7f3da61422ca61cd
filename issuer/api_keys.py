"""Back-office API keys: created by an operator command, stored hashed, checked per request.

Keys are ``ik_<43 base64url chars>`` (256 random bits, :mod:`servicekit.api_keys`); the
database holds only their SHA-256. A request authenticates with ``Authorization: Bearer
<key>``; missing, unknown and revoked keys are all ``unauthorized`` (401).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from issuer.audit import record_audit_event
from issuer.models import ApiKeyRecord
from issuer.resources import IssuerResources
from servicekit.api_keys import bearer_token, generate_api_key, hash_api_key
from servicekit.errors import Unauthorized

__all__ = ["API_KEY_PREFIX", "authenticate", "create_api_key"]

API_KEY_PREFIX = "ik"
_MAX_TOKEN = 200


async def create_api_key(res: IssuerResources, *, name: str, now: datetime) -> str:
    """Create a key named ``name``; return it (the only time it is ever visible)."""
    key = generate_api_key(API_KEY_PREFIX)
    key_hash = hash_api_key(key)
    async with res.session() as session, session.begin():
        session.add(ApiKeyRecord(key_hash=key_hash, name=name[:100], created_at=now))
        await record_audit_event(
            await session.connection(),
            action="api_key.created",
            actor="operator-cli",
            at=now,
            key=key_hash[:8],
        )
    return key


async def authenticate(res: IssuerResources, request: web.Request) -> str:
    """Check the request's bearer key; return the actor name for the audit log.

    Raises:
        Unauthorized: ``unauthorized``.
    """
    token = bearer_token(request)
    if len(token) > _MAX_TOKEN:
        raise Unauthorized()
    key_hash = hash_api_key(token)
    async with res.session() as session:
        record = await session.get(ApiKeyRecord, key_hash)
    if record is None or record.revoked_at is not None:
        raise Unauthorized()
    return f"api-key:{key_hash[:8]}"
