"""The issuer's keys: its CA certificate and key, and the two card-data keys.

Data directory layout (docs/issuer.md, "Keys")::

    issuer-ca.pem    issuer CA certificate (signs card certificates, the CRL, OCSP responses)
    issuer-ca.key    its private key, PKCS#8 PEM, mode 0600 (optionally encrypted)
    root-ca.pem      the network root (for operators; not needed to run)
    root-ca.key      dev only: the network root key, made by certs.dev_pki.DevPki
    card-data.key    dev only: AES-256 key for card records, base64url, mode 0600
    pan-lookup.key   dev only: HMAC key for PAN lookups, base64url, mode 0600

In development, missing files are created (a whole :class:`~certs.dev_pki.DevPki` when
there is no issuer CA). In production (``--production``) nothing is generated: missing or
inconsistent key material is refused with a :class:`ConfigurationError` that says what to
provide, and the card-data keys should come from the environment (a secrets manager).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.dev_pki import ISSUER_CERT, ISSUER_KEY, ROOT_CERT, DevPki, read_private_key
from certs.errors import UnsupportedKey
from certs.keys import require_p256
from issuer.card_vault import CardVault
from issuer.settings import ConfigurationError, IssuerSettings
from servicekit.key_files import create_key_file, read_key_file

__all__ = ["IssuerPki", "ensure_data_dir", "load_card_vault", "load_pki"]


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class IssuerPki:
    """The issuer CA as loaded at start-up (the private key never leaves this object)."""

    issuer_ca: x509.Certificate
    issuer_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate | None
    issuer_ca_der: bytes
    issuer_ca_pem: str

    @classmethod
    def of(
        cls,
        issuer_ca: x509.Certificate,
        issuer_key: ec.EllipticCurvePrivateKey,
        root: x509.Certificate | None = None,
    ) -> IssuerPki:
        """Check that the key belongs to the certificate and that it may act as issuer CA.

        Raises:
            ConfigurationError: the key does not match, or the certificate is not a P-256
                CA allowed to sign certificates, CRLs and OCSP responses.
        """
        try:
            public_key = require_p256(issuer_ca.public_key())
        except UnsupportedKey as exc:
            raise ConfigurationError("the issuer CA key must be ECDSA P-256") from exc
        if public_key.public_numbers() != issuer_key.public_key().public_numbers():
            raise ConfigurationError("issuer-ca.key does not belong to issuer-ca.pem")
        try:
            basic = issuer_ca.extensions.get_extension_for_class(x509.BasicConstraints).value
            usage = issuer_ca.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound as exc:
            raise ConfigurationError("issuer-ca.pem lacks basicConstraints or keyUsage") from exc
        # RFC 5280 4.2.1.3/4.2.1.9; RFC 6960 4.2.2.2 (the CA signs its own OCSP responses).
        if not basic.ca or not (usage.key_cert_sign and usage.crl_sign and usage.digital_signature):
            raise ConfigurationError(
                "issuer-ca.pem must be a CA certificate with keyCertSign, cRLSign and "
                "digitalSignature"
            )
        return cls(
            issuer_ca=issuer_ca,
            issuer_key=issuer_key,
            root=root,
            issuer_ca_der=issuer_ca.public_bytes(serialization.Encoding.DER),
            issuer_ca_pem=issuer_ca.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        )

    def __repr__(self) -> str:
        return f"IssuerPki(issuer_ca={self.issuer_ca.subject.rfc4514_string()!r})"


def ensure_data_dir(settings: IssuerSettings) -> Path:
    """Create the data directory (mode 0700) when missing; return it."""
    directory = settings.data_dir
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def load_pki(settings: IssuerSettings, *, now: datetime) -> IssuerPki:
    """Load the issuer CA from the data directory; in dev, create a DevPki when missing.

    Raises:
        ConfigurationError: missing in production, incomplete, unreadable or inconsistent.
    """
    directory = settings.data_dir
    cert_path, key_path = directory / ISSUER_CERT, directory / ISSUER_KEY
    if not cert_path.exists() and not key_path.exists():
        if settings.production:
            raise ConfigurationError(
                f"no issuer CA in {directory}: production mode never generates one. Provide "
                f"{cert_path} (signed by your network root) and {key_path} (PKCS#8 PEM, "
                "mode 0600; set ISSUER_CA_KEY_PASSPHRASE if it is encrypted)"
            )
        ensure_data_dir(settings)
        DevPki.create(now=now, issuer_name=settings.issuer_name).save(
            directory, settings.ca_key_passphrase
        )
    if not cert_path.is_file() or not key_path.is_file():
        raise ConfigurationError(f"{directory} must hold both {ISSUER_CERT} and {ISSUER_KEY}")
    if settings.production and key_path.stat().st_mode & 0o077:
        raise ConfigurationError(f"{key_path} must be readable by its owner only (chmod 600)")
    try:
        issuer_ca = x509.load_pem_x509_certificate(cert_path.read_bytes())
        issuer_key = read_private_key(key_path, settings.ca_key_passphrase)
        root_path = directory / ROOT_CERT
        root = (
            x509.load_pem_x509_certificate(root_path.read_bytes()) if root_path.exists() else None
        )
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the issuer CA in {directory} (wrong passphrase or not PEM)"
        ) from exc
    if issuer_ca.not_valid_after_utc <= now:
        raise ConfigurationError(f"{cert_path} has expired")
    return IssuerPki.of(issuer_ca, issuer_key, root)


def load_card_vault(settings: IssuerSettings) -> CardVault:
    """The card vault with keys from the settings, the key files, or (dev) new key files.

    Raises:
        ConfigurationError: a key is missing in production, or a key file is malformed.
    """
    data_key = _key(settings, settings.card_data_key, settings.card_data_key_file, "CARD_DATA_KEY")
    lookup_key = _key(
        settings, settings.pan_lookup_key, settings.pan_lookup_key_file, "PAN_LOOKUP_KEY"
    )
    try:
        return CardVault(data_key=data_key, lookup_key=lookup_key)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc


def _key(settings: IssuerSettings, configured: bytes | None, path: Path, variable: str) -> bytes:
    if configured is not None:
        return configured
    if path.exists():
        return read_key_file(path, error=ConfigurationError)
    if settings.production:
        raise ConfigurationError(
            f"set ISSUER_{variable} (32 random bytes, unpadded base64url) or provide {path}; "
            "production mode never generates keys"
        )
    ensure_data_dir(settings)
    return create_key_file(path, error=ConfigurationError)
