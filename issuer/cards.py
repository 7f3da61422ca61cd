"""Cards and their activation codes (back office and operator commands).

Registering a card stores its data encrypted (:mod:`issuer.card_vault`) under a new card id
and issues a one-time activation code. Registering the *same* card again (same PAN, expiry
and security code) is idempotent: it returns the existing card with a fresh code. The same
PAN with different data is refused (``card_already_registered``): a reissued card needs the
old one revoked first, so the existing certificates (bound to the old data) cannot linger.

Issuing a code replaces the card's outstanding codes (they expire at once), so at most one
code per card is live.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from certs.card_data import CardData
from certs.wire import b64url_encode
from issuer.activation_codes import ActivationCode
from issuer.audit import record_audit_event
from issuer.errors import (
    BinNotIssued,
    CardAlreadyRegistered,
    CardExpired,
    CardRevoked,
    CardUnknown,
)
from issuer.minting import card_has_expired
from issuer.models import ActivationCodeRecord, CardRecord, CardStatus, table_of
from issuer.resources import IssuerResources
from servicekit.sql_connection import SqlConnection

__all__ = ["IssuedCode", "issue_activation_code", "load_card", "new_id", "register_card"]

_LOCATOR_TRIES = 8

# Core statements, built once: registration and code issue run them through
# IssuerResources.sql.write() (inline on SQLite, servicekit/inline_sqlite.py).
_CARDS = table_of(CardRecord)
_CODES = table_of(ActivationCodeRecord)
_CARD_COLUMNS = (_CARDS.c.id, _CARDS.c.bin, _CARDS.c.last4, _CARDS.c.card_data, _CARDS.c.status)
_CARD_BY_PAN = select(*_CARD_COLUMNS).where(_CARDS.c.pan_hash == bindparam("p_pan_hash"))
_CARD_BY_ID = select(*_CARD_COLUMNS).where(_CARDS.c.id == bindparam("p_card_id"))
_INSERT_CARD = insert(_CARDS).values(
    id=bindparam("p_card_id"),
    pan_hash=bindparam("p_pan_hash"),
    bin=bindparam("p_bin"),
    last4=bindparam("p_last4"),
    card_data=bindparam("p_card_data"),
    status=CardStatus.ACTIVE.value,
    created_at=bindparam("p_now"),
)
_LIVE_CODE = (_CODES.c.consumed_at.is_(None), _CODES.c.expires_at > bindparam("p_now"))
_EXPIRE_LIVE_CODES = (
    update(_CODES)
    .where(_CODES.c.card_id == bindparam("p_card_id"), *_LIVE_CODE)
    .values(expires_at=bindparam("p_now"))
)
_LOCATOR_TAKEN = (
    select(_CODES.c.id).where(_CODES.c.locator == bindparam("p_locator"), *_LIVE_CODE).limit(1)
)
_INSERT_CODE = insert(_CODES).values(
    id=bindparam("p_code_id"),
    card_id=bindparam("p_card_id"),
    locator=bindparam("p_locator"),
    code_hash=bindparam("p_code_hash"),
    created_at=bindparam("p_now"),
    expires_at=bindparam("p_expires"),
    failed_attempts=0,
)


def new_id(prefix: str) -> str:
    """``<prefix>_`` + 128 random bits, base64url."""
    return f"{prefix}_{b64url_encode(secrets.token_bytes(16))}"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class IssuedCode:
    """A card and a fresh activation code for it (the code is shown once, never stored)."""

    card_id: str
    bin: str
    last4: str
    activation_code: ActivationCode
    expires_at: datetime
    card_created: bool

    def __repr__(self) -> str:
        return f"IssuedCode(card_id={self.card_id!r}, last4={self.last4!r})"


async def load_card(session: AsyncSession, card_id: str) -> CardRecord:
    """The card row.

    Raises:
        CardUnknown: ``card_unknown``.
    """
    card = await session.get(CardRecord, card_id)
    if card is None:
        raise CardUnknown()
    return card


async def register_card(
    res: IssuerResources, card: CardData, *, actor: str, now: datetime
) -> IssuedCode:
    """Register ``card`` (or find it again) and issue an activation code.

    Raises:
        BinNotIssued: ``bin_not_issued``.
        CardExpired: ``card_expired``.
        CardAlreadyRegistered: ``card_already_registered``.
        CardRevoked: ``card_revoked``.
    """
    if not any(card.pan.startswith(prefix) for prefix in res.settings.bin_prefixes):
        raise BinNotIssued()
    if card_has_expired(card.expiry, now=now):
        raise CardExpired()
    pan_hash = res.vault.pan_lookup_hash(card.pan)
    for attempt in range(2):
        try:
            return await _register(res, card, pan_hash, actor=actor, now=now)
        except IntegrityError:
            # Two registrations of one new card raced: the loser's insert hit the unique
            # pan_hash; the second pass finds the winner's row.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _register(
    res: IssuerResources, card: CardData, pan_hash: str, *, actor: str, now: datetime
) -> IssuedCode:
    async with res.sql.write() as conn:
        existing = (await conn.execute(_CARD_BY_PAN, {"p_pan_hash": pan_hash})).first()
        if existing is not None:
            existing_id, _, _, sealed, status = existing
            stored = res.vault.open(bytes(sealed), card_id=existing_id)
            if not hmac.compare_digest(stored.canonical_bytes(), card.canonical_bytes()):
                raise CardAlreadyRegistered()
            if status != CardStatus.ACTIVE:
                raise CardRevoked()
            card_id, created = existing_id, False
        else:
            card_id, created = new_id("card"), True
            await conn.execute(
                _INSERT_CARD,
                {
                    "p_card_id": card_id,
                    "p_pan_hash": pan_hash,
                    "p_bin": card.bin,
                    "p_last4": card.last4,
                    "p_card_data": res.vault.seal(card, card_id=card_id),
                    "p_now": now,
                },
            )
            await record_audit_event(
                conn, action="card.registered", actor=actor, at=now, card_id=card_id
            )
        code, expires_at = await _issue_code(res, conn, card_id, actor=actor, now=now)
    res.metrics.activation_codes_issued.inc()
    if created:
        res.metrics.cards_registered.inc()
    return IssuedCode(
        card_id=card_id,
        bin=card.bin,
        last4=card.last4,
        activation_code=code,
        expires_at=expires_at,
        card_created=created,
    )


async def issue_activation_code(
    res: IssuerResources, card_id: str, *, actor: str, now: datetime
) -> IssuedCode:
    """Issue a new activation code for an existing card (replacing outstanding ones).

    Raises:
        CardUnknown: ``card_unknown``.
        CardRevoked: ``card_revoked``.
        CardExpired: ``card_expired``.
    """
    async with res.sql.write() as conn:
        row = (await conn.execute(_CARD_BY_ID, {"p_card_id": card_id})).first()
        if row is None:
            raise CardUnknown()
        _, card_bin, last4, sealed, status = row
        if status != CardStatus.ACTIVE:
            raise CardRevoked()
        data = res.vault.open(bytes(sealed), card_id=card_id)
        if card_has_expired(data.expiry, now=now):
            raise CardExpired()
        code, expires_at = await _issue_code(res, conn, card_id, actor=actor, now=now)
    res.metrics.activation_codes_issued.inc()
    return IssuedCode(
        card_id=card_id,
        bin=card_bin,
        last4=last4,
        activation_code=code,
        expires_at=expires_at,
        card_created=False,
    )


async def _issue_code(
    res: IssuerResources, conn: SqlConnection, card_id: str, *, actor: str, now: datetime
) -> tuple[ActivationCode, datetime]:
    # Replace the card's outstanding codes: they expire now.
    await conn.execute(_EXPIRE_LIVE_CODES, {"p_card_id": card_id, "p_now": now})
    # Prefer a locator no live code uses, so a wrong guess is attributed to one code only.
    # (A rare collision, or a race between two issuers, is harmless: a wrong guess then
    # counts against every live code with that locator.)
    code = ActivationCode.generate()
    for _ in range(_LOCATOR_TRIES):
        taken = await conn.execute(_LOCATOR_TAKEN, {"p_locator": code.locator, "p_now": now})
        if taken.first() is None:
            break
        code = ActivationCode.generate()
    expires_at = now + res.settings.activation_code_ttl
    code_id = new_id("ac")
    await conn.execute(
        _INSERT_CODE,
        {
            "p_code_id": code_id,
            "p_card_id": card_id,
            "p_locator": code.locator,
            "p_code_hash": res.code_hasher.code_hash(code),
            "p_now": now,
            "p_expires": expires_at,
        },
    )
    await record_audit_event(
        conn,
        action="activation_code.issued",
        actor=actor,
        at=now,
        card_id=card_id,
        activation_code_id=code_id,
    )
    return code, expires_at
