"""Revoking credentials and cards (back office), and the revocation counter.

Revoking a credential revokes every ``good`` certificate of it with the given reason (RFC
5280 5.3.1 reason codes, :mod:`issuer.revocation_reasons`); with ``keyCompromise`` its
superseded certificates are re-labelled ``keyCompromise`` too, since the key they certify
is the same. Revoking a card revokes all its credentials and expires its outstanding
activation codes, and no new code can be issued for it. Both are idempotent: revoking
again changes nothing and answers with the current state.

Locks are taken in one order everywhere (credential rows, then certificate rows, then the
counter), as renewal does, so a revocation racing a renewal cannot deadlock.

Every transaction that revokes a certificate bumps the ``revocations`` counter in the same
transaction; the CRL endpoint compares it with the revision of the newest CRL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from issuer.audit import record_audit_event
from issuer.cards import load_card
from issuer.errors import CredentialUnknown
from issuer.migrations import COUNTER_REVOCATIONS
from issuer.models import (
    ActivationCodeRecord,
    CardRecord,
    CardStatus,
    CertificateRecord,
    CertificateStatus,
    CounterRecord,
    CredentialRecord,
    CredentialStatus,
    table_of,
)
from issuer.resources import IssuerResources
from issuer.revocation_reasons import RevocationReason
from servicekit.sql_connection import SqlConnection

__all__ = ["bump_revocations", "card_credentials", "revoke_card", "revoke_credential"]


_COUNTERS = table_of(CounterRecord)
_BUMP_REVOCATIONS = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == COUNTER_REVOCATIONS)
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)


async def bump_revocations(conn: SqlConnection) -> int:
    """Increment the ``revocations`` counter inside the caller's transaction."""
    row = (await conn.execute(_BUMP_REVOCATIONS)).first()
    if row is None:  # pragma: no cover - migration 1 creates the counter
        raise RuntimeError("the revocations counter is missing")
    return int(row[0])


async def _revoke_credentials(
    session: AsyncSession, credential_ids: Sequence[str], reason: RevocationReason, *, now: datetime
) -> int:
    """Revoke the active ones among ``credential_ids`` and their good certificates."""
    if not credential_ids:
        return 0
    await session.exec(
        update(CredentialRecord)
        .where(
            col(CredentialRecord.id).in_(credential_ids),
            col(CredentialRecord.status) == CredentialStatus.ACTIVE,
        )
        .values(status=CredentialStatus.REVOKED, revoked_at=now, revocation_reason=reason.value)
    )
    revoked = await session.exec(
        update(CertificateRecord)
        .where(
            col(CertificateRecord.credential_id).in_(credential_ids),
            col(CertificateRecord.status) == CertificateStatus.GOOD,
        )
        .values(status=CertificateStatus.REVOKED, revoked_at=now, revocation_reason=reason.value)
    )
    relabelled = 0
    if reason is RevocationReason.KEY_COMPROMISE:
        relabel = await session.exec(
            update(CertificateRecord)
            .where(
                col(CertificateRecord.credential_id).in_(credential_ids),
                col(CertificateRecord.status) == CertificateStatus.SUPERSEDED,
                col(CertificateRecord.revocation_reason) != reason.value,
            )
            .values(revocation_reason=reason.value)
        )
        relabelled = relabel.rowcount
    if revoked.rowcount or relabelled:
        await bump_revocations(await session.connection())
    return revoked.rowcount


async def revoke_credential(
    res: IssuerResources,
    credential_id: str,
    reason: RevocationReason,
    *,
    actor: str,
    now: datetime,
) -> CredentialRecord:
    """Revoke one credential (all its certificates).

    Raises:
        CredentialUnknown: ``credential_unknown``.
    """
    async with res.session() as session, session.begin():
        credential = await session.get(CredentialRecord, credential_id)
        if credential is None:
            raise CredentialUnknown()
        count = await _revoke_credentials(session, [credential.id], reason, now=now)
        if count:
            await record_audit_event(
                await session.connection(),
                action="credential.revoked",
                actor=actor,
                at=now,
                card_id=credential.card_id,
                credential_id=credential.id,
                reason=reason.value,
                certificates=count,
            )
        await session.refresh(credential)
    if count:
        res.metrics.certificates_revoked.inc(reason.value, amount=count)
    return credential


async def revoke_card(
    res: IssuerResources, card_id: str, reason: RevocationReason, *, actor: str, now: datetime
) -> tuple[CardRecord, int]:
    """Revoke a card: all its credentials, its outstanding codes, and future enrollment.

    Returns the card and how many certificates this call revoked.

    Raises:
        CardUnknown: ``card_unknown``.
    """
    async with res.session() as session, session.begin():
        card = await load_card(session, card_id)
        if card.status == CardStatus.ACTIVE:
            await session.exec(
                update(CardRecord)
                .where(col(CardRecord.id) == card.id)
                .values(status=CardStatus.REVOKED, revoked_at=now, revocation_reason=reason.value)
            )
        await session.exec(
            update(ActivationCodeRecord)
            .where(
                col(ActivationCodeRecord.card_id) == card.id,
                col(ActivationCodeRecord.consumed_at).is_(None),
                col(ActivationCodeRecord.expires_at) > now,
            )
            .values(expires_at=now)
        )
        credential_ids = list(
            (
                await session.exec(
                    select(CredentialRecord.id).where(col(CredentialRecord.card_id) == card.id)
                )
            ).all()
        )
        count = await _revoke_credentials(session, credential_ids, reason, now=now)
        await record_audit_event(
            await session.connection(),
            action="card.revoked",
            actor=actor,
            at=now,
            card_id=card.id,
            reason=reason.value,
            certificates=count,
        )
        await session.refresh(card)
    if count:
        res.metrics.certificates_revoked.inc(reason.value, amount=count)
    return card, count


async def card_credentials(
    res: IssuerResources, card_id: str
) -> tuple[CardRecord, list[tuple[CredentialRecord, list[CertificateRecord]]]]:
    """A card with its credentials and each credential's certificates (newest first).

    Raises:
        CardUnknown: ``card_unknown``.
    """
    async with res.session() as session:
        card = await load_card(session, card_id)
        credentials = (
            await session.exec(
                select(CredentialRecord)
                .where(col(CredentialRecord.card_id) == card.id)
                .order_by(col(CredentialRecord.created_at), col(CredentialRecord.id))
            )
        ).all()
        certificates = (
            await session.exec(
                select(CertificateRecord)
                .where(col(CertificateRecord.credential_id).in_([c.id for c in credentials]))
                .order_by(col(CertificateRecord.created_at).desc(), col(CertificateRecord.serial))
            )
        ).all()
    by_credential: dict[str, list[CertificateRecord]] = {c.id: [] for c in credentials}
    for certificate in certificates:
        by_credential[certificate.credential_id].append(certificate)
    return card, [(c, by_credential[c.id]) for c in credentials]
