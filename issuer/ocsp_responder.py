"""OCSP responses signed by the issuer CA itself (RFC 6960), as pure functions of the state.

The issuer CA signs its own responses (RFC 6960 4.2.2.2: the responder is "the CA who
issued the certificate in question"), so no delegated responder certificate is needed and
the ResponderID is the CA's key hash (4.2.1, ``byKey``). A request is answered for its own
``CertID`` hash algorithm (SHA-1 as RFC 5019 clients send, or SHA-2), ``good`` /
``revoked`` / ``unknown`` for this CA's certificates and ``unauthorized`` (RFC 6960 2.3)
for another issuer's. A nonce (RFC 8954) of 1 to 32 octets is echoed; another length is a
``malformedRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from issuer.key_material import IssuerPki

__all__ = ["CertificateState", "OcspQuery", "OcspRequestRejected", "OcspResponder"]

_SUPPORTED_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (
    hashes.SHA1,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)
_MAX_NONCE = 32


class OcspRequestRejected(Exception):
    """The request cannot be answered with a status; ``status`` is the OCSP error status."""

    def __init__(self, status: ocsp.OCSPResponseStatus) -> None:
        super().__init__(status.name)
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class OcspQuery:
    """One parsed OCSP request (RFC 6960 4.1.1 CertID plus the nonce, if any)."""

    serial_number: int
    hash_algorithm: hashes.HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    nonce: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateState:
    """What the database says about one serial number."""

    status: ocsp.OCSPCertStatus
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    @property
    def cache_key(self) -> tuple[str, str, str]:
        revoked = self.revoked_at.isoformat() if self.revoked_at else ""
        reason = self.reason.name if self.reason else ""
        return (self.status.name, revoked, reason)


class OcspResponder:
    """Builds and signs OCSP responses for one issuer CA. Build once; call per request."""

    def __init__(self, pki: IssuerPki, *, freshness: timedelta) -> None:
        self._pki = pki
        self._freshness = freshness
        point = pki.issuer_ca.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        name = pki.issuer_ca.subject.public_bytes()
        # RFC 6960 4.1.1: issuerNameHash over the DER issuer name, issuerKeyHash over the
        # subjectPublicKey BIT STRING value (excluding tag, length and unused bits).
        self._hashes: dict[str, tuple[bytes, bytes]] = {
            algorithm.name: (_digest(algorithm, name), _digest(algorithm, point))
            for algorithm in (cls() for cls in _SUPPORTED_HASHES)
        }

    def parse_request(self, der: bytes) -> OcspQuery:
        """Parse a DER OCSPRequest with exactly one CertID.

        Raises:
            OcspRequestRejected: ``malformedRequest``.
        """
        try:
            request = ocsp.load_der_ocsp_request(der)
            nonce: bytes | None = None
            for extension in request.extensions:
                if isinstance(extension.value, x509.OCSPNonce):
                    nonce = extension.value.nonce
                elif extension.critical:
                    raise OcspRequestRejected(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
            query = OcspQuery(
                serial_number=request.serial_number,
                hash_algorithm=request.hash_algorithm,
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                nonce=nonce,
            )
        except (
            ValueError,
            NotImplementedError,
            x509.DuplicateExtension,
            UnsupportedAlgorithm,  # a CertID hash algorithm cryptography does not know
        ) as exc:
            raise OcspRequestRejected(ocsp.OCSPResponseStatus.MALFORMED_REQUEST) from exc
        if nonce is not None and not 1 <= len(nonce) <= _MAX_NONCE:
            # RFC 8954 2.1: reject nonces of 0 or more than 32 octets.
            raise OcspRequestRejected(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        return query

    def is_ours(self, query: OcspQuery) -> bool:
        """Whether the CertID names this issuer CA (otherwise answer ``unauthorized``)."""
        expected = self._hashes.get(query.hash_algorithm.name)
        return expected is not None and expected == (query.issuer_name_hash, query.issuer_key_hash)

    def respond(
        self,
        *,
        serial_number: int,
        state: CertificateState,
        now: datetime,
        algorithm: hashes.HashAlgorithm | None = None,
        nonce: bytes | None = None,
    ) -> bytes:
        """A signed, successful DER OCSP response about ``serial_number``.

        ``thisUpdate`` is ``now`` and ``nextUpdate`` ``now + freshness`` (RFC 6960 4.2.2.1);
        ``algorithm`` is the CertID hash (default SHA-256).
        """
        algorithm = algorithm or hashes.SHA256()
        name_hash, key_hash = self._hashes[algorithm.name]
        revoked = state.status is ocsp.OCSPCertStatus.REVOKED
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=name_hash,
                issuer_key_hash=key_hash,
                serial_number=serial_number,
                algorithm=algorithm,
                cert_status=state.status,
                this_update=now,
                next_update=now + self._freshness,
                revocation_time=(state.revoked_at or now) if revoked else None,
                revocation_reason=state.reason if revoked else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self._pki.issuer_ca)
        )
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self._pki.issuer_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    @staticmethod
    def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
        """An unsigned error response (RFC 6960 2.3)."""
        return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
            serialization.Encoding.DER
        )


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()
