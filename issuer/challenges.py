"""Enrollment and renewal challenges: random, single use, short-lived, kept in the database.

A challenge is 32 random bytes sent as unpadded base64url; only its SHA-256 is stored, so
the table cannot be replayed from. It is consumed by the transaction that uses it, with a
conditional UPDATE (``consumed_at IS NULL AND expires_at > now``), so two workers can never
both accept it. ``consumed_for`` names what consumed it (an activation code row, or the
fingerprint of a renewed certificate): an *identical* retry of that same operation may
present it again and is answered with the same result instead of ``challenge_invalid``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from certs.wire import b64url_encode
from issuer.errors import ChallengeInvalid
from issuer.models import ChallengeRecord, table_of
from servicekit.sql_connection import SqlConnection

__all__ = ["CHALLENGE_BYTES", "consume_challenge", "create_challenge", "purge_challenges"]

CHALLENGE_BYTES = 32
_ENCODED_LENGTH = 43

# Core statements, built once (the hot path runs them inline on SQLite).
_CHALLENGES = table_of(ChallengeRecord)
_INSERT = insert(_CHALLENGES).values(
    challenge_hash=bindparam("p_hash"),
    created_at=bindparam("p_now"),
    expires_at=bindparam("p_expires"),
)
_CONSUME = (
    update(_CHALLENGES)
    .where(
        _CHALLENGES.c.challenge_hash == bindparam("p_hash"),
        _CHALLENGES.c.consumed_at.is_(None),
        _CHALLENGES.c.expires_at > bindparam("p_now"),
    )
    .values(consumed_at=bindparam("p_now"), consumed_for=bindparam("p_for"))
)
_CONSUMED_FOR = select(_CHALLENGES.c.consumed_for).where(
    _CHALLENGES.c.challenge_hash == bindparam("p_hash")
)


def _hash(challenge: str) -> str:
    return hashlib.sha256(challenge.encode("ascii")).hexdigest()


async def create_challenge(
    conn: SqlConnection, *, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    """Store a new challenge in the caller's transaction; return it (base64url) and its
    expiry."""
    challenge = b64url_encode(secrets.token_bytes(CHALLENGE_BYTES))
    expires_at = now + ttl
    await conn.execute(_INSERT, {"p_hash": _hash(challenge), "p_now": now, "p_expires": expires_at})
    return challenge, expires_at


async def consume_challenge(
    conn: SqlConnection, challenge: str, *, consumed_for: str, now: datetime
) -> bool:
    """Consume ``challenge`` for ``consumed_for`` inside the caller's transaction.

    Returns True when this call consumed it, False when it had already been consumed for
    the same ``consumed_for`` (an identical retry).

    Raises:
        ChallengeInvalid: ``challenge_invalid``: unknown, expired, or used for something else.
    """
    if (
        not isinstance(challenge, str)
        or len(challenge) != _ENCODED_LENGTH
        or not challenge.isascii()
    ):
        raise ChallengeInvalid()
    digest = _hash(challenge)
    result = await conn.execute(_CONSUME, {"p_hash": digest, "p_now": now, "p_for": consumed_for})
    if result.rowcount == 1:
        return True
    row = (await conn.execute(_CONSUMED_FOR, {"p_hash": digest})).first()
    used_for = None if row is None else row[0]
    if used_for is not None and secrets.compare_digest(used_for, consumed_for):
        return False
    raise ChallengeInvalid()


async def purge_challenges(session: AsyncSession, *, before: datetime) -> int:
    """Delete challenges that expired before ``before``; return how many."""
    result = await session.exec(
        delete(ChallengeRecord).where(col(ChallengeRecord.expires_at) < before)
    )
    return result.rowcount
