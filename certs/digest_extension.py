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
from typing import NoReturn

from asn1crypto import core, parser
from cryptography import x509

from certs.errors import CertificateProfileViolation, DigestAlgorithmUnsupported
from certs.oids import CARD_DATA_DIGEST_EXTENSION, HMAC_SHA256

__all__ = [
    "CardDataDigestExtension",
    "decode_digest_extension",
    "decode_digest_extension_with_schema",
    "encode_digest_extension",
]

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


# DER is canonical (X.690 section 10), so a field is the expected value exactly when its
# encoding equals the schema's encoding of that value. Verifiers compare encodings built
# once from the schema instead of materialising asn1crypto objects per certificate.
_VERSION_DER = bytes(core.Integer(EXTENSION_VERSION).dump())
_ALGORITHM_DER = {
    bytes(
        _AlgorithmIdentifier({"algorithm": oid, "parameters": core.Null()}).dump()
    ): x509.ObjectIdentifier(oid)
    for oid in _SUPPORTED
}
_DER_PREFIX = {
    oid: encode_digest_extension(bytes(length), x509.ObjectIdentifier(oid))[:-length]
    for oid, length in _SUPPORTED.items()
}
_ALGORITHMS = {oid: x509.ObjectIdentifier(oid) for oid in _SUPPORTED}
_UNIVERSAL, _PRIMITIVE, _CONSTRUCTED = 0, 0, 1
_TAG_OCTET_STRING, _TAG_SEQUENCE = 4, 16


def _malformed(exc: Exception | None = None) -> CertificateProfileViolation:
    error = CertificateProfileViolation("the card-data digest extension is malformed")
    if exc is not None:
        error.__cause__ = exc
    return error


def _parse_value(raw: bytes) -> tuple[x509.ObjectIdentifier, bytes]:
    try:
        cls, method, tag, _header, contents, _trailer = parser.parse(raw, strict=True)
        if (cls, method, tag) != (_UNIVERSAL, _CONSTRUCTED, _TAG_SEQUENCE):
            raise _malformed()
        fields = []
        pointer = 0
        while pointer < len(contents):
            start = pointer
            info, pointer = parser._parse(contents, len(contents), pointer)
            fields.append((info, contents[start:pointer]))
    except ValueError as exc:
        raise _malformed(exc) from exc
    if len(fields) != 3:
        raise _malformed()
    (_, version_der), (_, algorithm_der), (digest_info, _) = fields
    if version_der != _VERSION_DER:
        raise CertificateProfileViolation("unknown card-data digest extension version")
    # The digest's type before the algorithm's: a value that is not a CardDataDigest at
    # all is malformed, whatever algorithm it names (as the schema decoder finds).
    cls, method, tag, _header, digest, trailer = digest_info
    if (cls, method, tag) != (_UNIVERSAL, _PRIMITIVE, _TAG_OCTET_STRING) or trailer:
        raise _malformed()
    algorithm = _ALGORITHM_DER.get(algorithm_der) or _raise_for_algorithm(algorithm_der)
    if len(digest) != _SUPPORTED[algorithm.dotted_string]:
        raise _malformed()
    return algorithm, bytes(digest)


def _raise_for_algorithm(algorithm_der: bytes) -> NoReturn:
    try:
        parsed = _AlgorithmIdentifier.load(algorithm_der, strict=True)
        oid = parsed["algorithm"].dotted
    except (ValueError, TypeError, KeyError) as exc:
        raise _malformed(exc) from exc
    if oid in _SUPPORTED:
        # A known algorithm with parameters other than NULL (RFC 8018 B.1.2).
        raise _malformed()
    raise DigestAlgorithmUnsupported()


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
    # DER, not BER (X.690 10.1): one value has one encoding. The schema's encoding of a
    # supported value is its algorithm's prefix (built once from the schema) followed by the
    # digest, so a value of that form is accepted as it stands; any other is parsed, for the
    # error it deserves.
    for oid, prefix in _DER_PREFIX.items():
        if len(raw) == len(prefix) + _SUPPORTED[oid] and raw.startswith(prefix):
            return CardDataDigestExtension(
                algorithm=_ALGORITHMS[oid], digest=raw[len(prefix) :], raw=raw
            )
    algorithm, digest = _parse_value(raw)
    if raw != _DER_PREFIX[algorithm.dotted_string] + digest:
        raise _malformed()
    return CardDataDigestExtension(algorithm=algorithm, digest=digest, raw=raw)


def decode_digest_extension_with_schema(raw: bytes) -> tuple[str, int, bytes]:
    """Reference decoder through the asn1crypto schema: (algorithm OID, version, digest).

    Tests check that :func:`decode_digest_extension` agrees with it on every input.
    """
    parsed = _CardDataDigest.load(raw, strict=True)
    return (
        parsed["digest_algorithm"]["algorithm"].dotted,
        parsed["version"].native,
        parsed["digest"].native,
    )
