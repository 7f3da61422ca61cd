"""Name chaining (RFC 5280 6.1.3 (a)(4)) and the DER layout the chain check reads.

The card certificate's issuer must be its CA's subject encoded the same way (RFC 5280
4.1.2.6), compared as DER; a certificate whose issuer decodes to the same name under
other string types is refused with ``untrusted_root``, and one whose issuer does not
decode at all stays ``cert_malformed`` (docs/protocol.md 5.3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type

from certs.chain import ChainVerifier, _layout, load_certificate
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.errors import CertificateMalformed, UntrustedRoot
from tests.certs.vectors import card_data

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> DevPki:
    return DevPki.create(now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def card(pki: DevPki) -> x509.Certificate:
    return CardholderCredential.issue(
        pki,
        card_data("card-data/card.json"),
        now=NOW,
        crl_url="http://issuer.localhost:8001/crl",
        ocsp_url="http://issuer.localhost:8001/ocsp",
    ).certificate


def _reissued(card: x509.Certificate, pki: DevPki, issuer: x509.Name) -> bytes:
    """``card`` with another issuer field, validly signed by the issuer CA."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(card.subject)
        .issuer_name(issuer)
        .public_key(card.public_key())
        .serial_number(card.serial_number)
        .not_valid_before(card.not_valid_before_utc)
        .not_valid_after(card.not_valid_after_utc)
    )
    for extension in card.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    certificate = builder.sign(pki.issuer_key, hashes.SHA256())
    return certificate.public_bytes(Encoding.DER)


def _chain(pki: DevPki, leaf: bytes) -> list[bytes]:
    return [leaf, pki.issuer_ca.public_bytes(Encoding.DER)]


def test_issuer_encoded_as_its_ca_encodes_its_subject_chains(
    pki: DevPki, card: x509.Certificate
) -> None:
    leaf = _reissued(card, pki, pki.issuer_ca.subject)
    verified = ChainVerifier([pki.root]).verify(_chain(pki, leaf), now=NOW)
    assert verified.leaf.issuer == pki.issuer_ca.subject


def test_same_name_in_other_string_types_is_untrusted_root(
    pki: DevPki, card: x509.Certificate
) -> None:
    retyped = x509.Name(
        [
            x509.NameAttribute(a.oid, str(a.value), _type=_ASN1Type.PrintableString)
            for a in pki.issuer_ca.subject
        ]
    )
    assert retyped == pki.issuer_ca.subject  # equal as cryptography compares decoded names
    leaf = _reissued(card, pki, retyped)
    with pytest.raises(UntrustedRoot) as raised:
        ChainVerifier([pki.root]).verify(_chain(pki, leaf), now=NOW)
    assert raised.value.code == "untrusted_root"


def test_other_issuer_name_is_untrusted_root(pki: DevPki, card: x509.Certificate) -> None:
    other = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Another Bank CA")])
    leaf = _reissued(card, pki, other)
    with pytest.raises(UntrustedRoot) as raised:
        ChainVerifier([pki.root]).verify(_chain(pki, leaf), now=NOW)
    assert raised.value.code == "untrusted_root"


def test_undecodable_issuer_name_is_cert_malformed(pki: DevPki, card: x509.Certificate) -> None:
    leaf = _reissued(card, pki, pki.issuer_ca.subject)
    # The issuer's organizationName as an INTEGER (same length): DER still, a bad name.
    layout = _layout(leaf)
    organization = layout.issuer.index(b"\x0c", 10)
    broken_issuer = layout.issuer[:organization] + b"\x02" + layout.issuer[organization + 1 :]
    broken = leaf.replace(layout.issuer, broken_issuer, 1)
    with pytest.raises(CertificateMalformed) as raised:
        ChainVerifier([pki.root]).verify(_chain(pki, broken), now=NOW)
    assert raised.value.code == "cert_malformed"


def test_layout_agrees_with_asn1crypto(pki: DevPki, card: x509.Certificate) -> None:
    for certificate in (card, pki.issuer_ca, pki.root):
        der = certificate.public_bytes(Encoding.DER)
        layout = _layout(der)
        parsed = asn1_x509.Certificate.load(der)
        tbs = parsed["tbs_certificate"]
        assert layout.tbs == certificate.tbs_certificate_bytes == tbs.dump()
        assert layout.issuer == tbs["issuer"].dump()
        assert layout.subject == tbs["subject"].dump()
        assert layout.signature_algorithms_agree
        assert load_certificate(der) == certificate
