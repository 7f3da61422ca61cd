"""Errors of the issuer service, in the project's one hierarchy (stable ``code`` + HTTP status).

The codes are part of the wire contract (docs/issuer.md lists them); tests assert on them.
Messages never contain card data, activation codes, secrets or keys.
"""

from __future__ import annotations

from servicekit.errors import ServiceError

__all__ = [
    "ActivationCodeError",
    "ActivationCodeExpired",
    "ActivationCodeInvalid",
    "ActivationCodeLocked",
    "ActivationCodeUsed",
    "BinNotIssued",
    "CardAlreadyRegistered",
    "CardDataUnreadable",
    "CardExpired",
    "CardRevoked",
    "CardUnknown",
    "ChallengeInvalid",
    "CredentialRevoked",
    "CredentialUnknown",
    "EnrollmentConflict",
    "PublicKeyMalformed",
    "RevocationReasonInvalid",
]


class ActivationCodeError(ServiceError):
    """The activation code was not accepted."""

    code = "activation_code_rejected"


class ActivationCodeInvalid(ActivationCodeError):
    """The activation code is not valid."""

    code = "activation_code_invalid"


class ActivationCodeExpired(ActivationCodeError):
    """The activation code has expired or was replaced; ask the bank for a new one."""

    code = "activation_code_expired"
    http_status = 410


class ActivationCodeUsed(ActivationCodeError):
    """The activation code was already used (with another key)."""

    code = "activation_code_used"
    http_status = 409


class ActivationCodeLocked(ActivationCodeError):
    """The activation code is locked after too many wrong attempts; ask for a new one."""

    code = "activation_code_locked"
    http_status = 423


class ChallengeInvalid(ServiceError):
    """The challenge is unknown, expired or already used; request a new one."""

    code = "challenge_invalid"


class PublicKeyMalformed(ServiceError):
    """The public key is not a DER SubjectPublicKeyInfo."""

    code = "public_key_malformed"


class EnrollmentConflict(ServiceError):
    """A concurrent request is enrolling with this activation code; retry shortly."""

    code = "enrollment_conflict"
    http_status = 409


class CardUnknown(ServiceError):
    """No such card."""

    code = "card_unknown"
    http_status = 404


class CardRevoked(ServiceError):
    """The card was revoked; no new credentials can be issued for it."""

    code = "card_revoked"
    http_status = 409


class CardExpired(ServiceError):
    """The card has expired."""

    code = "card_expired"
    http_status = 422


class CardAlreadyRegistered(ServiceError):
    """A card with this number is already registered with other card data."""

    code = "card_already_registered"
    http_status = 409


class CardDataUnreadable(ServiceError):
    """The stored card data cannot be decrypted (wrong key or tampered row)."""

    code = "card_data_unreadable"
    http_status = 500


class BinNotIssued(ServiceError):
    """The card number is outside this issuer's BIN ranges."""

    code = "bin_not_issued"
    http_status = 422


class CredentialUnknown(ServiceError):
    """No such credential or certificate at this issuer."""

    code = "credential_unknown"
    http_status = 404


class CredentialRevoked(ServiceError):
    """The credential has been revoked."""

    code = "credential_revoked"
    http_status = 403


class RevocationReasonInvalid(ServiceError):
    """The revocation reason is not one of the accepted RFC 5280 reason codes."""

    code = "revocation_reason_invalid"
