"""Every object identifier cardcert defines, in one place.

cardcert's arc is a UUID-derived OID under ``2.25`` (ITU-T X.667 / RFC 4122 section 4.1):
UUID ``abea9acc-896a-4ce4-a74f-a9337a78af60`` gives
``2.25.228516124440269834798967113181325471584``. Below it:

============================  ===========================================================
``<arc>.1.1``                 extension ``cardDataDigest`` (non-critical)
``<arc>.2.1``                 extended key usage ``id-kp-cardholderAuthentication``
``<arc>.3.1``                 certificate policy ``cardcert card certificate v1``
``<arc>.4.1``                 card-data digest algorithm ``argon2id-hmac`` (reserved)
============================  ===========================================================

The HMAC-SHA256 card-data digest uses the standard ``id-hmacWithSHA256``
(``1.2.840.113549.2.9``, RFC 8018 appendix B.1.2), so no private OID is needed for it.
"""

from __future__ import annotations

from cryptography.x509 import ObjectIdentifier

__all__ = [
    "ARC",
    "CARDHOLDER_AUTHENTICATION_EKU",
    "CARD_CERTIFICATE_POLICY",
    "CARD_DATA_DIGEST_EXTENSION",
    "DIGEST_ARGON2ID_HMAC_RESERVED",
    "HMAC_SHA256",
]

ARC = "2.25.228516124440269834798967113181325471584"

CARD_DATA_DIGEST_EXTENSION = ObjectIdentifier(f"{ARC}.1.1")
CARDHOLDER_AUTHENTICATION_EKU = ObjectIdentifier(f"{ARC}.2.1")
CARD_CERTIFICATE_POLICY = ObjectIdentifier(f"{ARC}.3.1")
DIGEST_ARGON2ID_HMAC_RESERVED = ObjectIdentifier(f"{ARC}.4.1")
HMAC_SHA256 = ObjectIdentifier("1.2.840.113549.2.9")
