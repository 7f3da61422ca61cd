"""The keyed card-data digest bound into a card certificate.

``digest = HMAC-SHA256(key=secret, msg=CardData.canonical_bytes())`` (RFC 2104, FIPS 198-1)
where ``secret`` is 32 random bytes made per credential on the cardholder's device. The
issuer computes it once at enrollment from its own record of the card and forgets the
secret; the merchant recomputes it from the card data the shopper typed and the secret in
the presentation, and compares in constant time. Why keyed: docs/protocol.md, section 6.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography import x509

from certs.card_data import CardData
from certs.digest_extension import CardDataDigestExtension
from certs.errors import CardDataMismatch, DigestAlgorithmUnsupported, MalformedPresentation
from certs.oids import HMAC_SHA256

__all__ = ["SECRET_LENGTH", "card_data_digest", "check_card_data"]

SECRET_LENGTH = 32


def card_data_digest(
    card: CardData, secret: bytes, algorithm: x509.ObjectIdentifier = HMAC_SHA256
) -> bytes:
    """Compute the card-data digest.

    Raises:
        MalformedPresentation: ``presentation_malformed`` when the secret is not 32 bytes.
        DigestAlgorithmUnsupported: ``digest_algorithm_unsupported``.
    """
    if len(secret) != SECRET_LENGTH:
        raise MalformedPresentation("the card-data secret must be 32 bytes")
    if algorithm != HMAC_SHA256:
        raise DigestAlgorithmUnsupported()
    return hmac.new(secret, card.canonical_bytes(), hashlib.sha256).digest()


def check_card_data(card: CardData, secret: bytes, extension: CardDataDigestExtension) -> None:
    """Check typed card data against a certificate's digest, in constant time.

    Raises:
        CardDataMismatch: ``card_data_mismatch``.
    """
    computed = card_data_digest(card, secret, extension.algorithm)
    if not hmac.compare_digest(computed, extension.digest):
        raise CardDataMismatch()
