"""Minting: the network root CA, issuer CAs and card certificates (docs/protocol.md, 5).

All certificates are X.509 v3, ECDSA P-256 with SHA-256, built with ``cryptography``'s
immutable :class:`~cryptography.x509.CertificateBuilder`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from certs.card_data import CardExpiry
from certs.digest_extension import encode_digest_extension
from certs.keys import require_p256
from certs.oids import (
    CARD_CERTIFICATE_POLICY,
    CARD_DATA_DIGEST_EXTENSION,
    CARDHOLDER_AUTHENTICATION_EKU,
    HMAC_SHA256,
)

__all__ = [
    "DEFAULT_CARD_CERT_VALIDITY",
    "CardCertificateRequest",
    "card_certificate_not_after",
    "make_issuer_ca",
    "make_root_ca",
    "mint_card_certificate",
]

DEFAULT_CARD_CERT_VALIDITY = timedelta(days=90)
# Backdating absorbs small clock differences between issuer and verifiers.
_BACKDATE = timedelta(minutes=5)


def _ca_extensions(
    builder: x509.CertificateBuilder, key: ec.EllipticCurvePublicKey, path_length: int
) -> x509.CertificateBuilder:
    # RFC 5280 4.2.1.9: basicConstraints MUST be critical in CA certificates.
    # RFC 5280 4.2.1.3: keyCertSign and cRLSign for a CA that signs certificates and CRLs;
    # digitalSignature because the issuer CA signs its own OCSP responses (RFC 6960 4.2.2.2).
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), False)
    )


def make_root_ca(
    key: ec.EllipticCurvePrivateKey,
    *,
    common_name: str,
    organization: str,
    now: datetime,
    validity: timedelta = timedelta(days=3650),
) -> x509.Certificate:
    """A self-signed payment-network root CA (pathLen 1: issuer CAs below, nothing more)."""
    public_key = require_p256(key.public_key())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
    )
    builder = _ca_extensions(builder, public_key, path_length=1)
    return builder.sign(key, hashes.SHA256())


def make_issuer_ca(
    issuer_key: ec.EllipticCurvePublicKey,
    *,
    root_key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    common_name: str,
    organization: str,
    now: datetime,
    validity: timedelta = timedelta(days=1825),
) -> x509.Certificate:
    """An issuer CA signed by the network root (pathLen 0: card certificates only)."""
    public_key = require_p256(issuer_key)
    not_after = min(now + validity, root.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
    )
    builder = _ca_extensions(builder, public_key, path_length=0).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(require_p256(root_key.public_key())),
        False,
    )
    return builder.sign(root_key, hashes.SHA256())


def card_certificate_not_after(
    *, now: datetime, card_expiry: CardExpiry, validity: timedelta, issuer_not_after: datetime
) -> datetime:
    """The card certificate's notAfter: the policy validity, cut at the card's expiry.

    The card is valid through the last second of its expiry month (UTC). The result equals
    that instant only when the card expires before the policy validity ends, so the
    certificate reveals the card's expiry month only then.
    """
    last_day = calendar.monthrange(card_expiry.year, card_expiry.month)[1]
    card_end = datetime(card_expiry.year, card_expiry.month, last_day, 23, 59, 59, tzinfo=UTC)
    return min(now + validity, card_end, issuer_not_after)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardCertificateRequest:
    """What the issuer knows when it mints, after checking proof of possession.

    Attributes:
        public_key: the cardholder's P-256 key (made in the browser).
        credential_id: the pseudonymous subject (never a name or PAN).
        card_expiry: the card's expiry month, to cut the validity.
        card_data_digest: HMAC-SHA256(secret, card data), 32 bytes.
    """

    public_key: ec.EllipticCurvePublicKey
    credential_id: str
    card_expiry: CardExpiry
    card_data_digest: bytes


def mint_card_certificate(
    request: CardCertificateRequest,
    *,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_ca: x509.Certificate,
    crl_url: str,
    ocsp_url: str,
    now: datetime,
    validity: timedelta = DEFAULT_CARD_CERT_VALIDITY,
    serial_number: int | None = None,
) -> x509.Certificate:
    """Mint a card certificate (profile: docs/protocol.md, section 5.2)."""
    public_key = require_p256(request.public_key)
    not_after = card_certificate_not_after(
        now=now,
        card_expiry=request.card_expiry,
        validity=validity,
        issuer_not_after=issuer_ca.not_valid_after_utc,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request.credential_id)]))
        .issuer_name(issuer_ca.subject)
        .public_key(public_key)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(x509.ExtendedKeyUsage([CARDHOLDER_AUTHENTICATION_EKU]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                require_p256(issuer_ca.public_key())
            ),
            False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            False,
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(CARD_CERTIFICATE_POLICY, None)]),
            False,
        )
        .add_extension(
            x509.UnrecognizedExtension(
                CARD_DATA_DIGEST_EXTENSION,
                encode_digest_extension(request.card_data_digest, HMAC_SHA256),
            ),
            False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())
