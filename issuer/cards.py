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

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
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
from issuer.models import ActivationCodeRecord, CardRecord, CardStatus
from issuer.resources import IssuerResources

__all__ = ["IssuedCode", "issue_activation_code", "load_card", "new_id", "register_card"]

_LOCATOR_TRIES = 8


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
    async with res.session() as session, session.begin():
        existing = (
            await session.exec(select(CardRecord).where(col(CardRecord.pan_hash) == pan_hash))
        ).first()
        if existing is not None:
            stored = res.vault.open(existing.card_data, card_id=existing.id)
            if not hmac.compare_digest(stored.canonical_bytes(), card.canonical_bytes()):
                raise CardAlreadyRegistered()
            if existing.status != CardStatus.ACTIVE:
                raise CardRevoked()
            card_id, created = existing.id, False
        else:
            card_id, created = new_id("card"), True
            session.add(
                CardRecord(
                    id=card_id,
                    pan_hash=pan_hash,
                    bin=card.bin,
                    last4=card.last4,
                    card_data=res.vault.seal(card, card_id=card_id),
                    status=CardStatus.ACTIVE,
                    created_at=now,
                )
            )
            await session.flush()
            await record_audit_event(
                await session.connection(),
                action="card.registered",
                actor=actor,
                at=now,
                card_id=card_id,
            )
        code, expires_at = await _issue_code(res, session, card_id, actor=actor, now=now)
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
    async with res.session() as session, session.begin():
        card = await load_card(session, card_id)
        if card.status != CardStatus.ACTIVE:
            raise CardRevoked()
        data = res.vault.open(card.card_data, card_id=card.id)
        if card_has_expired(data.expiry, now=now):
            raise CardExpired()
        code, expires_at = await _issue_code(res, session, card.id, actor=actor, now=now)
    res.metrics.activation_codes_issued.inc()
    return IssuedCode(
        card_id=card.id,
        bin=card.bin,
        last4=card.last4,
        activation_code=code,
        expires_at=expires_at,
        card_created=False,
    )


async def _issue_code(
    res: IssuerResources, session: AsyncSession, card_id: str, *, actor: str, now: datetime
) -> tuple[ActivationCode, datetime]:
    # Replace the card's outstanding codes: they expire now.
    await session.exec(
        update(ActivationCodeRecord)
        .where(
            col(ActivationCodeRecord.card_id) == card_id,
            col(ActivationCodeRecord.consumed_at).is_(None),
            col(ActivationCodeRecord.expires_at) > now,
        )
        .values(expires_at=now)
    )
    # Prefer a locator no live code uses, so a wrong guess is attributed to one code only.
    # (A rare collision, or a race between two issuers, is harmless: a wrong guess then
    # counts against every live code with that locator.)
    code = ActivationCode.generate()
    for _ in range(_LOCATOR_TRIES):
        taken = (
            await session.exec(
                select(ActivationCodeRecord.id)
                .where(
                    col(ActivationCodeRecord.locator) == code.locator,
                    col(ActivationCodeRecord.consumed_at).is_(None),
                    col(ActivationCodeRecord.expires_at) > now,
                )
                .limit(1)
            )
        ).first()
        if taken is None:
            break
        code = ActivationCode.generate()
    expires_at = now + res.settings.activation_code_ttl
    code_id = new_id("ac")
    session.add(
        ActivationCodeRecord(
            id=code_id,
            card_id=card_id,
            locator=code.locator,
            code_hash=res.code_hasher.code_hash(code),
            created_at=now,
            expires_at=expires_at,
            failed_attempts=0,
        )
    )
    await record_audit_event(
        await session.connection(),
        action="activation_code.issued",
        actor=actor,
        at=now,
        card_id=card_id,
        activation_code_id=code_id,
    )
    return code, expires_at
