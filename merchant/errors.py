"""Errors of the merchant service, in the project's one hierarchy (stable ``code`` + status).

Verification failures are not errors of the API: they are verdicts (HTTP 200 with
``verdict.code``) and use the core's codes (:mod:`certs.errors`). The classes here are for
requests the merchant service itself refuses.
"""

from __future__ import annotations

from servicekit.errors import ServiceError

__all__ = [
    "AmountInvalid",
    "CardDataUnavailable",
    "CardHintInvalid",
    "CheckoutNotPending",
    "CurrencyInvalid",
    "IdempotencyKeyReused",
    "IssuerMetadataInvalid",
    "IssuerNotParticipating",
    "ReturnUrlNotAllowed",
]


class IssuerNotParticipating(ServiceError):
    """No participating issuer is known for this card's BIN."""

    code = "issuer_not_participating"
    http_status = 422


class IdempotencyKeyReused(ServiceError):
    """This Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"
    http_status = 422


class ReturnUrlNotAllowed(ServiceError):
    """The return URL is not on one of this merchant's allowed origins."""

    code = "return_url_not_allowed"
    http_status = 422


class AmountInvalid(ServiceError):
    """The amount is not a canonical decimal string for the currency (e.g. "12.30" EUR)."""

    code = "amount_invalid"
    http_status = 422


class CurrencyInvalid(ServiceError):
    """The currency is not a supported ISO 4217 code."""

    code = "currency_invalid"
    http_status = 422


class CardHintInvalid(ServiceError):
    """The card hint must be a 6-8 digit BIN and the last 4 digits, matching any card data."""

    code = "card_hint_invalid"
    http_status = 422


class CardDataUnavailable(ServiceError):
    """No card data was sent and none is held for this checkout."""

    code = "card_data_unavailable"
    http_status = 422


class CheckoutNotPending(ServiceError):
    """The checkout is no longer pending."""

    code = "checkout_not_pending"
    http_status = 409


class IssuerMetadataInvalid(ServiceError):
    """The issuer metadata is not the documented version 1 object, or its CA is not trusted."""

    code = "issuer_metadata_invalid"
    http_status = 422
