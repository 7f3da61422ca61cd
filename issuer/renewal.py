"""Renewal (docs/interfaces.md section 2.3): a new certificate for the same key and card binding.

The caller presents its current certificate and a proof of possession with that
certificate's key over ``pop_message(renewal, issuer origin, challenge)``. The issuer knows
the certificate by its fingerprint (the exact DER it minted), re-mints with the same
credential id, public key and stored card-data digest (it never had to keep the secret),
and marks the old certificate ``superseded`` (revoked, reason superseded, so OCSP and the
CRL say so).

Refusals: unknown certificate (``credential_unknown``), revoked credential or certificate
(``credential_revoked``), expired card (``card_expired``), expired certificate
(``cert_expired``: enroll again), bad proof (``signature_*``), bad challenge
(``challenge_invalid``).

Idempotency: superseding is a conditional UPDATE (``status = 'good'``), so one old
certificate is renewed once. A request that loses (a retry, or a parallel twin) receives the
credential's current certificate (HTTP 200) instead of a second new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import update
from sqlmodel import col, select

from certs.card_data import CardData
from certs.errors import CertificateExpired, CertificateMalformed
from certs.keys import der_fingerprint, require_p256
from certs.proof_of_possession import PopPurpose, verify_proof_of_possession
from issuer.audit import record_audit_event
from issuer.challenges import consume_challenge
from issuer.enrollment import IssuedCredential
from issuer.enrollment_queries import current_certificate
from issuer.errors import CardExpired, CredentialRevoked, CredentialUnknown
from issuer.minting import card_has_expired, mint_certificate_record
from issuer.models import (
    CardRecord,
    CertificateRecord,
    CertificateStatus,
    CredentialRecord,
    CredentialStatus,
)
from issuer.resources import IssuerResources
from issuer.revocation import bump_revocations
from issuer.revocation_reasons import RevocationReason

__all__ = ["RenewalRequest", "renew"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalRequest:
    """A parsed ``POST /v1/credentials/renew`` body."""

    certificate_der: bytes
    challenge: str
    signature: bytes


async def renew(
    res: IssuerResources, request: RenewalRequest, *, now: datetime
) -> IssuedCredential:
    """Renew a card certificate (module docstring).

    Raises:
        CredentialUnknown: ``credential_unknown``.
        CredentialRevoked: ``credential_revoked``.
        CardExpired: ``card_expired``.
        CertificateExpired: ``cert_expired``.
        SignatureMalformed: ``signature_malformed``.
        SignatureInvalid: ``signature_invalid``.
        ChallengeInvalid: ``challenge_invalid``.
    """
    fingerprint = der_fingerprint(request.certificate_der)
    async with res.session() as session:
        old = (
            await session.exec(
                select(CertificateRecord).where(col(CertificateRecord.fingerprint) == fingerprint)
            )
        ).first()
        credential = (
            await session.get(CredentialRecord, old.credential_id) if old is not None else None
        )
        card = await session.get(CardRecord, credential.card_id) if credential is not None else None
    if old is None or credential is None or card is None:
        raise CredentialUnknown()
    try:
        certificate = x509.load_der_x509_certificate(old.der)
    except ValueError as exc:  # pragma: no cover - the issuer minted it
        raise CertificateMalformed() from exc
    verify_proof_of_possession(
        require_p256(certificate.public_key()),
        request.signature,
        purpose=PopPurpose.RENEWAL,
        origin=res.settings.public_origin,
        challenge=request.challenge,
    )
    if credential.status != CredentialStatus.ACTIVE or old.status == CertificateStatus.REVOKED:
        raise CredentialRevoked()
    card_data: CardData = res.vault.open(card.card_data, card_id=card.id)
    if card_has_expired(card_data.expiry, now=now):
        raise CardExpired()
    if old.status == CertificateStatus.GOOD and now > old.not_after:
        raise CertificateExpired("the card certificate has expired; enroll again")

    async with res.session() as session, session.begin():
        await consume_challenge(
            await session.connection(), request.challenge, consumed_for=fingerprint, now=now
        )
        # Lock the credential before its certificates, in the order revocation takes them,
        # and re-check it: a revocation that committed since the read above wins.
        status = (
            await session.exec(
                select(CredentialRecord.status)
                .where(col(CredentialRecord.id) == credential.id)
                .with_for_update()
            )
        ).one()
        if status != CredentialStatus.ACTIVE:
            raise CredentialRevoked()
        minted, record = mint_certificate_record(
            res,
            credential_id=credential.id,
            public_key=require_p256(certificate.public_key()),
            card_expiry=card_data.expiry,
            card_data_digest=credential.card_data_digest,
            now=now,
        )
        superseded = await session.exec(
            update(CertificateRecord)
            .where(
                col(CertificateRecord.serial) == old.serial,
                col(CertificateRecord.status) == CertificateStatus.GOOD,
            )
            .values(
                status=CertificateStatus.SUPERSEDED,
                revoked_at=now,
                revocation_reason=RevocationReason.SUPERSEDED.value,
                superseded_by=record.serial,
            )
        )
        if superseded.rowcount != 1:
            # Renewed already (a retry or a parallel twin): hand out the current certificate.
            current = await current_certificate(await session.connection(), credential.id)
            if current is None:
                raise CredentialRevoked()
            return IssuedCredential(
                credential_id=credential.id,
                card_bin=card.bin,
                card_last4=card.last4,
                certificate=current,
                created=False,
            )
        session.add(record)
        await session.exec(
            update(CredentialRecord)
            .where(col(CredentialRecord.id) == credential.id)
            .values(renewed_at=now)
        )
        await bump_revocations(session)
        await record_audit_event(
            await session.connection(),
            action="credential.renewed",
            actor="cardholder",
            at=now,
            card_id=card.id,
            credential_id=credential.id,
            serial=format(minted.serial_number, "x"),
            superseded=old.serial.lstrip("0") or "0",
        )
    res.metrics.certificates_renewed.inc()
    res.metrics.certificates_revoked.inc(RevocationReason.SUPERSEDED.value)
    return IssuedCredential(
        credential_id=credential.id,
        card_bin=card.bin,
        card_last4=card.last4,
        certificate=record,
        created=True,
    )
