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

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from certs.wire import b64url_encode
from issuer.errors import ChallengeInvalid
from issuer.models import ChallengeRecord

__all__ = ["CHALLENGE_BYTES", "consume_challenge", "create_challenge", "purge_challenges"]

CHALLENGE_BYTES = 32
_ENCODED_LENGTH = 43


def _hash(challenge: str) -> str:
    return hashlib.sha256(challenge.encode("ascii")).hexdigest()


async def create_challenge(
    session: AsyncSession, *, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    """Store a new challenge; return it (base64url) and its expiry."""
    challenge = b64url_encode(secrets.token_bytes(CHALLENGE_BYTES))
    expires_at = now + ttl
    session.add(
        ChallengeRecord(challenge_hash=_hash(challenge), created_at=now, expires_at=expires_at)
    )
    return challenge, expires_at


async def consume_challenge(
    session: AsyncSession, challenge: str, *, consumed_for: str, now: datetime
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
    result = await session.exec(
        update(ChallengeRecord)
        .where(
            col(ChallengeRecord.challenge_hash) == digest,
            col(ChallengeRecord.consumed_at).is_(None),
            col(ChallengeRecord.expires_at) > now,
        )
        .values(consumed_at=now, consumed_for=consumed_for)
    )
    if result.rowcount == 1:
        return True
    used_for = (
        await session.exec(
            select(ChallengeRecord.consumed_for).where(
                col(ChallengeRecord.challenge_hash) == digest
            )
        )
    ).first()
    if used_for is not None and secrets.compare_digest(used_for, consumed_for):
        return False
    raise ChallengeInvalid()


async def purge_challenges(session: AsyncSession, *, before: datetime) -> int:
    """Delete challenges that expired before ``before``; return how many."""
    result = await session.exec(
        delete(ChallengeRecord).where(col(ChallengeRecord.expires_at) < before)
    )
    return result.rowcount
