"""The transaction description: the exact object the cardholder's key signs.

Wire form (docs/protocol.md, section 7): an RFC 8785 (JCS) canonical JSON object::

    {"amount":"12.30","certificateFingerprint":"<b64url SHA-256 of the card cert DER>",
     "checkoutId":"co_...","confirmation":"explicit","currency":"EUR",
     "merchantName":"Demo Shop","merchantOrigin":"https://shop.example",
     "nonce":"<b64url, >= 128 bits>","signedAt":"2026-11-23T09:32:10.123Z",
     "type":"cardcert.transaction","version":1}

The verifier checks the signature over the bytes it received (``raw``) and never
re-serialises them; :class:`TransactionDescription` parses ``raw`` once so the parsed view
cannot drift from the signed bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from certs.canonical_json import canonical_json
from certs.errors import MalformedTransaction
from certs.money import is_canonical_amount, is_currency
from certs.origin import is_serialised_origin
from certs.wire import load_json_object

__all__ = ["Confirmation", "TransactionDescription", "format_signing_time"]

TRANSACTION_TYPE = "cardcert.transaction"
TRANSACTION_VERSION = 1
_FIELDS = frozenset(
    {
        "amount",
        "certificateFingerprint",
        "checkoutId",
        "confirmation",
        "currency",
        "merchantName",
        "merchantOrigin",
        "nonce",
        "signedAt",
        "type",
        "version",
    }
)
_CHECKOUT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,86}")  # 128 to 512 bits, unpadded base64url
_FINGERPRINT = re.compile(r"[A-Za-z0-9_-]{43}")  # SHA-256, unpadded base64url
_SIGNED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_NAME_MAX = 100


class Confirmation(StrEnum):
    """How the cardholder agreed: shown the confirmation page, or silently under policy."""

    EXPLICIT = "explicit"
    FRICTIONLESS = "frictionless"


def format_signing_time(when: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as JavaScript's ``Date.prototype.toISOString``."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _require(condition: bool, field: str) -> None:
    if not condition:
        raise MalformedTransaction(f"transaction field {field} is missing or malformed")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionDescription:
    """A parsed transaction description; ``raw`` holds the exact signed bytes."""

    raw: bytes
    merchant_origin: str
    merchant_name: str
    amount: str
    currency: str
    checkout_id: str
    nonce: str
    signed_at: datetime
    certificate_fingerprint: str
    confirmation: Confirmation

    @classmethod
    def parse(cls, raw: bytes) -> TransactionDescription:
        """Parse signed bytes strictly.

        Raises:
            MalformedTransaction: ``transaction_malformed``.
        """
        data = load_json_object(raw, error=MalformedTransaction, what="transaction", max_depth=1)
        # The signed bytes must be the RFC 8785 form of what they say (docs/protocol.md 7).
        try:
            canonical = canonical_json(data)
        except ValueError as exc:
            raise MalformedTransaction("the transaction is not I-JSON") from exc
        if canonical != bytes(raw):
            raise MalformedTransaction("the transaction is not RFC 8785 canonical JSON")
        if set(data) != _FIELDS:
            raise MalformedTransaction("transaction fields are not exactly those of version 1")
        _require(data["type"] == TRANSACTION_TYPE, "type")
        version = data["version"]
        _require(type(version) is int and version == TRANSACTION_VERSION, "version")
        _require(is_serialised_origin(data["merchantOrigin"]), "merchantOrigin")
        name = data["merchantName"]
        _require(
            isinstance(name, str) and 0 < len(name) <= _NAME_MAX and name.isprintable(),
            "merchantName",
        )
        currency = data["currency"]
        _require(is_currency(currency), "currency")
        _require(is_canonical_amount(data["amount"], currency), "amount")
        for field, pattern in (
            ("checkoutId", _CHECKOUT_ID),
            ("nonce", _NONCE),
            ("certificateFingerprint", _FINGERPRINT),
            ("signedAt", _SIGNED_AT),
        ):
            value = data[field]
            _require(isinstance(value, str) and pattern.fullmatch(value) is not None, field)
        try:
            signed_at = datetime.fromisoformat(data["signedAt"])
        except ValueError as exc:
            raise MalformedTransaction("transaction field signedAt is malformed") from exc
        try:
            confirmation = Confirmation(data["confirmation"])
        except ValueError as exc:
            raise MalformedTransaction("transaction field confirmation is malformed") from exc
        return cls(
            raw=bytes(raw),
            merchant_origin=data["merchantOrigin"],
            merchant_name=name,
            amount=data["amount"],
            currency=currency,
            checkout_id=data["checkoutId"],
            nonce=data["nonce"],
            signed_at=signed_at,
            certificate_fingerprint=data["certificateFingerprint"],
            confirmation=confirmation,
        )

    @classmethod
    def build(
        cls,
        *,
        merchant_origin: str,
        merchant_name: str,
        amount: str,
        currency: str,
        checkout_id: str,
        nonce: str,
        signed_at: datetime,
        certificate_fingerprint: str,
        confirmation: Confirmation = Confirmation.EXPLICIT,
    ) -> TransactionDescription:
        """Build the canonical bytes exactly as the Service Worker does, then parse them.

        Used by test cardholders, the load generator and ``cardcert`` tools.
        """
        return cls.parse(
            canonical_json(
                {
                    "type": TRANSACTION_TYPE,
                    "version": TRANSACTION_VERSION,
                    "merchantOrigin": merchant_origin,
                    "merchantName": merchant_name,
                    "amount": amount,
                    "currency": currency,
                    "checkoutId": checkout_id,
                    "nonce": nonce,
                    "signedAt": format_signing_time(signed_at),
                    "certificateFingerprint": certificate_fingerprint,
                    "confirmation": str(confirmation),
                }
            )
        )
