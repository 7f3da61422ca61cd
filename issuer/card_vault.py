"""Card data at rest: AES-256-GCM per record, and keyed PAN lookups.

Each card row holds ``0x01 || nonce (12 bytes) || AES-256-GCM(key, nonce, plaintext, aad)``
(NIST SP 800-38D: a fresh random 96-bit nonce per encryption; the issuer encrypts a record
once per registration, far below the 2^32 encryptions per key the random-nonce bound
allows). The associated data is the card id, so a ciphertext copied onto another row does
not decrypt. The leading byte is a format version for a later key rotation.

Cards are found by ``HMAC-SHA256(lookup key, PAN)``, never by the PAN, under a key separate
from the encryption key (PCI DSS 3.5.1: a keyed hash of the PAN, so the stored BIN and
last four digits cannot be correlated with it by brute force). The activation-code hash key
is derived from the lookup key with a fixed label.

Nothing here logs or formats card data; :class:`CardVault` has no readable ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certs.card_data import CardData
from issuer.errors import CardDataUnreadable
from servicekit.sealed_card import open_card, seal_card

__all__ = ["CardVault"]

_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_AAD_LABEL = b"cardcert-issuer-card-v1\x00"
_PAN_LABEL = b"cardcert-issuer-pan-lookup-v1\x00"
_ACTIVATION_LABEL = b"cardcert-issuer-activation-code-key-v1"


class CardVault:
    """Encrypts card records and computes PAN lookup hashes."""

    def __init__(self, *, data_key: bytes, lookup_key: bytes) -> None:
        if len(data_key) != _KEY_BYTES or len(lookup_key) != _KEY_BYTES:
            raise ValueError("card-data and PAN lookup keys must be 32 bytes")
        if hmac.compare_digest(data_key, lookup_key):
            raise ValueError("card-data and PAN lookup keys must differ")
        self._aead = AESGCM(data_key)
        self._lookup_key = lookup_key

    def seal(self, card: CardData, *, card_id: str) -> bytes:
        """Encrypt ``card`` for the row ``card_id``."""
        return _FORMAT_V1 + seal_card(self._aead, card, associated_data=_aad(card_id))

    def open(self, sealed: bytes, *, card_id: str) -> CardData:
        """Decrypt the record of ``card_id``.

        Raises:
            CardDataUnreadable: ``card_data_unreadable`` (wrong key, wrong row, tampering).
        """
        if sealed[:1] != _FORMAT_V1:
            raise CardDataUnreadable()
        try:
            return open_card(self._aead, sealed[1:], associated_data=_aad(card_id))
        except ValueError as exc:
            raise CardDataUnreadable() from exc

    def pan_lookup_hash(self, pan: str) -> str:
        """HMAC-SHA256 of a normalised PAN under the lookup key, hex."""
        return hmac.new(
            self._lookup_key, _PAN_LABEL + pan.encode("ascii"), hashlib.sha256
        ).hexdigest()

    def activation_code_key(self) -> bytes:
        """The key activation codes are hashed under (derived from the lookup key)."""
        return hmac.new(self._lookup_key, _ACTIVATION_LABEL, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "CardVault(<keys hidden>)"


def _aad(card_id: str) -> bytes:
    return _AAD_LABEL + card_id.encode("utf-8")
