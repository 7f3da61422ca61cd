"""Enrollment (docs/interfaces.md section 2): activation code + proof of possession -> certificate.

Order of checks, each failing with a stable code:

1. proof of possession over ``pop_message(enrollment, issuer origin, challenge)`` with the
   submitted key (``signature_malformed`` / ``signature_invalid``), before any database
   write;
2. the activation code, looked up by its keyed hash. No such code: the guess is counted
   against every live code with the same locator (first group), which locks after
   ``ISSUER_ACTIVATION_MAX_ATTEMPTS`` (``activation_code_invalid``);
3. the card: revoked (``card_revoked``) or expired (``card_expired``);
4. one transaction that consumes the challenge (``challenge_invalid``) and **claims** the
   code with a conditional UPDATE (unconsumed, unexpired, not locked), then mints and
   inserts the credential and its certificate. The card-data digest is computed here from
   the issuer's own record and the cardholder's secret; the secret is then dropped.

Idempotency: the claim records the SHA-256 of the public key. A request that loses the
claim (a retry, or one of many parallel identical requests) re-reads the code row: claimed
with the same key and the same card-data digest, it returns the existing credential
(``created = False``, HTTP 200); otherwise ``activation_code_used``,
``activation_code_expired`` or ``activation_code_locked``. On PostgreSQL the conditional
UPDATE blocks on the winner's row lock and re-evaluates its WHERE clause after the winner
commits (READ COMMITTED), so exactly one request mints. ``issuer_credentials``'s UNIQUE
``activation_code_id`` is the backstop: two credentials for one code cannot be committed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs.card_digest import card_data_digest
from certs.credential import new_credential_id
from certs.proof_of_possession import PopPurpose, verify_proof_of_possession
from issuer.activation_codes import ActivationCode
from issuer.audit import record_audit_event
from issuer.challenges import consume_challenge
from issuer.enrollment_queries import (
    CodeAndCard,
    claim_code,
    code_and_card,
    code_state,
    count_wrong_guess,
    credential_of_code,
    current_certificate,
    insert_certificate,
    insert_credential,
)
from issuer.errors import (
    ActivationCodeExpired,
    ActivationCodeInvalid,
    ActivationCodeLocked,
    ActivationCodeUsed,
    CardExpired,
    CardRevoked,
    CredentialRevoked,
    EnrollmentConflict,
)
from issuer.minting import card_has_expired, mint_certificate_record
from issuer.models import CardStatus, CertificateRecord, CredentialStatus
from issuer.resources import IssuerResources
from servicekit.sql_connection import SqlConnection

__all__ = ["EnrollmentRequest", "IssuedCredential", "enroll"]


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class EnrollmentRequest:
    """A parsed ``POST /v1/enrollment`` body (see :mod:`issuer.wire_format`)."""

    activation_code: ActivationCode
    public_key: ec.EllipticCurvePublicKey
    public_key_der: bytes
    card_data_secret: bytes
    challenge: str
    signature: bytes

    @property
    def public_key_sha256(self) -> str:
        return hashlib.sha256(self.public_key_der).hexdigest()

    def __repr__(self) -> str:
        return "EnrollmentRequest(<hidden>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedCredential:
    """A credential's current certificate, as enrollment and renewal return it."""

    credential_id: str
    card_bin: str
    card_last4: str
    certificate: CertificateRecord
    created: bool


async def enroll(
    res: IssuerResources, request: EnrollmentRequest, *, now: datetime
) -> IssuedCredential:
    """Run an enrollment (module docstring for the order of checks).

    Raises:
        SignatureMalformed: ``signature_malformed``.
        SignatureInvalid: ``signature_invalid``.
        ActivationCodeInvalid: ``activation_code_invalid``.
        ActivationCodeExpired: ``activation_code_expired``.
        ActivationCodeUsed: ``activation_code_used``.
        ActivationCodeLocked: ``activation_code_locked``.
        ChallengeInvalid: ``challenge_invalid``.
        CardRevoked: ``card_revoked``.
        CardExpired: ``card_expired``.
        CredentialRevoked: ``credential_revoked`` (identical retry after revocation).
    """
    verify_proof_of_possession(
        request.public_key,
        request.signature,
        purpose=PopPurpose.ENROLLMENT,
        origin=res.settings.public_origin,
        challenge=request.challenge,
    )
    code_hash = res.code_hasher.code_hash(request.activation_code)
    async with res.sql.read() as conn:
        found = await code_and_card(conn, code_hash)
    if found is None:
        await _count_wrong_guess(res, request.activation_code.locator, now=now)
        raise ActivationCodeInvalid()
    if found.card_status != CardStatus.ACTIVE:
        raise CardRevoked()
    card_data = res.vault.open(found.card_data, card_id=found.card_id)
    if card_has_expired(card_data.expiry, now=now):
        raise CardExpired()
    digest = card_data_digest(card_data, request.card_data_secret)
    credential_id = new_credential_id()
    key_hash = request.public_key_sha256
    max_attempts = res.settings.activation_max_attempts

    async with res.sql.write() as conn:
        # On SQLite the transaction holds the write lock from its start (BEGIN IMMEDIATE);
        # on PostgreSQL the claim below serialises on the code's row.
        await consume_challenge(conn, request.challenge, consumed_for=found.code_id, now=now)
        claimed = await claim_code(
            conn,
            found.code_id,
            key_hash=key_hash,
            credential_id=credential_id,
            now=now,
            max_attempts=max_attempts,
        )
        if not claimed:
            return await _existing(
                conn, found, key_hash=key_hash, digest=digest, now=now, max_attempts=max_attempts
            )
        certificate, record = mint_certificate_record(
            res,
            credential_id=credential_id,
            public_key=request.public_key,
            card_expiry=card_data.expiry,
            card_data_digest=digest,
            now=now,
        )
        await insert_credential(
            conn,
            credential_id=credential_id,
            card_id=found.card_id,
            code_id=found.code_id,
            public_key_der=request.public_key_der,
            key_hash=key_hash,
            card_data_digest=digest,
            now=now,
        )
        await insert_certificate(conn, record)
        await record_audit_event(
            conn,
            action="credential.enrolled",
            actor="cardholder",
            at=now,
            card_id=found.card_id,
            credential_id=credential_id,
            activation_code_id=found.code_id,
            serial=_serial_text(certificate),
        )
    res.metrics.certificates_minted.inc()
    return IssuedCredential(
        credential_id=credential_id,
        card_bin=found.card_bin,
        card_last4=found.card_last4,
        certificate=record,
        created=True,
    )


async def _existing(
    conn: SqlConnection,
    found: CodeAndCard,
    *,
    key_hash: str,
    digest: bytes,
    now: datetime,
    max_attempts: int,
) -> IssuedCredential:
    """The claim failed: an identical earlier request won, or the code is spent."""
    code = await code_state(conn, found.code_id)
    if code is None:  # pragma: no cover - codes are never deleted
        raise ActivationCodeInvalid()
    if code.consumed_at is None:
        if code.failed_attempts >= max_attempts:
            raise ActivationCodeLocked()
        if code.expires_at <= now:
            raise ActivationCodeExpired()
        raise EnrollmentConflict()  # pragma: no cover - claim and re-read disagree
    if code.public_key_sha256 is None or not hmac.compare_digest(code.public_key_sha256, key_hash):
        raise ActivationCodeUsed()
    credential = await credential_of_code(conn, found.code_id)
    if credential is None:
        raise EnrollmentConflict()
    # Same key, but was it the same card-data secret? Otherwise the certificate's digest
    # would not match what this caller holds.
    if not hmac.compare_digest(credential.card_data_digest, digest):
        raise ActivationCodeUsed()
    if credential.status != CredentialStatus.ACTIVE:
        raise CredentialRevoked()
    certificate = await current_certificate(conn, credential.credential_id)
    if certificate is None:
        raise CredentialRevoked()
    return IssuedCredential(
        credential_id=credential.credential_id,
        card_bin=found.card_bin,
        card_last4=found.card_last4,
        certificate=certificate,
        created=False,
    )


async def _count_wrong_guess(res: IssuerResources, locator: str, *, now: datetime) -> None:
    """Count a wrong code against every live code with its locator (they lock at N)."""
    max_attempts = res.settings.activation_max_attempts
    async with res.sql.write() as conn:
        counted = await count_wrong_guess(conn, locator, now=now, max_attempts=max_attempts)
        for guess in counted:
            await record_audit_event(
                conn,
                action="activation_code.wrong_attempt",
                actor="cardholder",
                at=now,
                card_id=guess.card_id,
                activation_code_id=guess.code_id,
                attempts=guess.attempts,
                locked=int(guess.attempts >= max_attempts),
            )


def _serial_text(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "x")
