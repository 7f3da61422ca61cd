"""ECDSA P-256 keys and WebCrypto-style signatures.

WebCrypto's ECDSA produces the raw ``r || s`` form (W3C Web Cryptography API, section
"ECDSA": the signature is the concatenation of r and s, each the size of the curve order),
64 bytes for P-256. X.509 and ``cryptography`` use the DER ``Ecdsa-Sig-Value`` (RFC 3279
section 2.2.3); :func:`verify_raw_signature` converts with ``encode_dss_signature``.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from certs.errors import SignatureInvalid, SignatureMalformed, UnsupportedKey
from certs.wire import b64url_encode

__all__ = [
    "RAW_SIGNATURE_LENGTH",
    "der_fingerprint",
    "load_p256_spki",
    "require_p256",
    "sign_raw",
    "verify_raw_signature",
]

RAW_SIGNATURE_LENGTH = 64
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def require_p256(key: object) -> ec.EllipticCurvePublicKey:
    """Return ``key`` if it is an ECDSA P-256 public key.

    Raises:
        UnsupportedKey: ``unsupported_key``.
    """
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedKey()
    return key


def load_p256_spki(der: bytes) -> ec.EllipticCurvePublicKey:
    """Load a DER SubjectPublicKeyInfo holding a P-256 key (as WebCrypto exports ``spki``).

    Raises:
        UnsupportedKey: ``unsupported_key`` for malformed SPKI or any other key type/curve.
    """
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKey("the public key is not a DER SubjectPublicKeyInfo") from exc
    return require_p256(key)


def verify_raw_signature(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    """Verify a raw ``r || s`` ECDSA P-256 SHA-256 signature over ``message``.

    Raises:
        SignatureMalformed: ``signature_malformed`` unless 64 bytes with 0 < r, s < n.
        SignatureInvalid: ``signature_invalid``.
    """
    if len(signature) != RAW_SIGNATURE_LENGTH:
        raise SignatureMalformed()
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
        raise SignatureMalformed()
    try:
        key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
    except InvalidSignature as exc:
        raise SignatureInvalid() from exc


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """Sign as WebCrypto does: ECDSA P-256 SHA-256, raw ``r || s``."""
    r, s = decode_dss_signature(key.sign(message, _ECDSA_SHA256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def der_fingerprint(der: bytes) -> str:
    """The certificate fingerprint used on the wire: base64url(SHA-256(DER))."""
    return b64url_encode(hashlib.sha256(der).digest())
