"""Card data at rest in a pending checkout: AES-256-GCM, bound to the checkout id.

The demo shop (and any integrator that sends ``cardData`` when creating a checkout) hands
the merchant typed card data before the shopper is sent to the issuer; it is needed once,
to recompute the card-data digest when the presentation comes back. Until then it is kept
only as ``nonce (12 bytes) || AES-256-GCM(key, nonce, plaintext, aad=checkout id)``
(NIST SP 800-38D; a random 96-bit nonce per encryption, one encryption per checkout). The
checkout id as associated data means a ciphertext copied to another row does not decrypt.
The column is nulled when the verdict is reached or the checkout expires.

The key comes from ``MERCHANT_CARD_DATA_KEY`` or ``<data dir>/card-data.key``; in dev mode
a missing file is generated with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certs.card_data import CardData
from merchant.errors import CardDataUnavailable
from merchant.settings import ConfigurationError, Settings
from servicekit.key_files import create_key_file, read_key_file
from servicekit.sealed_card import open_card, seal_card

__all__ = ["CardVault", "load_card_data_key"]

_NONCE_BYTES = 12
_KEY_BYTES = 32


class CardVault:
    """Encrypts and decrypts card data for one checkout at a time. Never logs or reprs data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ConfigurationError("the card-data key must be 32 bytes")
        self._aead = AESGCM(key)
        self._hash_key = hmac.new(
            key, b"cardcert merchant request fingerprint v1", "sha256"
        ).digest()

    def seal(self, card: CardData, *, checkout_id: str) -> bytes:
        """Encrypt ``card`` for the checkout ``checkout_id``."""
        return seal_card(self._aead, card, associated_data=checkout_id.encode("utf-8"))

    def open(self, sealed: bytes, *, checkout_id: str) -> CardData:
        """Decrypt card data sealed for ``checkout_id``.

        Raises:
            CardDataUnavailable: ``card_data_unavailable`` (wrong key, row or tampering).
        """
        try:
            return open_card(self._aead, sealed, associated_data=checkout_id.encode("utf-8"))
        except ValueError as exc:
            raise CardDataUnavailable("the stored card data cannot be read") from exc

    def keyed_hash(self, data: bytes) -> str:
        """HMAC-SHA256 under a key derived from the vault key (for idempotency fingerprints
        of request bodies, which may hold card data and so must not be hashed unkeyed)."""
        return hmac.new(self._hash_key, data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "CardVault(<key hidden>)"


def load_card_data_key(settings: Settings) -> bytes:
    """The configured key, else the key file, else (dev mode only) a newly generated file.

    Raises:
        ConfigurationError: no key outside dev mode, or a malformed key file.
    """
    if settings.card_data_key is not None:
        return settings.card_data_key
    path = settings.card_data_key_file
    if path.exists():
        return read_key_file(path, error=ConfigurationError)
    if not settings.dev:
        raise ConfigurationError(
            "set MERCHANT_CARD_DATA_KEY or provide the key file "
            f"{path} (it is generated automatically only in dev mode)"
        )
    return create_key_file(path, error=ConfigurationError)
