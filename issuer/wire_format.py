"""The issuer's JSON wire format (docs/interfaces.md), converted in this one module.

Requests are parsed into the frozen request types of the flows; responses are built from
database rows. Bytes are unpadded base64url, times RFC 3339 UTC with a ``Z``, JSON camelCase.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from certs.card_data import CardData
from certs.card_digest import SECRET_LENGTH
from certs.errors import UnsupportedKey
from certs.keys import require_p256
from certs.wire import b64url_decode, b64url_encode
from issuer.activation_codes import ActivationCode
from issuer.cards import IssuedCode
from issuer.enrollment import EnrollmentRequest, IssuedCredential
from issuer.errors import PublicKeyMalformed
from issuer.models import CardRecord, CertificateRecord, CredentialRecord
from issuer.renewal import RenewalRequest
from issuer.revocation_reasons import RevocationReason
from servicekit.errors import BadRequest

__all__ = [
    "card_credentials_json",
    "card_json",
    "credential_json",
    "issued_code_json",
    "issued_credential_json",
    "parse_card",
    "parse_enrollment",
    "parse_renewal",
    "parse_revocation_reason",
    "rfc3339",
]

_MAX_SPKI = 1024
_MAX_CERTIFICATE = 8192
_MAX_SIGNATURE = 256


def rfc3339(moment: datetime | None) -> str | None:
    """``2026-01-31T12:00:00Z`` (whole seconds, UTC), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _string(body: dict[str, Any], name: str, *, max_length: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise BadRequest(f"field {name} must be a non-empty string")
    return value


def _bytes(body: dict[str, Any], name: str, *, max_length: int) -> bytes:
    return b64url_decode(
        _string(body, name, max_length=max_length), error=BadRequest, what=f"field {name}"
    )


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"field {name} must be a string")
    return value


def parse_card(body: dict[str, Any]) -> CardData:
    """``{"pan", "expiry", "securityCode", "name"?}`` (``cvc`` accepted for securityCode).

    Raises:
        BadRequest: ``request_malformed``; PanInvalid etc. from :class:`CardData`.
    """
    security_code = body.get("securityCode", body.get("cvc"))
    return CardData.parse(
        pan=_string(body, "pan", max_length=64),
        expiry=_string(body, "expiry", max_length=16),
        security_code=security_code if isinstance(security_code, str) else "",
        name=_optional_string(body, "name"),
    )


def parse_enrollment(body: dict[str, Any]) -> EnrollmentRequest:
    """Parse ``POST /v1/enrollment``.

    Raises:
        BadRequest: ``request_malformed``.
        ActivationCodeInvalid: ``activation_code_invalid``.
        PublicKeyMalformed: ``public_key_malformed``.
        UnsupportedKey: ``unsupported_key`` (not ECDSA P-256).
    """
    code = ActivationCode.parse(body.get("activationCode"))
    spki = _bytes(body, "publicKey", max_length=_MAX_SPKI)
    try:
        loaded = serialization.load_der_public_key(spki)
    except (ValueError, TypeError) as exc:
        raise PublicKeyMalformed() from exc
    except UnsupportedAlgorithm as exc:  # a well-formed SPKI of an unknown key type
        raise UnsupportedKey() from exc
    public_key = require_p256(loaded)
    secret = _bytes(body, "cardDataSecret", max_length=64)
    if len(secret) != SECRET_LENGTH:
        raise BadRequest("field cardDataSecret must be 32 bytes")
    return EnrollmentRequest(
        activation_code=code,
        public_key=public_key,
        # The canonical re-encoding, so one key has one hash however it was encoded.
        public_key_der=public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        card_data_secret=secret,
        challenge=_string(body, "challenge", max_length=64),
        signature=_bytes(body, "signature", max_length=_MAX_SIGNATURE),
    )


def parse_renewal(body: dict[str, Any]) -> RenewalRequest:
    """Parse ``POST /v1/credentials/renew``.

    Raises:
        BadRequest: ``request_malformed``.
    """
    return RenewalRequest(
        certificate_der=_bytes(body, "certificate", max_length=_MAX_CERTIFICATE),
        challenge=_string(body, "challenge", max_length=64),
        signature=_bytes(body, "signature", max_length=_MAX_SIGNATURE),
    )


def parse_revocation_reason(body: dict[str, Any]) -> RevocationReason:
    """``{"reason": "<RFC 5280 name>"}``; an absent reason is ``unspecified``.

    Raises:
        RevocationReasonInvalid: ``revocation_reason_invalid``.
    """
    return RevocationReason.parse(body.get("reason"))


def issued_credential_json(
    issued: IssuedCredential, *, issuer_ca_der: bytes, issuer_name: str, status: bytes
) -> dict[str, Any]:
    """The enrollment/renewal response (docs/interfaces.md section 2)."""
    certificate = issued.certificate
    return {
        "credentialId": issued.credential_id,
        "certificateChain": [b64url_encode(certificate.der), b64url_encode(issuer_ca_der)],
        "fingerprint": certificate.fingerprint,
        "notAfter": rfc3339(certificate.not_after),
        "issuerName": issuer_name,
        "last4": issued.card_last4,
        "bin": issued.card_bin,
        "status": b64url_encode(status),
    }


def issued_code_json(issued: IssuedCode) -> dict[str, Any]:
    """``POST /v1/cards`` and ``POST /v1/cards/{id}/activation-codes`` responses."""
    return {
        "cardId": issued.card_id,
        "bin": issued.bin,
        "last4": issued.last4,
        "activationCode": issued.activation_code.display(),
        "activationCodeExpiresAt": rfc3339(issued.expires_at),
    }


def _certificate_json(certificate: CertificateRecord) -> dict[str, Any]:
    return {
        "serialNumber": certificate.serial.lstrip("0") or "0",
        "fingerprint": certificate.fingerprint,
        "status": certificate.status,
        "notBefore": rfc3339(certificate.not_before),
        "notAfter": rfc3339(certificate.not_after),
        "createdAt": rfc3339(certificate.created_at),
        "revokedAt": rfc3339(certificate.revoked_at),
        "revocationReason": certificate.revocation_reason,
        "supersededBy": certificate.superseded_by.lstrip("0")
        if certificate.superseded_by
        else None,
    }


def credential_json(
    credential: CredentialRecord, certificates: list[CertificateRecord] | None = None
) -> dict[str, Any]:
    """One credential (back office)."""
    document: dict[str, Any] = {
        "credentialId": credential.id,
        "cardId": credential.card_id,
        "status": credential.status,
        "createdAt": rfc3339(credential.created_at),
        "renewedAt": rfc3339(credential.renewed_at),
        "revokedAt": rfc3339(credential.revoked_at),
        "revocationReason": credential.revocation_reason,
    }
    if certificates is not None:
        document["certificates"] = [_certificate_json(c) for c in certificates]
    return document


def card_json(card: CardRecord) -> dict[str, Any]:
    return {
        "cardId": card.id,
        "bin": card.bin,
        "last4": card.last4,
        "status": card.status,
        "createdAt": rfc3339(card.created_at),
        "revokedAt": rfc3339(card.revoked_at),
        "revocationReason": card.revocation_reason,
    }


def card_credentials_json(
    card: CardRecord, credentials: list[tuple[CredentialRecord, list[CertificateRecord]]]
) -> dict[str, Any]:
    """``GET /v1/cards/{id}/credentials``."""
    return {
        "card": card_json(card),
        "credentials": [credential_json(c, certs) for c, certs in credentials],
    }
