"""One exception hierarchy with stable error codes.

Every error raised while reading or checking untrusted input is a :class:`CardcertError`.
Each concrete class carries a stable ``code`` (part of the public contract: tests, HTTP
bodies, metrics and evidence records use it) and the HTTP status a service maps it to.
Messages never contain card data: a PAN, security code or card-data secret is never
formatted into an error.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AmountMismatch",
    "CardDataError",
    "CardDataMismatch",
    "CardcertError",
    "CertificateError",
    "CertificateExpired",
    "CertificateFingerprintMismatch",
    "CertificateMalformed",
    "CertificateNotYetValid",
    "CertificateProfileViolation",
    "CertificateRevoked",
    "CertificateSignatureInvalid",
    "CheckoutIdMismatch",
    "ConfirmationNotAccepted",
    "CurrencyMismatch",
    "DigestAlgorithmUnsupported",
    "ExpiryInvalid",
    "ExtendedKeyUsageInvalid",
    "MalformedPresentation",
    "MalformedTransaction",
    "MerchantNameMismatch",
    "NameInvalid",
    "NoTrustAnchors",
    "NonceMismatch",
    "NonceReplayed",
    "OriginMismatch",
    "PanInvalid",
    "PresentationError",
    "RevocationError",
    "SecurityCodeInvalid",
    "SignatureInvalid",
    "SignatureMalformed",
    "SigningTimeOutOfWindow",
    "StatusInvalid",
    "StatusStale",
    "StatusUnavailable",
    "TransactionError",
    "UnknownCriticalExtension",
    "UnsupportedKey",
    "UntrustedRoot",
    "all_error_classes",
]


class CardcertError(Exception):
    """Base class: every error this project raises on untrusted input.

    Attributes:
        code: stable machine-readable code, e.g. ``cert_expired``.
        http_status: the HTTP status a service answers with.
        message: human-readable text, free of card data.
    """

    code: ClassVar[str] = "cardcert_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str | None = None) -> None:
        default = (type(self).__doc__ or self.code).strip().splitlines()[0]
        self.message = message or default
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, str]:
        """The JSON error body: ``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}


# --- card data as typed by a person -------------------------------------------------


class CardDataError(CardcertError):
    """The card data is not well formed."""

    code = "card_data_invalid"
    http_status = 422


class PanInvalid(CardDataError):
    """The card number is not 12 to 19 digits with a valid Luhn check digit."""

    code = "pan_invalid"


class ExpiryInvalid(CardDataError):
    """The expiry date is not a valid month and year."""

    code = "expiry_invalid"


class SecurityCodeInvalid(CardDataError):
    """The security code is not 3 or 4 digits."""

    code = "security_code_invalid"


class NameInvalid(CardDataError):
    """The cardholder name is not printable text of at most 64 characters."""

    code = "name_invalid"


# --- presentation and transaction parsing ------------------------------------------


class PresentationError(CardcertError):
    """The presentation was rejected."""

    code = "presentation_rejected"


class MalformedPresentation(PresentationError):
    """The presentation is not well-formed JSON of the documented shape."""

    code = "presentation_malformed"


class TransactionError(CardcertError):
    """The transaction description was rejected."""

    code = "transaction_rejected"


class MalformedTransaction(TransactionError):
    """The transaction description is not canonical JSON of the documented shape."""

    code = "transaction_malformed"


class SignatureMalformed(TransactionError):
    """The signature is not a 64-byte raw P-256 r||s value."""

    code = "signature_malformed"


class SignatureInvalid(TransactionError):
    """The transaction signature does not verify with the certificate's key."""

    code = "signature_invalid"


class OriginMismatch(TransactionError):
    """The signed merchant origin is not the expected one."""

    code = "origin_mismatch"


class MerchantNameMismatch(TransactionError):
    """The signed merchant name is not the expected one."""

    code = "merchant_name_mismatch"


class AmountMismatch(TransactionError):
    """The signed amount is not the expected one."""

    code = "amount_mismatch"


class CurrencyMismatch(TransactionError):
    """The signed currency is not the expected one."""

    code = "currency_mismatch"


class CheckoutIdMismatch(TransactionError):
    """The signed checkout id is not the expected one."""

    code = "checkout_id_mismatch"


class NonceMismatch(TransactionError):
    """The signed nonce is not the expected one."""

    code = "nonce_mismatch"


class NonceReplayed(TransactionError):
    """The nonce was already used or has expired."""

    code = "nonce_replayed"
    http_status = 409


class SigningTimeOutOfWindow(TransactionError):
    """The signing time is outside the accepted window."""

    code = "signing_time_out_of_window"


class ConfirmationNotAccepted(TransactionError):
    """The presentation was signed without confirmation, which this merchant does not accept."""

    code = "confirmation_not_accepted"


class CertificateFingerprintMismatch(TransactionError):
    """The transaction names a different certificate than the one presented."""

    code = "certificate_fingerprint_mismatch"


class CardDataMismatch(CardcertError):
    """The card data typed does not match the card the certificate was issued for."""

    code = "card_data_mismatch"


class DigestAlgorithmUnsupported(CardcertError):
    """The certificate names a card-data digest algorithm this verifier does not know."""

    code = "digest_algorithm_unsupported"


# --- certificates and paths ---------------------------------------------------------


class CertificateError(CardcertError):
    """The certificate chain was rejected."""

    code = "certificate_rejected"


class CertificateMalformed(CertificateError):
    """A certificate is not valid DER X.509 v3."""

    code = "cert_malformed"


class CertificateExpired(CertificateError):
    """A certificate in the chain has expired."""

    code = "cert_expired"


class CertificateNotYetValid(CertificateError):
    """A certificate in the chain is not yet valid."""

    code = "cert_not_yet_valid"


class UntrustedRoot(CertificateError):
    """The chain does not lead to a configured trust anchor."""

    code = "untrusted_root"


class NoTrustAnchors(CertificateError):
    """No trust anchors are configured: nothing can be trusted (fail closed)."""

    code = "no_trust_anchors"
    http_status = 500


class CertificateSignatureInvalid(CertificateError):
    """A certificate signature does not verify with its issuer's key."""

    code = "cert_signature_invalid"


class ExtendedKeyUsageInvalid(CertificateError):
    """The card certificate lacks the cardholder-authentication extended key usage."""

    code = "wrong_eku"


class UnsupportedKey(CertificateError):
    """The key is not an ECDSA P-256 key."""

    code = "unsupported_key"


class UnknownCriticalExtension(CertificateError):
    """A certificate carries a critical extension this verifier does not process."""

    code = "unknown_critical_extension"


class CertificateProfileViolation(CertificateError):
    """A certificate does not follow the card-certificate profile."""

    code = "cert_profile_violation"


# --- revocation ---------------------------------------------------------------------


class RevocationError(CardcertError):
    """The revocation status was rejected."""

    code = "revocation_rejected"


class CertificateRevoked(RevocationError):
    """The card certificate has been revoked by its issuer."""

    code = "cert_revoked"


class StatusInvalid(RevocationError):
    """The status response is malformed, unsigned by the issuer, or for another certificate."""

    code = "status_invalid"


class StatusStale(RevocationError):
    """The status response is older than the accepted maximum age."""

    code = "status_stale"


class StatusUnavailable(RevocationError):
    """No usable revocation status could be obtained."""

    code = "status_unavailable"
    http_status = 503


def all_error_classes() -> list[type[CardcertError]]:
    """Every concrete error class, for documentation and exhaustiveness tests."""
    found: list[type[CardcertError]] = []
    pending: list[type[CardcertError]] = [CardcertError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
