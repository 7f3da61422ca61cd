"""The issuer CA's certificate revocation list (RFC 5280 section 5), as a pure function.

Profile: CRL v2, signed ecdsa-with-SHA256 by the issuer CA, with ``nextUpdate``
(5.1.2.5: conforming issuers MUST include it), ``authorityKeyIdentifier`` (5.2.1 MUST) and
``cRLNumber`` (5.2.3 MUST, monotonically increasing: it comes from a database counter so
all workers share one sequence). Entries are the certificates revoked or superseded and not
yet expired (5.1.2.6: an entry may be removed once the certificate has expired), sorted by
serial number, each with a non-critical ``reasonCode`` unless the reason is unspecified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from certs.keys import require_p256
from issuer.key_material import IssuerPki

__all__ = ["RevokedEntry", "build_crl"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedEntry:
    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None


def build_crl(
    pki: IssuerPki,
    entries: Iterable[RevokedEntry],
    *,
    number: int,
    now: datetime,
    validity: timedelta,
) -> bytes:
    """Sign a DER CRL listing ``entries``, valid from ``now`` for ``validity``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.issuer_ca.subject)
        .last_update(now)
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                require_p256(pki.issuer_ca.public_key())
            ),
            critical=False,
        )
    )
    for entry in sorted(entries, key=lambda e: e.serial_number):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    crl = builder.sign(pki.issuer_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)
