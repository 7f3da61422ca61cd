"""Minting card certificates for the issuer: the core's profile plus the database row.

The certificate itself comes from :func:`certs.profile.mint_card_certificate` (profile:
docs/protocol.md section 5.2); this module only supplies the issuer's CA, URLs and validity
and turns the result into an :class:`~issuer.models.CertificateRecord`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.card_data import CardExpiry
from certs.keys import der_fingerprint
from certs.profile import CardCertificateRequest, mint_card_certificate
from issuer.models import CertificateRecord, CertificateStatus
from issuer.resources import IssuerResources

__all__ = ["card_has_expired", "mint_certificate_record", "serial_hex"]


def serial_hex(serial_number: int) -> str:
    """The stored form of a serial number: 40 lower-case hex digits (RFC 5280: <= 20 octets)."""
    return format(serial_number, "040x")


def card_has_expired(expiry: CardExpiry, *, now: datetime) -> bool:
    """Whether ``now`` is after the last second of the card's expiry month (UTC)."""
    last_day = calendar.monthrange(expiry.year, expiry.month)[1]
    return now > datetime(expiry.year, expiry.month, last_day, 23, 59, 59, tzinfo=UTC)


def mint_certificate_record(
    res: IssuerResources,
    *,
    credential_id: str,
    public_key: ec.EllipticCurvePublicKey,
    card_expiry: CardExpiry,
    card_data_digest: bytes,
    now: datetime,
) -> tuple[x509.Certificate, CertificateRecord]:
    """Mint a card certificate and the row that records it (status ``good``)."""
    certificate = mint_card_certificate(
        CardCertificateRequest(
            public_key=public_key,
            credential_id=credential_id,
            card_expiry=card_expiry,
            card_data_digest=card_data_digest,
        ),
        issuer_key=res.pki.issuer_key,
        issuer_ca=res.pki.issuer_ca,
        crl_url=res.settings.crl_url,
        ocsp_url=res.settings.ocsp_url,
        now=now,
        validity=res.settings.certificate_validity,
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    record = CertificateRecord(
        serial=serial_hex(certificate.serial_number),
        fingerprint=der_fingerprint(der),
        credential_id=credential_id,
        der=der,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        status=CertificateStatus.GOOD,
        created_at=now,
    )
    return certificate, record
