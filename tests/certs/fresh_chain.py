"""A chain minted now by the production code, written as PEM files for external tools."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.oids import ARC
from tests.certs.vectors import card_data

__all__ = ["FreshChain", "mint_fresh_chain"]


@dataclass(frozen=True)
class FreshChain:
    """PEM files of a root, an issuer CA and a card certificate minted at ``now``."""

    now: datetime
    root: Path
    issuer: Path
    card: Path
    card_documentation_arc: Path


def _pem(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def mint_fresh_chain(directory: Path) -> FreshChain:
    """DevPki + CardholderCredential.issue at the wall-clock time, with the vectors' card."""
    now = datetime.now(UTC).replace(microsecond=0)
    pki = DevPki.create(now=now)
    credential = CardholderCredential.issue(
        pki,
        card_data("card-data/card.json"),
        now=now,
        crl_url="http://issuer.localhost:8001/crl/demo.crl",
        ocsp_url="http://issuer.localhost:8001/ocsp",
    )
    return FreshChain(
        now=now,
        root=_pem(directory / "root.pem", pki.root),
        issuer=_pem(directory / "issuer.pem", pki.issuer_ca),
        card=_pem(directory / "card.pem", credential.certificate),
        card_documentation_arc=_pem(
            directory / "card-documentation-arc.pem",
            documentation_arc_twin(credential.certificate, pki),
        ),
    )


# RFC 5612: IANA's Private Enterprise Number for documentation, small arcs that every
# X.509 stack decodes. Used only to lint the profile apart from the size of its arcs.
DOCUMENTATION_ARC = "1.3.6.1.4.1.32473"


def _twin_oid(oid: x509.ObjectIdentifier) -> x509.ObjectIdentifier:
    if oid.dotted_string.startswith(ARC + "."):
        return x509.ObjectIdentifier(DOCUMENTATION_ARC + oid.dotted_string[len(ARC) :])
    return oid


def _twin_extension(value: x509.ExtensionType) -> x509.ExtensionType:
    if isinstance(value, x509.ExtendedKeyUsage):
        return x509.ExtendedKeyUsage([_twin_oid(oid) for oid in value])
    if isinstance(value, x509.CertificatePolicies):
        return x509.CertificatePolicies(
            [x509.PolicyInformation(_twin_oid(p.policy_identifier), None) for p in value]
        )
    if isinstance(value, x509.UnrecognizedExtension):
        return x509.UnrecognizedExtension(_twin_oid(value.oid), value.value)
    return value


def documentation_arc_twin(card: x509.Certificate, pki: DevPki) -> x509.Certificate:
    """The card certificate with cardcert's 2.25 arc replaced by the documentation arc.

    Every other byte of the profile (names, validity, extensions and their criticality,
    the digest extension's contents) is the same, so linting the twin lints the profile.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(card.subject)
        .issuer_name(card.issuer)
        .public_key(card.public_key())  # type: ignore[arg-type]
        .serial_number(card.serial_number)
        .not_valid_before(card.not_valid_before_utc)
        .not_valid_after(card.not_valid_after_utc)
    )
    for extension in card.extensions:
        builder = builder.add_extension(_twin_extension(extension.value), extension.critical)
    return builder.sign(pki.issuer_key, hashes.SHA256())
