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
from sqlalchemy import bindparam, select, update

from certs.card_data import CardData
from certs.errors import CertificateExpired, CertificateMalformed
from certs.keys import der_fingerprint, require_p256
from certs.proof_of_possession import PopPurpose, verify_proof_of_possession
from issuer.audit import record_audit_event
from issuer.challenges import consume_challenge
from issuer.enrollment import IssuedCredential
from issuer.enrollment_queries import current_certificate, insert_certificate
from issuer.errors import CardExpired, CredentialRevoked, CredentialUnknown
from issuer.minting import card_has_expired, mint_certificate_record
from issuer.models import (
    CardRecord,
    CertificateRecord,
    CertificateStatus,
    CredentialRecord,
    CredentialStatus,
    table_of,
)
from issuer.resources import IssuerResources
from issuer.revocation import bump_revocations
from issuer.revocation_reasons import RevocationReason

__all__ = ["RenewalRequest", "renew"]

# Core statements, built once (run inline on SQLite, servicekit/inline_sqlite.py).
_CARDS = table_of(CardRecord)
_CREDENTIALS = table_of(CredentialRecord)
_CERTIFICATES = table_of(CertificateRecord)
# The certificate presented, its credential and its card, in one look-up.
_PRESENTED = (
    select(
        _CERTIFICATES.c.serial,
        _CERTIFICATES.c.der,
        _CERTIFICATES.c.status,
        _CERTIFICATES.c.not_after,
        _CREDENTIALS.c.id,
        _CREDENTIALS.c.status,
        _CREDENTIALS.c.card_data_digest,
        _CARDS.c.id,
        _CARDS.c.bin,
        _CARDS.c.last4,
        _CARDS.c.card_data,
    )
    .select_from(
        _CERTIFICATES.join(_CREDENTIALS, _CREDENTIALS.c.id == _CERTIFICATES.c.credential_id).join(
            _CARDS, _CARDS.c.id == _CREDENTIALS.c.card_id
        )
    )
    .where(_CERTIFICATES.c.fingerprint == bindparam("p_fingerprint"))
)
# Lock the credential before its certificates, in the order revocation takes them
# (PostgreSQL; SQLite's transaction already holds the database's write lock).
_CREDENTIAL_STATUS = (
    select(_CREDENTIALS.c.status)
    .where(_CREDENTIALS.c.id == bindparam("p_credential_id"))
    .with_for_update()
)
_SUPERSEDE = (
    update(_CERTIFICATES)
    .where(
        _CERTIFICATES.c.serial == bindparam("p_old_serial"),
        _CERTIFICATES.c.status == CertificateStatus.GOOD.value,
    )
    .values(
        status=CertificateStatus.SUPERSEDED.value,
        revoked_at=bindparam("p_now"),
        revocation_reason=RevocationReason.SUPERSEDED.value,
        superseded_by=bindparam("p_new_serial"),
    )
)
_RENEWED = (
    update(_CREDENTIALS)
    .where(_CREDENTIALS.c.id == bindparam("p_credential_id"))
    .values(renewed_at=bindparam("p_now"))
)


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
    async with res.sql.read() as conn:
        found = (await conn.execute(_PRESENTED, {"p_fingerprint": fingerprint})).first()
    if found is None:
        raise CredentialUnknown()
    (
        old_serial,
        old_der,
        old_status,
        old_not_after,
        credential_id,
        credential_status,
        stored_digest,
        card_id,
        card_bin,
        card_last4,
        sealed_card,
    ) = found
    try:
        certificate = x509.load_der_x509_certificate(bytes(old_der))
    except ValueError as exc:  # pragma: no cover - the issuer minted it
        raise CertificateMalformed() from exc
    public_key = require_p256(certificate.public_key())
    verify_proof_of_possession(
        public_key,
        request.signature,
        purpose=PopPurpose.RENEWAL,
        origin=res.settings.public_origin,
        challenge=request.challenge,
    )
    if credential_status != CredentialStatus.ACTIVE or old_status == CertificateStatus.REVOKED:
        raise CredentialRevoked()
    card_data: CardData = res.vault.open(bytes(sealed_card), card_id=card_id)
    if card_has_expired(card_data.expiry, now=now):
        raise CardExpired()
    if old_status == CertificateStatus.GOOD and now > old_not_after:
        raise CertificateExpired("the card certificate has expired; enroll again")

    async with res.sql.write() as conn:
        await consume_challenge(conn, request.challenge, consumed_for=fingerprint, now=now)
        # Re-check the credential under its lock: a revocation committed since the read
        # above wins.
        status = (
            await conn.execute(_CREDENTIAL_STATUS, {"p_credential_id": credential_id})
        ).first()
        if status is None or status[0] != CredentialStatus.ACTIVE:
            raise CredentialRevoked()
        minted, record = mint_certificate_record(
            res,
            credential_id=credential_id,
            public_key=public_key,
            card_expiry=card_data.expiry,
            card_data_digest=bytes(stored_digest),
            now=now,
        )
        superseded = await conn.execute(
            _SUPERSEDE, {"p_old_serial": old_serial, "p_now": now, "p_new_serial": record.serial}
        )
        if superseded.rowcount != 1:
            # Renewed already (a retry or a parallel twin): hand out the current certificate.
            current = await current_certificate(conn, credential_id)
            if current is None:
                raise CredentialRevoked()
            return IssuedCredential(
                credential_id=credential_id,
                card_bin=card_bin,
                card_last4=card_last4,
                certificate=current,
                created=False,
            )
        await insert_certificate(conn, record)
        await conn.execute(_RENEWED, {"p_credential_id": credential_id, "p_now": now})
        await bump_revocations(conn)
        await record_audit_event(
            conn,
            action="credential.renewed",
            actor="cardholder",
            at=now,
            card_id=card_id,
            credential_id=credential_id,
            serial=format(minted.serial_number, "x"),
            superseded=old_serial.lstrip("0") or "0",
        )
    res.metrics.certificates_renewed.inc()
    res.metrics.certificates_revoked.inc(RevocationReason.SUPERSEDED.value)
    return IssuedCredential(
        credential_id=credential_id,
        card_bin=card_bin,
        card_last4=card_last4,
        certificate=record,
        created=True,
    )
