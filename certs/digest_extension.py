"""The ``cardDataDigest`` private certificate extension, as an asn1crypto schema.

ASN.1 (docs/protocol.md, section 5.3)::

    id-cardcert-cardDataDigest OBJECT IDENTIFIER ::= { cardcert-arc 1 1 }

    CardDataDigest ::= SEQUENCE {
        version          INTEGER { v1(1) },
        digestAlgorithm  AlgorithmIdentifier,   -- RFC 5280 section 4.1.1.2
        digest           OCTET STRING           -- 32 bytes for id-hmacWithSHA256
    }

The extension is non-critical so that generic RFC 5280 validators (``openssl verify``)
accept the chain; cardcert verifiers require it to be present and check it after path
validation.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509

from certs.errors import CertificateProfileViolation, DigestAlgorithmUnsupported
from certs.oids import CARD_DATA_DIGEST_EXTENSION, HMAC_SHA256

__all__ = ["CardDataDigestExtension", "decode_digest_extension", "encode_digest_extension"]

EXTENSION_VERSION = 1
_SUPPORTED = {HMAC_SHA256.dotted_string: 32}


class _AlgorithmIdentifier(core.Sequence):
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _CardDataDigest(core.Sequence):
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("version", core.Integer),
        ("digest_algorithm", _AlgorithmIdentifier),
        ("digest", core.OctetString),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class CardDataDigestExtension:
    """The decoded extension. ``raw`` is the DER extension value as found in the certificate."""

    algorithm: x509.ObjectIdentifier
    digest: bytes
    raw: bytes


def encode_digest_extension(digest: bytes, algorithm: x509.ObjectIdentifier = HMAC_SHA256) -> bytes:
    """DER-encode a ``CardDataDigest`` value (the extnValue contents)."""
    if _SUPPORTED.get(algorithm.dotted_string) != len(digest):
        raise DigestAlgorithmUnsupported()
    value = _CardDataDigest(
        {
            "version": EXTENSION_VERSION,
            # id-hmacWithSHA256 parameters are NULL (RFC 8018 appendix B.1.2)
            "digest_algorithm": {"algorithm": algorithm.dotted_string, "parameters": core.Null()},
            "digest": digest,
        }
    )
    return bytes(value.dump())


def decode_digest_extension(certificate: x509.Certificate) -> CardDataDigestExtension:
    """Find and decode the ``cardDataDigest`` extension of a card certificate.

    Raises:
        CertificateProfileViolation: ``cert_profile_violation`` when absent, critical or
            malformed.
        DigestAlgorithmUnsupported: ``digest_algorithm_unsupported``.
    """
    try:
        extension = certificate.extensions.get_extension_for_oid(CARD_DATA_DIGEST_EXTENSION)
    except x509.ExtensionNotFound as exc:
        raise CertificateProfileViolation("the card-data digest extension is missing") from exc
    if extension.critical:
        raise CertificateProfileViolation("the card-data digest extension must be non-critical")
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise CertificateProfileViolation("the card-data digest extension is not recognised")
    raw = value.value
    try:
        parsed = _CardDataDigest.load(raw, strict=True)
        version = parsed["version"].native
        algorithm = parsed["digest_algorithm"]["algorithm"].dotted
        parameters = parsed["digest_algorithm"]["parameters"]
        digest = parsed["digest"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateProfileViolation("the card-data digest extension is malformed") from exc
    if version != EXTENSION_VERSION:
        raise CertificateProfileViolation("unknown card-data digest extension version")
    expected_length = _SUPPORTED.get(algorithm)
    if expected_length is None:
        raise DigestAlgorithmUnsupported()
    if parameters.dump() not in (b"", b"\x05\x00") or len(digest) != expected_length:
        raise CertificateProfileViolation("the card-data digest extension is malformed")
    return CardDataDigestExtension(
        algorithm=x509.ObjectIdentifier(algorithm), digest=digest, raw=raw
    )
