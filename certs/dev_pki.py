"""A development PKI on disk: a network root, one issuer CA, and test cards.

``cardcert pki init DIR`` writes::

    DIR/root-ca.pem      network root certificate (the merchant's trust anchor)
    DIR/root-ca.key      its private key, PKCS#8 PEM, mode 0600
    DIR/issuer-ca.pem    issuer CA certificate
    DIR/issuer-ca.key    its private key, PKCS#8 PEM, mode 0600

Keys are written with mode 0600 and, when a passphrase is given, encrypted with
``BestAvailableEncryption``. This is for development and tests; a production issuer
keeps its CA key in an HSM and a network keeps its root offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from certs.profile import make_issuer_ca, make_root_ca

__all__ = ["DevPki", "read_private_key", "write_private_key"]

ROOT_CERT = "root-ca.pem"
ROOT_KEY = "root-ca.key"
ISSUER_CERT = "issuer-ca.pem"
ISSUER_KEY = "issuer-ca.key"


def write_private_key(
    path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None
) -> None:
    """Write a PKCS#8 PEM key readable by its owner only (created 0600, never wider)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)


def read_private_key(path: Path, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return key


def _write_cert(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True, slots=True, kw_only=True)
class DevPki:
    """A root and an issuer CA with their keys, in memory."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    issuer_ca: x509.Certificate
    issuer_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(
        cls,
        *,
        now: datetime,
        network_name: str = "cardcert Demo Network",
        issuer_name: str = "Demo Bank",
    ) -> DevPki:
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = make_root_ca(
            root_key, common_name=f"{network_name} Root CA", organization=network_name, now=now
        )
        issuer_key = ec.generate_private_key(ec.SECP256R1())
        issuer_ca = make_issuer_ca(
            issuer_key.public_key(),
            root_key=root_key,
            root=root,
            common_name=f"{issuer_name} Card Issuer CA",
            organization=issuer_name,
            now=now,
        )
        return cls(root=root, root_key=root_key, issuer_ca=issuer_ca, issuer_key=issuer_key)

    def save(self, directory: Path, passphrase: bytes | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_cert(directory / ROOT_CERT, self.root)
        write_private_key(directory / ROOT_KEY, self.root_key, passphrase)
        _write_cert(directory / ISSUER_CERT, self.issuer_ca)
        write_private_key(directory / ISSUER_KEY, self.issuer_key, passphrase)

    @classmethod
    def load(cls, directory: Path, passphrase: bytes | None = None) -> DevPki:
        return cls(
            root=x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes()),
            root_key=read_private_key(directory / ROOT_KEY, passphrase),
            issuer_ca=x509.load_pem_x509_certificate((directory / ISSUER_CERT).read_bytes()),
            issuer_key=read_private_key(directory / ISSUER_KEY, passphrase),
        )

    def good_status(
        self, certificate: x509.Certificate, *, this_update: datetime, next_update: datetime
    ) -> bytes:
        """A DER OCSP response saying ``good``, signed by the issuer CA (RFC 6960 4.2.2.2).

        What a Service Worker staples; for tools, benchmarks and tests without an issuer.
        """
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=certificate,
                issuer=self.issuer_ca,
                algorithm=hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID, not a signature
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=this_update,
                next_update=next_update,
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer_ca)
            .sign(self.issuer_key, hashes.SHA256())
        )
        return response.public_bytes(serialization.Encoding.DER)

    @staticmethod
    def exists(directory: Path) -> bool:
        return all(
            (directory / name).is_file() for name in (ROOT_CERT, ROOT_KEY, ISSUER_CERT, ISSUER_KEY)
        )
