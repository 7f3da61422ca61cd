"""Write the certificate path negatives under ``tests/vectors/paths/`` (a checked-in generator).

Run from the repository root::

    PYTHONPATH=. .venv/bin/python scripts/make_path_vectors.py          # (re)write
    PYTHONPATH=. .venv/bin/python scripts/make_path_vectors.py --check  # exit 1 when stale

In the spirit of NIST's PKITS suite: one valid ``network root -> issuer CA -> card
certificate`` path, minted by the production code (:mod:`certs.profile`), and negatives
that each break one rule of RFC 5280 or of the card-certificate profile
(docs/protocol.md, section 5). Keys, serials and the clock are fixed and every signature
is deterministic ECDSA (RFC 6979), through the helpers of ``scripts/make_vectors.py``, so
two runs write identical bytes. What ``CertificateBuilder`` refuses to write (duplicate
extensions, a negative serial, reversed validity, inner and outer signature algorithms
that differ) is made by editing the TBS certificate with asn1crypto and re-signing it with
the right key.

``tests/vectors/paths/manifest.json`` lists every case: what it breaks, the files of the
path, the stable error code cardcert must reject it with, and what ``openssl verify``
answers (the errors it prints, or, where it accepts by design, why).
``tests/hardening/test_path_negatives.py`` checks both.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID
from make_vectors import (
    AMOUNT,
    CARD_INPUT,
    CHECKOUT_ID,
    CURRENCY,
    MERCHANT_NAME,
    NONCE,
    NOW,
    ORIGIN,
    PKI_NOW,
    SIGNED_AT,
    Pki,
    der,
    edit_tbs,
    make_pki,
    mint,
    ocsp_response,
    p256_key,
    p384_key,
    rebuild,
    secret,
    serial,
    sign_raw,
    sync_files,
)

from certs.card_data import CardData
from certs.card_digest import card_data_digest
from certs.digest_extension import encode_digest_extension
from certs.keys import der_fingerprint
from certs.oids import ARC, CARD_DATA_DIGEST_EXTENSION
from certs.presentation import Presentation
from certs.profile import make_issuer_ca
from certs.transaction import TransactionDescription

ROOT = Path(__file__).resolve().parent.parent
PATHS = ROOT / "tests" / "vectors" / "paths"

OPENSSL_COMMAND = (
    "openssl verify -x509_strict -auth_level 3 -attime <now, epoch seconds> "
    "-CAfile <root> [-untrusted <each untrusted>] <target>"
)
_UNHANDLED_CRITICAL = x509.ObjectIdentifier(f"{ARC}.99.1")
# Why openssl verify accepts what cardcert's profile rejects (kept to the few it must).
_SHA512_ACCEPTED = (
    "ecdsa-with-SHA512 is a valid signature algorithm above the 128-bit level (RFC 5758 3.2); "
    "only cardcert's profile pins ecdsa-with-SHA256, and no openssl verify option says so"
)
_PRIVATE_DUPLICATE_ACCEPTED = (
    "OpenSSL flags duplicates only of extensions it has a NID for; the private cardDataDigest "
    "OID has none (a duplicate basicConstraints is rejected: card_duplicate_extension)"
)
_SERIAL_ACCEPTED = (
    "openssl verify does not check serial numbers; RFC 5280 4.1.2.2 asks CAs for positive "
    "serials and verifiers to 'gracefully handle' others, and cardcert's profile rejects them"
)
_NAME_ENCODING_ACCEPTED = (
    "OpenSSL compares names in a canonical form (RFC 5280 7.1: string types and case folded), "
    "so the same values under another string type chain; cardcert compares the DER, which "
    "RFC 5280 4.1.2.6 asks CAs to repeat exactly"
)
_P384_ACCEPTED = (
    "P-384 is a valid curve above the 128-bit level (-auth_level 3); only cardcert's profile "
    "pins P-256, the curve of the WebCrypto keys the Service Worker makes"
)
_MISSING_DIGEST_ACCEPTED = (
    "cardDataDigest is a private non-critical extension by design (docs/protocol.md 5.3): a "
    "generic validator cannot know that cardcert requires it"
)
# cryptography warns (and the suite turns warnings into errors) when it parses these.
_NON_POSITIVE_SERIAL_WARNING = "Parsed a serial number which wasn't positive"
_CA_KEY_USAGE = {
    "digital_signature": True,
    "content_commitment": False,
    "key_encipherment": False,
    "data_encipherment": False,
    "key_agreement": False,
    "key_cert_sign": True,
    "crl_sign": True,
    "encipher_only": False,
    "decipher_only": False,
}


# --- DER edits --------------------------------------------------------------------------


class _RawCertificate(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """Certificate with an opaque TBS, to sign a TBS that no builder would write."""

    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("tbs_certificate", core.Any),
        ("signature_algorithm", algos.SignedDigestAlgorithm),
        ("signature_value", core.OctetBitString),
    ]


def _algorithm(name: str) -> algos.SignedDigestAlgorithm:
    # RFC 5758 3.2: ecdsa-with-SHA* has no parameters; RFC 4055 5: RSA ones carry NULL.
    if name.endswith("_rsa"):
        return algos.SignedDigestAlgorithm({"algorithm": name, "parameters": core.Null()})
    return algos.SignedDigestAlgorithm({"algorithm": name})


def sign_tbs(
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    *,
    hash_algorithm: hashes.HashAlgorithm,
    inner: str,
    outer: str,
) -> bytes:
    """``certificate`` with TBS ``signature`` = ``inner``, ``signatureAlgorithm`` = ``outer``.

    The signature is a valid deterministic ECDSA signature with ``hash_algorithm`` by
    ``key`` over the edited TBS, whatever the two fields claim.
    """
    tbs = asn1_x509.TbsCertificate.load(certificate.tbs_certificate_bytes)
    tbs["signature"] = _algorithm(inner)
    tbs_der = bytes(tbs.dump(force=True))
    signature = key.sign(tbs_der, ec.ECDSA(hash_algorithm, deterministic_signing=True))
    return bytes(
        _RawCertificate(
            {
                "tbs_certificate": core.Any.load(tbs_der),
                "signature_algorithm": _algorithm(outer),
                "signature_value": signature,
            }
        ).dump()
    )


def _utc(when: datetime) -> asn1_x509.Time:
    # RFC 5280 4.1.2.5: UTCTime through 2049.
    return asn1_x509.Time(name="utc_time", value=when)


def with_validity(
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    *,
    not_before: datetime,
    not_after: datetime,
    serial_number: int,
) -> bytes:
    """Re-sign with another validity (in any order, which ``CertificateBuilder`` refuses)."""

    def edit(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["serial_number"] = serial_number
        tbs["validity"] = asn1_x509.Validity(
            {"not_before": _utc(not_before), "not_after": _utc(not_after)}
        )

    return edit_tbs(certificate, key, edit)


def with_serial(
    certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey, value: int
) -> bytes:
    def edit(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["serial_number"] = value

    return edit_tbs(certificate, key, edit)


def with_issuer(
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    issuer: dict[str, str],
    *,
    printable: bool = False,
) -> bytes:
    """``certificate`` re-signed with another issuer Name (UTF8String values, or
    PrintableString with ``printable``)."""

    def edit(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["issuer"] = asn1_x509.Name.build(issuer, use_printable=printable)

    return edit_tbs(certificate, key, edit)


def with_extra_extension(
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    extension: asn1_x509.Extension,
    serial_number: int | None = None,
) -> bytes:
    """Append ``extension`` even when one with its OID is already there."""

    def edit(tbs: asn1_x509.TbsCertificate) -> None:
        if serial_number is not None:
            tbs["serial_number"] = serial_number
        present = [asn1_x509.Extension.load(item.dump()) for item in tbs["extensions"]]
        tbs["extensions"] = asn1_x509.Extensions([*present, extension])

    return edit_tbs(certificate, key, edit)


# --- output ---------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pem(data: bytes) -> bytes:
    """PEM armour for DER bytes, whatever they hold (some of them no parser accepts)."""
    return ssl.DER_cert_to_PEM_cert(data).encode("ascii")


@dataclass(frozen=True, kw_only=True)
class OpensslRejects:
    """``openssl verify`` fails and prints these ``(error, depth, message)`` lines, in order.

    The numbers are OpenSSL's ``X509_V_ERR_*`` codes; the test compares all three, so a
    change in what openssl finds (not only whether it fails) is noticed.
    """

    errors: tuple[tuple[int, int, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "accepts": False,
            "errors": [
                {"error": error, "depth": depth, "message": message}
                for error, depth, message in self.errors
            ],
        }


def rejects(*errors: tuple[int, int, str]) -> OpensslRejects:
    return OpensslRejects(errors=errors)


@dataclass(frozen=True, kw_only=True)
class OpensslAccepts:
    """``openssl verify`` accepts; ``reason`` says why (required when cardcert rejects)."""

    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"accepts": True, **({"reason": self.reason} if self.reason else {})}


@dataclass
class PathVectors:
    files: dict[str, bytes] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes) -> str:
        if self.files.get(path, data) != data:
            raise RuntimeError(f"{path} written twice with different content")
        self.files[path] = data
        return path

    def cert(self, path: str, certificate: x509.Certificate | bytes) -> str:
        data = der(certificate) if isinstance(certificate, x509.Certificate) else certificate
        return self.add(path, _pem(data))


def generate() -> PathVectors:
    v = PathVectors()
    card = CardData.parse(
        pan=CARD_INPUT["pan"],
        expiry=CARD_INPUT["expiry"],
        security_code=CARD_INPUT["security_code"],
        name=CARD_INPUT["name"],
    )
    card_secret = secret("paths")
    v.add("card-data.json", _json_bytes(CARD_INPUT))
    pki = make_pki("paths", network="cardcert Path Network", bank="Path Bank")
    card_key = p256_key("paths/card")
    leaf = mint("paths/card", pki, key=card_key, card=card, card_secret=card_secret)
    other_key = p256_key("paths/other-key")

    root = v.cert("pki/root-ca.pem", pki.root)
    issuer = v.cert("pki/issuer-ca.pem", pki.issuer_ca)
    card_file = v.cert("certs/card.pem", leaf)

    def signed_presentation(
        path: str,
        chain: tuple[bytes, ...],
        key: ec.EllipticCurvePrivateKey,
        status: bytes | None = None,
    ) -> str:
        transaction = TransactionDescription.build(
            merchant_origin=ORIGIN,
            merchant_name=MERCHANT_NAME,
            amount=AMOUNT,
            currency=CURRENCY,
            checkout_id=CHECKOUT_ID,
            nonce=NONCE,
            signed_at=SIGNED_AT,
            certificate_fingerprint=der_fingerprint(chain[0]),
        )
        wire = Presentation(
            transaction=transaction,
            signature=sign_raw(key, transaction.raw),
            certificate_chain=chain,
            status=status,
            card_data_secret=card_secret,
        ).to_json()
        return v.add(path, _json_bytes(wire))

    def case(
        name: str,
        *,
        breaks: str,
        rule: str,
        expected: str,
        openssl: OpensslRejects | OpensslAccepts,
        root_file: str = root,
        untrusted: tuple[str, ...] = (issuer,),
        target: str = card_file,
        key: ec.EllipticCurvePrivateKey = card_key,
        status: bytes | None = None,
        ignore_warnings: tuple[str, ...] = (),
    ) -> None:
        if any(existing["name"] == name for existing in v.cases):
            raise RuntimeError(f"duplicate case {name}")
        if expected != "ok" and isinstance(openssl, OpensslAccepts) and not openssl.reason:
            raise RuntimeError(f"{name}: say why openssl accepts what cardcert rejects")
        chain = tuple(
            ssl.PEM_cert_to_DER_cert(v.files[path].decode("ascii")) for path in (target, *untrusted)
        )
        presentation = signed_presentation(
            f"presentations/{name.replace('_', '-')}.json", chain, key, status
        )
        entry: dict[str, Any] = {
            "name": name,
            "breaks": breaks,
            "rule": rule,
            "expected": expected,
            "files": {
                "root": root_file,
                "untrusted": list(untrusted),
                "target": target,
                "presentation": presentation,
            },
            "openssl": openssl.to_json(),
        }
        if ignore_warnings:
            entry["ignore_warnings"] = list(ignore_warnings)
        v.cases.append(entry)

    def issuer_variant(
        name: str,
        *,
        replace: dict[x509.ObjectIdentifier, tuple[x509.ExtensionType, bool]] | None = None,
        remove: tuple[x509.ObjectIdentifier, ...] = (),
        add: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    ) -> str:
        """The issuer CA (same name and key, so the card chains to it) with one change."""
        variant = rebuild(
            pki.issuer_ca,
            signing_key=pki.root_key,
            serial_number=serial(f"paths/{name}"),
            replace=replace,
            remove=remove,
            add=add,
        )
        return v.cert(f"pki/{name.replace('_', '-')}.pem", variant)

    def card_variant(name: str, certificate: x509.Certificate | bytes) -> str:
        return v.cert(f"certs/{name.replace('_', '-')}.pem", certificate)

    unknown_critical = x509.UnrecognizedExtension(_UNHANDLED_CRITICAL, b"\x05\x00")

    # --- the valid control path --------------------------------------------------------
    case(
        "ok",
        breaks="nothing: the valid control path (good stapled OCSP response)",
        rule="RFC 5280 6.1; docs/protocol.md 5",
        expected="ok",
        openssl=OpensslAccepts(),
        status=ocsp_response(leaf, pki),
    )

    # --- signature algorithm (RFC 5280 4.1.1.2, 6.1.3 (a)(1); RFC 5758 3.2) -------------
    case(
        "card_signed_ecdsa_sha1",
        breaks="the card certificate is signed with ecdsa-with-SHA1 (both fields say so)",
        rule="docs/protocol.md 5: ecdsa-with-SHA256 only (RFC 5758 3.2)",
        expected="cert_profile_violation",
        openssl=rejects((68, 0, "CA signature digest algorithm too weak")),
        target=card_variant(
            "card_signed_ecdsa_sha1",
            sign_tbs(
                leaf,
                pki.issuer_key,
                hash_algorithm=hashes.SHA1(),  # noqa: S303 - the weak algorithm is the case
                inner="sha1_ecdsa",
                outer="sha1_ecdsa",
            ),
        ),
    )
    case(
        "card_signed_ecdsa_sha512",
        breaks="the card certificate is signed with ecdsa-with-SHA512 (both fields say so)",
        rule="docs/protocol.md 5: ecdsa-with-SHA256 only (RFC 5758 3.2)",
        expected="cert_profile_violation",
        openssl=OpensslAccepts(reason=_SHA512_ACCEPTED),
        target=card_variant(
            "card_signed_ecdsa_sha512",
            sign_tbs(
                leaf,
                pki.issuer_key,
                hash_algorithm=hashes.SHA512(),
                inner="sha512_ecdsa",
                outer="sha512_ecdsa",
            ),
        ),
    )
    case(
        "card_signature_algorithm_rsa",
        breaks="both algorithm fields say sha256WithRSAEncryption over an ECDSA P-256 signature",
        rule="RFC 5280 6.1.3 (a)(1): the issuer key is ECDSA",
        expected="cert_profile_violation",
        openssl=rejects((20, 0, "unable to get local issuer certificate")),
        target=card_variant(
            "card_signature_algorithm_rsa",
            sign_tbs(
                leaf,
                pki.issuer_key,
                hash_algorithm=hashes.SHA256(),
                inner="sha256_rsa",
                outer="sha256_rsa",
            ),
        ),
    )
    case(
        "card_signature_algorithm_mismatch",
        breaks="TBS signature says ecdsa-with-SHA512, signatureAlgorithm ecdsa-with-SHA256 "
        "(the signature is a valid SHA-256 one)",
        rule="RFC 5280 4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature",
        expected="cert_malformed",
        openssl=rejects(
            (78, 0, "cert info signature and signature algorithm mismatch"),
            (7, 0, "certificate signature failure"),
        ),
        target=card_variant(
            "card_signature_algorithm_mismatch",
            sign_tbs(
                leaf,
                pki.issuer_key,
                hash_algorithm=hashes.SHA256(),
                inner="sha512_ecdsa",
                outer="sha256_ecdsa",
            ),
        ),
    )
    case(
        "issuer_ca_signature_algorithm_mismatch",
        breaks="the issuer CA's TBS signature says ecdsa-with-SHA512, its signatureAlgorithm "
        "ecdsa-with-SHA256",
        rule="RFC 5280 4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature",
        expected="cert_malformed",
        openssl=rejects(
            (78, 1, "cert info signature and signature algorithm mismatch"),
            (7, 1, "certificate signature failure"),
        ),
        untrusted=(
            v.cert(
                "pki/issuer-ca-signature-algorithm-mismatch.pem",
                sign_tbs(
                    pki.issuer_ca,
                    pki.root_key,
                    hash_algorithm=hashes.SHA256(),
                    inner="sha512_ecdsa",
                    outer="sha256_ecdsa",
                ),
            ),
        ),
    )

    # --- basic constraints, path length, key usage (RFC 5280 6.1.4 (k)-(n)) --------------
    case(
        "issuer_ca_not_a_ca",
        breaks="the issuer CA has basicConstraints cA FALSE",
        rule="RFC 5280 6.1.4 (k)",
        expected="cert_profile_violation",
        openssl=rejects(
            (79, 1, "invalid CA certificate"),
            (82, 1, "Key usage keyCertSign invalid for non-CA cert"),
        ),
        untrusted=(
            issuer_variant(
                "issuer_ca_not_a_ca",
                replace={
                    ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(False, None), True)
                },
            ),
        ),
    )
    case(
        "issuer_ca_basic_constraints_not_critical",
        breaks="the issuer CA's basicConstraints (cA TRUE) is not marked critical",
        rule="RFC 5280 4.2.1.9: MUST be critical in CA certificates that sign certificates",
        expected="cert_profile_violation",
        openssl=rejects((89, 1, "Basic Constraints of CA cert not marked critical")),
        untrusted=(
            issuer_variant(
                "issuer_ca_basic_constraints_not_critical",
                replace={ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(True, 0), False)},
            ),
        ),
    )
    root_path_len_0 = rebuild(
        pki.root,
        signing_key=pki.root_key,
        serial_number=serial("paths/root-path-len-0"),
        replace={ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(True, 0), True)},
    )
    case(
        "root_path_len_0",
        breaks="the network root says pathLenConstraint 0, yet the issuer CA sits below it",
        rule="RFC 5280 4.2.1.9, 6.1.4 (l)",
        expected="cert_profile_violation",
        openssl=rejects((25, 2, "path length constraint exceeded")),
        root_file=v.cert("pki/root-ca-path-len-0.pem", root_path_len_0),
    )
    intermediate_key = p256_key("paths/intermediate")
    intermediate = rebuild(
        make_issuer_ca(
            intermediate_key.public_key(),
            root_key=pki.root_key,
            root=pki.root,
            common_name="cardcert Path Network Intermediate CA",
            organization="cardcert Path Network",
            now=PKI_NOW,
        ),
        signing_key=pki.root_key,
        serial_number=serial("paths/intermediate"),
        replace={ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(True, None), True)},
    )
    issuer_below_intermediate = rebuild(
        make_issuer_ca(
            pki.issuer_key.public_key(),
            root_key=intermediate_key,
            root=intermediate,
            common_name="Path Bank Card Issuer CA",
            organization="Path Bank",
            now=PKI_NOW,
        ),
        signing_key=intermediate_key,
        serial_number=serial("paths/issuer-below-intermediate"),
    )
    case(
        "path_len_extra_intermediate",
        breaks="an extra CA between the root (pathLen 1) and the issuer CA: "
        "root -> intermediate -> issuer CA -> card",
        rule="RFC 5280 6.1.4 (l); docs/protocol.md 5.1: root pathLen 1",
        expected="untrusted_root",
        openssl=rejects((25, 3, "path length constraint exceeded")),
        untrusted=(
            v.cert("pki/issuer-ca-below-intermediate.pem", issuer_below_intermediate),
            v.cert("pki/intermediate-ca.pem", intermediate),
        ),
    )
    sub_ca_key = p256_key("paths/sub-ca")
    sub_ca = rebuild(
        make_issuer_ca(
            sub_ca_key.public_key(),
            root_key=pki.issuer_key,
            root=pki.issuer_ca,
            common_name="Path Bank Sub CA",
            organization="Path Bank",
            now=PKI_NOW,
        ),
        signing_key=pki.issuer_key,
        serial_number=serial("paths/sub-ca"),
    )
    sub_pki = Pki(
        label="paths/sub-ca",
        root=pki.root,
        root_key=pki.root_key,
        issuer_ca=sub_ca,
        issuer_key=sub_ca_key,
    )
    case(
        "issuer_ca_path_len_0_sub_ca",
        breaks="the issuer CA (pathLen 0) issued a sub-CA that issued the card certificate",
        rule="RFC 5280 6.1.4 (l)",
        expected="untrusted_root",
        openssl=rejects(
            (25, 2, "path length constraint exceeded"), (25, 3, "path length constraint exceeded")
        ),
        untrusted=(v.cert("pki/sub-ca.pem", sub_ca), issuer),
        target=card_variant(
            "card_below_sub_ca",
            mint(
                "paths/card-below-sub-ca", sub_pki, key=card_key, card=card, card_secret=card_secret
            ),
        ),
    )
    case(
        "issuer_ca_without_key_usage",
        breaks="the issuer CA has no keyUsage extension",
        rule="RFC 5280 4.2.1.3 (MUST be present in CA certificates), 6.1.4 (n)",
        expected="cert_profile_violation",
        openssl=rejects(
            (81, 1, "Path length given without key usage keyCertSign"),
            (92, 1, "CA cert does not include key usage extension"),
        ),
        untrusted=(
            issuer_variant("issuer_ca_without_key_usage", remove=(ExtensionOID.KEY_USAGE,)),
        ),
    )
    case(
        "issuer_ca_without_key_cert_sign",
        breaks="the issuer CA's keyUsage lacks keyCertSign",
        rule="RFC 5280 6.1.4 (n)",
        expected="cert_profile_violation",
        openssl=rejects(
            (79, 1, "invalid CA certificate"),
            (81, 1, "Path length given without key usage keyCertSign"),
            (32, 1, "key usage does not include certificate signing"),
        ),
        untrusted=(
            issuer_variant(
                "issuer_ca_without_key_cert_sign",
                replace={
                    ExtensionOID.KEY_USAGE: (
                        x509.KeyUsage(**{**_CA_KEY_USAGE, "key_cert_sign": False}),
                        True,
                    )
                },
            ),
        ),
    )
    root_without_key_cert_sign = rebuild(
        pki.root,
        signing_key=pki.root_key,
        serial_number=serial("paths/root-without-key-cert-sign"),
        replace={
            ExtensionOID.KEY_USAGE: (
                x509.KeyUsage(**{**_CA_KEY_USAGE, "key_cert_sign": False}),
                True,
            )
        },
    )
    case(
        "root_without_key_cert_sign",
        breaks="the network root's keyUsage lacks keyCertSign",
        rule="RFC 5280 4.2.1.3, 6.1.4 (n)",
        expected="cert_profile_violation",
        openssl=rejects(
            (79, 2, "invalid CA certificate"),
            (81, 2, "Path length given without key usage keyCertSign"),
            (32, 2, "key usage does not include certificate signing"),
        ),
        root_file=v.cert("pki/root-ca-without-key-cert-sign.pem", root_without_key_cert_sign),
    )

    # --- name and key chaining (RFC 5280 6.1.3 (a)(4), 4.2.1.1) ---------------------------
    case(
        "card_issuer_name_mismatch",
        breaks="the card certificate's issuer Name is not the issuer CA's subject "
        "(signature, AKI and everything else right)",
        rule="RFC 5280 6.1.3 (a)(4)",
        expected="untrusted_root",
        openssl=rejects((20, 0, "unable to get local issuer certificate")),
        target=card_variant(
            "card_issuer_name_mismatch",
            with_issuer(
                leaf,
                pki.issuer_key,
                {"organization_name": "Path Bank", "common_name": "Path Bank Other Issuer CA"},
            ),
        ),
    )
    case(
        "card_issuer_name_other_string_types",
        breaks="the card certificate's issuer Name is the issuer CA's subject with the same "
        "values as PrintableString, where the CA's subject has UTF8String",
        rule="RFC 5280 4.1.2.6: a CA encodes its subject 'in the same way' in the issuer "
        "field of what it issues; names chain as DER (docs/protocol.md 5.2)",
        expected="untrusted_root",
        openssl=OpensslAccepts(reason=_NAME_ENCODING_ACCEPTED),
        target=card_variant(
            "card_issuer_name_other_string_types",
            with_issuer(
                leaf,
                pki.issuer_key,
                {"organization_name": "Path Bank", "common_name": "Path Bank Card Issuer CA"},
                printable=True,
            ),
        ),
    )
    case(
        "card_aki_mismatch",
        breaks="the card certificate's authorityKeyIdentifier names another key",
        rule="RFC 5280 4.2.1.1",
        expected="untrusted_root",
        openssl=rejects((20, 0, "unable to get local issuer certificate")),
        target=card_variant(
            "card_aki_mismatch",
            rebuild(
                leaf,
                signing_key=pki.issuer_key,
                replace={
                    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: (
                        x509.AuthorityKeyIdentifier.from_issuer_public_key(other_key.public_key()),
                        False,
                    )
                },
            ),
        ),
    )
    case(
        "card_without_aki",
        breaks="the card certificate has no authorityKeyIdentifier",
        rule="RFC 5280 4.2.1.1: MUST be included in all but self-signed certificates",
        expected="cert_profile_violation",
        openssl=rejects((85, 0, "Missing Authority Key Identifier")),
        target=card_variant(
            "card_without_aki",
            rebuild(
                leaf, signing_key=pki.issuer_key, remove=[ExtensionOID.AUTHORITY_KEY_IDENTIFIER]
            ),
        ),
    )
    case(
        "issuer_ca_aki_mismatch",
        breaks="the issuer CA's authorityKeyIdentifier is not the root's subjectKeyIdentifier",
        rule="RFC 5280 4.2.1.1",
        expected="untrusted_root",
        openssl=rejects((20, 1, "unable to get local issuer certificate")),
        untrusted=(
            issuer_variant(
                "issuer_ca_aki_mismatch",
                replace={
                    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: (
                        x509.AuthorityKeyIdentifier.from_issuer_public_key(other_key.public_key()),
                        False,
                    )
                },
            ),
        ),
    )
    used_as_ca = mint(
        "paths/card-used-as-ca",
        Pki(
            label="paths/card-as-ca",
            root=pki.root,
            root_key=pki.root_key,
            issuer_ca=leaf,
            issuer_key=card_key,
        ),
        key=other_key,
        card=card,
        card_secret=card_secret,
    )
    case(
        "card_used_as_ca",
        breaks="a certificate issued by the card key: root -> issuer CA -> card -> certificate",
        rule="RFC 5280 6.1.4 (k), 4.2.1.9: the card certificate has cA FALSE",
        expected="untrusted_root",
        openssl=rejects(
            (79, 1, "invalid CA certificate"),
            (25, 2, "path length constraint exceeded"),
            (25, 3, "path length constraint exceeded"),
            (32, 1, "key usage does not include certificate signing"),
        ),
        untrusted=(card_file, issuer),
        target=card_variant("card_used_as_ca", used_as_ca),
        key=other_key,
    )

    # --- critical and duplicate extensions (RFC 5280 4.2, 6.1.5) --------------------------
    case(
        "card_unknown_critical_extension",
        breaks="the card certificate carries a critical extension no verifier knows",
        rule="RFC 5280 4.2",
        expected="unknown_critical_extension",
        openssl=rejects((34, 0, "unhandled critical extension")),
        target=card_variant(
            "card_unknown_critical_extension",
            rebuild(leaf, signing_key=pki.issuer_key, add=[(unknown_critical, True)]),
        ),
    )
    case(
        "issuer_ca_unknown_critical_extension",
        breaks="the issuer CA carries a critical extension no verifier knows",
        rule="RFC 5280 4.2",
        expected="unknown_critical_extension",
        openssl=rejects((34, 1, "unhandled critical extension")),
        untrusted=(
            issuer_variant("issuer_ca_unknown_critical_extension", add=((unknown_critical, True),)),
        ),
    )
    case(
        "card_digest_extension_critical",
        breaks="the cardDataDigest extension is marked critical",
        rule="docs/protocol.md 5.3: non-critical; RFC 5280 4.2",
        expected="unknown_critical_extension",
        openssl=rejects((34, 0, "unhandled critical extension")),
        target=card_variant(
            "card_digest_extension_critical",
            rebuild(
                leaf,
                signing_key=pki.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        leaf.extensions.get_extension_for_oid(CARD_DATA_DIGEST_EXTENSION).value,
                        True,
                    )
                },
            ),
        ),
    )
    case(
        "card_duplicate_extension",
        breaks="a second basicConstraints extension in the card certificate, this one cA TRUE",
        rule="RFC 5280 4.2: MUST NOT include more than one instance of an extension",
        expected="cert_malformed",
        openssl=rejects((20, 0, "unable to get local issuer certificate")),
        target=card_variant(
            "card_duplicate_extension",
            with_extra_extension(
                leaf,
                pki.issuer_key,
                asn1_x509.Extension(
                    {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}}
                ),
            ),
        ),
    )
    other_digest = card_data_digest(card, secret("paths/other-card-secret"))
    case(
        "card_duplicate_digest_extension",
        breaks="two cardDataDigest extensions with different digests",
        rule="RFC 5280 4.2: MUST NOT include more than one instance of an extension",
        expected="cert_malformed",
        openssl=OpensslAccepts(reason=_PRIVATE_DUPLICATE_ACCEPTED),
        target=card_variant(
            "card_duplicate_digest_extension",
            with_extra_extension(
                leaf,
                pki.issuer_key,
                asn1_x509.Extension(
                    {
                        "extn_id": CARD_DATA_DIGEST_EXTENSION.dotted_string,
                        "critical": False,
                        "extn_value": encode_digest_extension(other_digest),
                    }
                ),
            ),
        ),
    )
    case(
        "issuer_ca_duplicate_extension",
        breaks="the issuer CA has a second basicConstraints, cA FALSE",
        rule="RFC 5280 4.2: MUST NOT include more than one instance of an extension",
        expected="cert_malformed",
        openssl=rejects((20, 0, "unable to get local issuer certificate")),
        untrusted=(
            v.cert(
                "pki/issuer-ca-duplicate-extension.pem",
                with_extra_extension(
                    pki.issuer_ca,
                    pki.root_key,
                    asn1_x509.Extension(
                        {
                            "extn_id": "basic_constraints",
                            "critical": True,
                            "extn_value": {"ca": False},
                        }
                    ),
                    serial_number=serial("paths/issuer_ca_duplicate_extension"),
                ),
            ),
        ),
    )

    # --- serial numbers (RFC 5280 4.1.2.2) ------------------------------------------------
    case(
        "card_serial_zero",
        breaks="the card certificate's serial number is 0",
        rule="RFC 5280 4.1.2.2: a positive integer",
        expected="cert_profile_violation",
        openssl=OpensslAccepts(reason=_SERIAL_ACCEPTED),
        target=card_variant("card_serial_zero", with_serial(leaf, pki.issuer_key, 0)),
        ignore_warnings=(_NON_POSITIVE_SERIAL_WARNING,),
    )
    case(
        "card_serial_negative",
        breaks="the card certificate's serial number is negative",
        rule="RFC 5280 4.1.2.2: a positive integer",
        expected="cert_profile_violation",
        openssl=OpensslAccepts(reason=_SERIAL_ACCEPTED),
        target=card_variant(
            "card_serial_negative", with_serial(leaf, pki.issuer_key, -leaf.serial_number)
        ),
        ignore_warnings=(_NON_POSITIVE_SERIAL_WARNING,),
    )

    # --- validity (RFC 5280 4.1.2.5, 6.1.3 (a)(2)) ----------------------------------------
    case(
        "card_validity_reversed",
        breaks="the card certificate's notAfter (now - 1 day) is before its notBefore "
        "(now + 1 day)",
        rule="RFC 5280 4.1.2.5, 6.1.3 (a)(2)",
        expected="cert_not_yet_valid",
        openssl=rejects((9, 0, "certificate is not yet valid")),
        target=card_variant(
            "card_validity_reversed",
            with_validity(
                leaf,
                pki.issuer_key,
                not_before=NOW + timedelta(days=1),
                not_after=NOW - timedelta(days=1),
                serial_number=serial("paths/card-validity-reversed"),
            ),
        ),
    )
    case(
        "issuer_ca_expired",
        breaks="the issuer CA expired a day ago; the card certificate is within its own dates",
        rule="RFC 5280 6.1.3 (a)(2)",
        expected="cert_expired",
        openssl=rejects((10, 1, "certificate has expired")),
        untrusted=(
            v.cert(
                "pki/issuer-ca-expired.pem",
                with_validity(
                    pki.issuer_ca,
                    pki.root_key,
                    not_before=pki.issuer_ca.not_valid_before_utc,
                    not_after=NOW - timedelta(days=1),
                    serial_number=serial("paths/issuer-ca-expired"),
                ),
            ),
        ),
    )
    case(
        "issuer_ca_not_yet_valid",
        breaks="the issuer CA becomes valid in an hour; the card certificate is within its dates",
        rule="RFC 5280 6.1.3 (a)(2)",
        expected="cert_not_yet_valid",
        openssl=rejects((9, 1, "certificate is not yet valid")),
        untrusted=(
            v.cert(
                "pki/issuer-ca-not-yet-valid.pem",
                with_validity(
                    pki.issuer_ca,
                    pki.root_key,
                    not_before=NOW + timedelta(hours=1),
                    not_after=pki.issuer_ca.not_valid_after_utc,
                    serial_number=serial("paths/issuer-ca-not-yet-valid"),
                ),
            ),
        ),
    )
    case(
        "root_expired",
        breaks="the network root expired a second ago (same name and key)",
        rule="RFC 5280 6.1.3 (a)(2) (openssl checks the trust anchor's dates too)",
        expected="cert_expired",
        openssl=rejects((10, 2, "certificate has expired")),
        root_file=v.cert(
            "pki/root-ca-expired.pem",
            with_validity(
                pki.root,
                pki.root_key,
                not_before=pki.root.not_valid_before_utc,
                not_after=NOW - timedelta(seconds=1),
                serial_number=serial("paths/root-expired"),
            ),
        ),
    )

    # --- the card-certificate profile (docs/protocol.md 5.2, 5.3) -------------------------
    p384 = p384_key("paths/card-p384")
    case(
        "card_key_p384",
        breaks="the card key is ECDSA P-384",
        rule="docs/protocol.md 5: P-256 only",
        expected="unsupported_key",
        openssl=OpensslAccepts(reason=_P384_ACCEPTED),
        target=card_variant(
            "card_key_p384",
            rebuild(leaf, signing_key=pki.issuer_key, public_key=p384.public_key()),
        ),
        key=p384,
    )
    case(
        "card_without_digest_extension",
        breaks="the card certificate has no cardDataDigest extension",
        rule="docs/protocol.md 5.2, 5.3: required",
        expected="cert_profile_violation",
        openssl=OpensslAccepts(reason=_MISSING_DIGEST_ACCEPTED),
        target=card_variant(
            "card_without_digest_extension",
            rebuild(leaf, signing_key=pki.issuer_key, remove=[CARD_DATA_DIGEST_EXTENSION]),
        ),
    )
    return v


def _manifest(v: PathVectors) -> bytes:
    return _json_bytes(
        {
            "generator": "scripts/make_path_vectors.py",
            "now": _iso(NOW),
            "card_data": "card-data.json",
            "merchant": {
                "origin": ORIGIN,
                "amount": AMOUNT,
                "currency": CURRENCY,
                "checkout_id": CHECKOUT_ID,
                "nonce": NONCE,
            },
            "openssl": {
                "command": OPENSSL_COMMAND,
                "auth_level": "3: the profile's P-256 and SHA-256 give 128-bit security, "
                "OpenSSL's security level 3 (SP 800-57); it rejects SHA-1 signatures",
            },
            "cases": v.cases,
        }
    )


_README = """\
# certificate path negatives

Written by `scripts/make_path_vectors.py`; do not edit by hand. Regenerate and review the
diff:

    PYTHONPATH=. .venv/bin/python scripts/make_path_vectors.py

In the spirit of NIST PKITS: `ok` is a valid network root -> issuer CA -> card certificate
path, every other case breaks one rule. `manifest.json` names what each case breaks, the
files (`root` is the merchant's trust anchor and openssl's `-CAfile`; the presentation's
chain is `target` followed by `untrusted`, openssl's `-untrusted`), the stable error code
cardcert rejects it with, and what `openssl verify -x509_strict -auth_level 3` answers: the
errors it prints, or, where it accepts by design, the reason.
`tests/hardening/test_path_negatives.py` checks both and that these files are current.

    pki/            roots and CAs (`root-ca.pem`, `issuer-ca.pem` and one-change variants)
    certs/          card certificates and their variants
    presentations/  wire presentations a merchant would receive for each path
"""


def _all_files(v: PathVectors) -> dict[str, bytes]:
    return {**v.files, "manifest.json": _manifest(v), "README.md": _README.encode()}


def _existing(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=PATHS, help="output directory")
    args = parser.parse_args(argv)
    return sync_files(_all_files(generate()), _existing(args.out), args.out, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
