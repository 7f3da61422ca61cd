"""Card data sealed with AES-256-GCM (NIST SP 800-38D) for storage at rest.

``nonce (12 random bytes) || ciphertext+tag`` of a compact JSON encoding of the card data;
the associated data binds the ciphertext to its row, so a sealed value copied to another
row does not open.
"""

from __future__ import annotations

import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certs.card_data import CardData
from certs.errors import CardDataError

__all__ = ["open_card", "seal_card"]

_NONCE_BYTES = 12


def seal_card(aead: AESGCM, card: CardData, *, associated_data: bytes) -> bytes:
    plaintext = json.dumps(
        {
            "pan": card.pan,
            "expiry": card.expiry.iso(),
            "securityCode": card.security_code,
            "name": card.name,
        },
        separators=(",", ":"),
    ).encode("utf-8")
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated_data)


def open_card(aead: AESGCM, sealed: bytes, *, associated_data: bytes) -> CardData:
    """Open a sealed value; ``ValueError`` for a wrong key, wrong row, or tampering."""
    try:
        plaintext = aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated_data)
        data = json.loads(plaintext)
        return CardData.parse(
            pan=data["pan"],
            expiry=data["expiry"],
            security_code=data["securityCode"],
            name=data["name"],
        )
    except (InvalidTag, ValueError, KeyError, TypeError, CardDataError) as exc:
        raise ValueError("the sealed card data cannot be opened") from exc
