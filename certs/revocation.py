"""Revocation status from OCSP responses (RFC 6960), stapled or fetched live.

The issuer CA signs its own OCSP responses (RFC 6960 section 4.2.2.2, "the CA who issued
the certificate"), so a response is checked against the issuer CA of the path. A status
carries the serial and issuer key hash it speaks for; the verification core checks that
they match the validated path, so a status for another certificate cannot be passed off.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from certs.errors import StatusInvalid, StatusStale

__all__ = [
    "CertStatus",
    "RevocationStatus",
    "StatusSource",
    "issuer_key_hash",
    "read_ocsp_response",
]

_CLOCK_SKEW = timedelta(minutes=5)


class CertStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"


class StatusSource(StrEnum):
    STAPLED = "stapled"
    LIVE = "live"
    NONE = "none"


def issuer_key_hash(issuer_ca: x509.Certificate) -> bytes:
    """SHA-256 of the issuer CA's subjectPublicKey BIT STRING (RFC 6960 4.1.1 issuerKeyHash)."""
    return _cert_id_hashes(issuer_ca, hashes.SHA256)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationStatus:
    """What is known about one certificate's revocation, and from where.

    ``raw`` is the DER OCSP response it came from (kept for evidence), empty when none.
    """

    status: CertStatus
    source: StatusSource
    serial_number: int | None = None
    issuer_key_sha256: bytes | None = None
    produced_at: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    raw: bytes = b""

    @classmethod
    def unavailable(cls) -> RevocationStatus:
        """No status could be obtained (no staple, responder down or too slow)."""
        return cls(status=CertStatus.UNAVAILABLE, source=StatusSource.NONE)


def read_ocsp_response(
    der: bytes,
    *,
    certificate: x509.Certificate,
    issuer_ca: x509.Certificate,
    now: datetime,
    max_age: timedelta,
    source: StatusSource,
) -> RevocationStatus:
    """Check a DER OCSP response for ``certificate`` and return its status.

    Raises:
        StatusInvalid: ``status_invalid``: not a successful basic response, not signed by
            the issuer CA, or not about this certificate.
        StatusStale: ``status_stale``: thisUpdate older than ``max_age`` or nextUpdate passed.
    """
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise StatusInvalid("the OCSP response is not successful")
        signature = response.signature
        tbs = response.tbs_response_bytes
        hash_algorithm = response.signature_hash_algorithm
        single = None
        for candidate in response.responses:
            if candidate.serial_number == certificate.serial_number:
                single = candidate
                break
        cert_id_hash = None if single is None else single.hash_algorithm
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise StatusInvalid("the OCSP response is malformed") from exc
    if single is None or cert_id_hash is None:
        raise StatusInvalid("the OCSP response is about another certificate")

    # RFC 6960 3.2 (1)-(3): the response is for this certificate of this issuer, and signed
    # by that issuer (3.2 (4)) with a key we trust through the validated path.
    issuer_key = issuer_ca.public_key()
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey) or hash_algorithm is None:
        raise StatusInvalid("the OCSP response signature algorithm is not supported")
    expected = _cert_id_hashes(issuer_ca, type(cert_id_hash))
    if (single.issuer_key_hash, single.issuer_name_hash) != expected:
        raise StatusInvalid("the OCSP response is about another issuer")
    if response.responder_key_hash is not None:
        # RFC 6960 4.2.1 ResponderID byKey: SHA-1 of the responder's public key, an
        # identifier (not a security check; the signature below is).
        responder_hash = _cert_id_hashes(issuer_ca, hashes.SHA1)[0]
        if response.responder_key_hash != responder_hash:
            raise StatusInvalid("the OCSP response was signed by another responder")
    elif response.responder_name != issuer_ca.subject:
        raise StatusInvalid("the OCSP response was signed by another responder")
    try:
        issuer_key.verify(signature, tbs, ec.ECDSA(hash_algorithm))
    except InvalidSignature as exc:
        raise StatusInvalid("the OCSP response signature does not verify") from exc

    # RFC 6960 3.2 (5)-(6) and 4.2.2.1: thisUpdate sufficiently recent, nextUpdate not passed.
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > now + _CLOCK_SKEW:
        raise StatusInvalid("the OCSP response is from the future")
    if now - this_update > max_age or (next_update is not None and now > next_update):
        raise StatusStale()

    status = {
        ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
    }[single.certificate_status]
    try:
        reason = single.revocation_reason
    except ValueError as exc:  # a CRLReason RFC 5280 5.3.1 does not define (7, or > 10)
        raise StatusInvalid("the OCSP response has an unknown revocation reason") from exc
    return RevocationStatus(
        status=status,
        source=source,
        serial_number=single.serial_number,
        issuer_key_sha256=issuer_key_hash(issuer_ca),
        produced_at=response.produced_at_utc,
        this_update=this_update,
        next_update=next_update,
        revoked_at=single.revocation_time_utc,
        revocation_reason=reason.name if reason is not None else None,
        raw=der,
    )


@functools.lru_cache(maxsize=256)
def _cert_id_hashes(
    issuer_ca: x509.Certificate, algorithm: type[hashes.HashAlgorithm]
) -> tuple[bytes, bytes]:
    """(issuerKeyHash, issuerNameHash) of RFC 6960 4.1.1 with ``algorithm``. Pure, so kept per
    issuer CA and algorithm: issuer CAs are few, and every status read needs them."""
    key_digest = hashes.Hash(algorithm())
    key_digest.update(
        issuer_ca.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    name_digest = hashes.Hash(algorithm())
    name_digest.update(issuer_ca.subject.public_bytes())
    return key_digest.finalize(), name_digest.finalize()
