"""Write the certs test vectors under ``tests/vectors/`` (a checked-in generator).

Run from the repository root::

    PYTHONPATH=. .venv/bin/python scripts/make_vectors.py          # (re)write tests/vectors
    PYTHONPATH=. .venv/bin/python scripts/make_vectors.py --check  # exit 1 when out of date

Every input is derived from a fixed label: private keys (``derive_private_key`` of a
SHA-512 of the label; RSA primes found by a seeded search), serial numbers, card-data
secrets and nonces. Certificates, transactions and OCSP responses are signed with
deterministic ECDSA (RFC 6979), OCSP ``producedAt`` is pinned, so two runs write identical
bytes and ``git diff`` shows exactly what a change to ``certs/`` or to this script did.

Validation time is pinned to :data:`NOW`; validity windows are placed around it, so the
vectors never expire: tests pass each case's ``now`` explicitly.

Certificates are minted with the production code (:mod:`certs.profile`), then re-signed
deterministically with the same TBS bytes (checked). Negative vectors change one thing
each: :func:`rebuild` copies a certificate's fields and extensions and swaps what a case
needs, and a few cases edit the DER to reach parsers with input no builder will write.

``tests/vectors/manifest.json`` describes every case: its kind (what the test calls), the
files it uses, the pinned validation time, what the merchant expects and the expected
error code (or ``"ok"``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import core
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from certs.card_data import CardData
from certs.card_digest import card_data_digest
from certs.keys import der_fingerprint
from certs.oids import (
    ARC,
    CARD_DATA_DIGEST_EXTENSION,
    DIGEST_ARGON2ID_HMAC_RESERVED,
    HMAC_SHA256,
)
from certs.presentation import Presentation
from certs.profile import (
    CardCertificateRequest,
    make_issuer_ca,
    make_root_ca,
    mint_card_certificate,
)
from certs.transaction import Confirmation, TransactionDescription
from certs.wire import b64url_encode

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
PKI_NOW = NOW - timedelta(days=365)  # CAs minted a year before NOW, valid for years after
SIGNED_AT = NOW - timedelta(seconds=30)

ORIGIN = "https://shop.example"
MERCHANT_NAME = "Demo Shop"
AMOUNT = "12.30"
CURRENCY = "EUR"
CHECKOUT_ID = "co_vectors_0001"
CRL_URL = "http://issuer.localhost:8001/crl/vector-bank.crl"
OCSP_URL = "http://issuer.localhost:8001/ocsp"

# VerificationPolicy's documented defaults, written out so the vectors do not move with them.
POLICY = {
    "max_signing_age_seconds": 600,
    "max_clock_skew_seconds": 120,
    "require_revocation_status": True,
    "allow_frictionless": True,
}
STATUS_MAX_AGE_SECONDS = 86400

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)
_DETERMINISTIC_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_UNHANDLED_CRITICAL = x509.ObjectIdentifier(f"{ARC}.99.1")


# --- deterministic inputs ------------------------------------------------------------


def _seed(label: str, size: int = 64) -> bytes:
    return hashlib.shake_256(b"cardcert-vectors/" + label.encode()).digest(size)


def _scalar(label: str, order: int) -> int:
    return int.from_bytes(_seed(label), "big") % (order - 1) + 1


def p256_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(_scalar(label, _P256_ORDER), ec.SECP256R1())


def p384_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(_scalar(label, _P384_ORDER), ec.SECP384R1())


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed(label, 32))


_SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)


def _probable_prime(n: int) -> bool:
    """Miller-Rabin with fixed bases: ample for seeded (not adversarial) candidates."""
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for base in _SMALL_PRIMES[:12]:
        x = pow(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(label: str) -> int:
    candidate = int.from_bytes(_seed(label, 128), "big") | (3 << 1022) | 1
    while not _probable_prime(candidate):
        candidate += 2
    return candidate


def rsa_key(label: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key from two seeded primes (cryptography cannot seed its generator)."""
    e = 65537
    p, q = _prime(label + "/p"), _prime(label + "/q")
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    ).private_key()


def serial(label: str) -> int:
    """A positive 128-bit serial number (RFC 5280 4.1.2.2)."""
    return int.from_bytes(_seed("serial/" + label, 16), "big") | (1 << 127)


def nonce(label: str) -> str:
    return b64url_encode(_seed("nonce/" + label, 16))


def secret(label: str) -> bytes:
    return _seed("secret/" + label, 32)


def credential_id(label: str) -> str:
    return "cred_" + b64url_encode(_seed("credential/" + label, 16))


NONCE = nonce("main")  # the checkout's single-use nonce, as the merchant issued it


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """WebCrypto-style raw r||s, deterministic (RFC 6979)."""
    size = (key.curve.key_size + 7) // 8
    r, s = decode_dss_signature(key.sign(message, _DETERMINISTIC_ECDSA))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


# --- certificates ----------------------------------------------------------------------

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
SubjectKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)


def rebuild(
    certificate: x509.Certificate,
    *,
    signing_key: ec.EllipticCurvePrivateKey,
    serial_number: int | None = None,
    public_key: SubjectKey | None = None,
    subject: x509.Name | None = None,
    replace: dict[x509.ObjectIdentifier, tuple[x509.ExtensionType, bool]] | None = None,
    remove: Iterable[x509.ObjectIdentifier] = (),
    add: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Copy ``certificate`` field by field (extensions in order), change what is asked, sign."""
    replace = dict(replace or {})
    if public_key is not None:
        replace.setdefault(
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
            (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
        )
    removed = set(remove)
    builder = (
        x509.CertificateBuilder()
        .subject_name(certificate.subject if subject is None else subject)
        .issuer_name(certificate.issuer)
        .public_key(public_key or certificate.public_key())
        .serial_number(serial_number or certificate.serial_number)
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
    )
    for extension in certificate.extensions:
        if extension.oid in removed:
            continue
        value, critical = replace.pop(extension.oid, (extension.value, extension.critical))
        builder = builder.add_extension(value, critical)
    for value, critical in [*replace.values(), *add]:
        builder = builder.add_extension(value, critical)
    return _sign(builder, signing_key)


class _RawCertificate(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """Certificate with opaque parts, to re-sign a TBS that no schema would accept."""

    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("tbs_certificate", core.Any),
        ("signature_algorithm", core.Any),
        ("signature_value", core.OctetBitString),
    ]


def resign_tbs(certificate: bytes, tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Put ``tbs`` into ``certificate`` with a valid signature by ``key``."""
    original = _RawCertificate.load(certificate)
    return bytes(
        _RawCertificate(
            {
                "tbs_certificate": core.Any.load(tbs),
                "signature_algorithm": original["signature_algorithm"],
                "signature_value": key.sign(tbs, _DETERMINISTIC_ECDSA),
            }
        ).dump()
    )


def edit_tbs(
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    edit: Callable[[asn1_x509.TbsCertificate], None],
) -> bytes:
    tbs = asn1_x509.TbsCertificate.load(certificate.tbs_certificate_bytes)
    edit(tbs)
    return resign_tbs(der(certificate), bytes(tbs.dump(force=True)), key)


@dataclass(frozen=True, kw_only=True)
class Pki:
    label: str
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    issuer_ca: x509.Certificate
    issuer_key: ec.EllipticCurvePrivateKey


def make_pki(label: str, *, network: str, bank: str) -> Pki:
    root_key = p256_key(label + "/root")
    root = rebuild(
        make_root_ca(root_key, common_name=f"{network} Root CA", organization=network, now=PKI_NOW),
        signing_key=root_key,
        serial_number=serial(label + "/root"),
    )
    issuer_key = p256_key(label + "/issuer")
    issuer_ca = rebuild(
        make_issuer_ca(
            issuer_key.public_key(),
            root_key=root_key,
            root=root,
            common_name=f"{bank} Card Issuer CA",
            organization=bank,
            now=PKI_NOW,
        ),
        signing_key=root_key,
        serial_number=serial(label + "/issuer"),
    )
    return Pki(
        label=label, root=root, root_key=root_key, issuer_ca=issuer_ca, issuer_key=issuer_key
    )


def mint(
    label: str,
    pki: Pki,
    *,
    key: ec.EllipticCurvePrivateKey,
    card: CardData,
    card_secret: bytes,
    now: datetime = NOW - timedelta(days=1),
    validity: timedelta = timedelta(days=90),
) -> x509.Certificate:
    """Mint with :func:`certs.profile.mint_card_certificate`, then re-sign deterministically."""
    minted = mint_card_certificate(
        CardCertificateRequest(
            public_key=key.public_key(),
            credential_id=credential_id(label),
            card_expiry=card.expiry,
            card_data_digest=card_data_digest(card, card_secret),
        ),
        issuer_key=pki.issuer_key,
        issuer_ca=pki.issuer_ca,
        crl_url=CRL_URL,
        ocsp_url=OCSP_URL,
        now=now,
        validity=validity,
        serial_number=serial(label),
    )
    certificate = rebuild(minted, signing_key=pki.issuer_key)
    if certificate.tbs_certificate_bytes != minted.tbs_certificate_bytes:
        raise RuntimeError("re-signing changed the minted TBS certificate")
    return certificate


# --- OCSP ----------------------------------------------------------------------------


def ocsp_response(
    certificate: x509.Certificate,
    pki: Pki,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime | None = NOW + timedelta(days=7),
    responder: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    signing_key: ec.EllipticCurvePrivateKey | None = None,
    edit: Callable[[asn1_ocsp.ResponseData], None] | None = None,
    signature_algorithm: str | None = None,
) -> bytes:
    """An OCSP response built with ``OCSPResponseBuilder`` and signed by the issuer CA key.

    The builder stamps ``producedAt`` with the wall clock and signs with random ECDSA; the
    response is then re-signed deterministically with ``producedAt = thisUpdate`` (and any
    ``edit`` applied to the ResponseData), through asn1crypto rather than by slicing DER.
    ``responder`` names the signer (default the issuer CA); ``signing_key`` makes another
    key sign the final response while the ResponderID still names ``responder``.
    """
    responder_cert, responder_key = responder or (pki.issuer_ca, pki.issuer_key)
    key = signing_key or responder_key
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    built = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=certificate,
            issuer=pki.issuer_ca,
            algorithm=hashes.SHA256(),
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=this_update - timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder_cert)
        .sign(responder_key, hashes.SHA256())
    )
    response = asn1_ocsp.OCSPResponse.load(built.public_bytes(serialization.Encoding.DER))
    basic = response["response_bytes"]["response"].parsed
    tbs = asn1_ocsp.ResponseData.load(basic["tbs_response_data"].dump())
    tbs["produced_at"] = this_update
    if edit is not None:
        edit(tbs)
    tbs_der = bytes(tbs.dump(force=True))
    algorithm = basic["signature_algorithm"]
    if signature_algorithm is not None:
        algorithm = asn1_x509.SignedDigestAlgorithm({"algorithm": signature_algorithm})
    resigned = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {
                "response_type": "basic_ocsp_response",
                "response": asn1_ocsp.BasicOCSPResponse(
                    {
                        "tbs_response_data": asn1_ocsp.ResponseData.load(tbs_der),
                        "signature_algorithm": algorithm,
                        "signature": key.sign(tbs_der, _DETERMINISTIC_ECDSA),
                    }
                ),
            },
        }
    )
    return bytes(resigned.dump())


# --- the card-data digest extension with another algorithm -----------------------------


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _CardDataDigest(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """docs/protocol.md 5.3, written independently of certs.digest_extension."""

    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("version", core.Integer),
        ("digest_algorithm", _AlgorithmIdentifier),
        ("digest", core.OctetString),
    ]


def digest_extension(algorithm: str, digest: bytes) -> x509.UnrecognizedExtension:
    value = _CardDataDigest(
        {"version": 1, "digest_algorithm": {"algorithm": algorithm}, "digest": digest}
    )
    return x509.UnrecognizedExtension(CARD_DATA_DIGEST_EXTENSION, bytes(value.dump()))


def ber_digest_extension(digest: bytes, *, indefinite: bool) -> x509.UnrecognizedExtension:
    """The right CardDataDigest in BER that is not DER (X.690 10.1): no schema writes it."""
    der_value = bytes(
        _CardDataDigest(
            {
                "version": 1,
                "digest_algorithm": {
                    "algorithm": HMAC_SHA256.dotted_string,
                    "parameters": core.Null(),
                },
                "digest": digest,
            }
        ).dump()
    )
    body = der_value[2:]  # 32-byte digest: the outer length fits the short form
    if indefinite:
        value = b"\x30\x80" + body + b"\x00\x00"
    else:  # the digest's length in the long form, 0x81 0x20 instead of 0x20
        body = body[: -len(digest) - 2] + b"\x04\x81" + bytes([len(digest)]) + digest
        value = b"\x30" + bytes([len(body)]) + body
    return x509.UnrecognizedExtension(CARD_DATA_DIGEST_EXTENSION, value)


# --- output --------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Vectors:
    files: dict[str, bytes] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes) -> str:
        if self.files.get(path, data) != data:
            raise RuntimeError(f"{path} written twice with different content")
        self.files[path] = data
        return path

    def pem(self, path: str, certificate: x509.Certificate) -> str:
        return self.add(path, certificate.public_bytes(serialization.Encoding.PEM))

    def json(self, path: str, value: Any) -> str:
        return self.add(path, _json_bytes(value))

    def case(self, **case: Any) -> None:
        if any(existing["name"] == case["name"] for existing in self.cases):
            raise RuntimeError(f"duplicate case {case['name']}")
        self.cases.append(case)


# --- the cases -----------------------------------------------------------------------

CARD_INPUT = {
    "pan": "4111 1111 1111 1111",
    "expiry": "12/30",
    "security_code": "123",
    "name": "Jane Cardholder",
}


def _parse_card(values: dict[str, str]) -> CardData:
    return CardData.parse(
        pan=values["pan"],
        expiry=values["expiry"],
        security_code=values["security_code"],
        name=values.get("name"),
    )


def generate() -> Vectors:
    v = Vectors()
    card = _parse_card(CARD_INPUT)
    card_secret = secret("main")
    main = make_pki("main", network="cardcert Vector Network", bank="Vector Bank")
    other = make_pki("other", network="Other Network", bank="Other Bank")
    impostor = make_pki("impostor", network="cardcert Vector Network", bank="Vector Bank")

    root_pem = v.pem("pki/root-ca.pem", main.root)
    issuer_pem = v.pem("pki/issuer-ca.pem", main.issuer_ca)
    v.pem("pki/other-root-ca.pem", other.root)
    v.pem("pki/other-issuer-ca.pem", other.issuer_ca)
    v.pem("pki/impostor-root-ca.pem", impostor.root)
    v.pem("pki/impostor-issuer-ca.pem", impostor.issuer_ca)
    # An "issuer CA" signed by the trusted root but with cA FALSE: _check_ca must reject it.
    not_ca_key = p256_key("not-ca/issuer")
    not_ca_issuer = rebuild(
        make_issuer_ca(
            not_ca_key.public_key(),
            root_key=main.root_key,
            root=main.root,
            common_name="Not A CA Bank Card Issuer CA",
            organization="Not A CA Bank",
            now=PKI_NOW,
        ),
        signing_key=main.root_key,
        serial_number=serial("not-ca/issuer-under-main"),
        replace={ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(False, None), True)},
    )
    not_ca = Pki(
        label="not-ca",
        root=main.root,
        root_key=main.root_key,
        issuer_ca=not_ca_issuer,
        issuer_key=not_ca_key,
    )
    v.pem("pki/not-ca-issuer-ca.pem", not_ca_issuer)

    card_files = {
        "card": v.json("card-data/card.json", CARD_INPUT),
        "typed_differently": v.json(
            "card-data/card-typed-differently.json",
            {
                "pan": "4111-1111-1111-1111",
                "expiry": "12/2030",
                "security_code": " 123 ",
                "name": "  jane   CARDHOLDER ",
            },
        ),
        "other_name": v.json(
            "card-data/card-other-name.json", {**CARD_INPUT, "name": "J. Q. Somebody-Else"}
        ),
        "no_name": v.json(
            "card-data/card-no-name.json",
            {k: CARD_INPUT[k] for k in ("pan", "expiry", "security_code")},
        ),
        "wrong_pan": v.json(
            "card-data/card-wrong-pan.json", {**CARD_INPUT, "pan": "4012 8888 8888 1881"}
        ),
        "wrong_expiry": v.json(
            "card-data/card-wrong-expiry.json", {**CARD_INPUT, "expiry": "11/30"}
        ),
        "wrong_security_code": v.json(
            "card-data/card-wrong-security-code.json", {**CARD_INPUT, "security_code": "124"}
        ),
    }

    merchant = {
        "origin": ORIGIN,
        "merchant_name": None,
        "amount": AMOUNT,
        "currency": CURRENCY,
        "checkout_id": CHECKOUT_ID,
        "nonce": NONCE,
    }

    def verify_case(
        name: str,
        expected: str,
        presentation: str,
        description: str,
        *,
        now: datetime = NOW,
        trust_anchors: tuple[str, ...] = (root_pem,),
        card_data: str = card_files["card"],
        certificate: str | None = None,
        merchant_overrides: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        nonce_unused: bool = True,
        live_status: dict[str, str] | None = None,
        ignore_warnings: tuple[str, ...] = (),
    ) -> None:
        files: dict[str, Any] = {
            "presentation": presentation,
            "trust_anchors": list(trust_anchors),
            "card_data": card_data,
        }
        if certificate is not None:
            files["certificate"] = certificate
        case: dict[str, Any] = {
            "name": name,
            "kind": "verify",
            "description": description,
            "now": _iso(now),
            "expected": expected,
            "files": files,
            "merchant": {**merchant, **(merchant_overrides or {})},
            "policy": {**POLICY, **(policy or {})},
            "nonce_unused": nonce_unused,
            "status_max_age_seconds": STATUS_MAX_AGE_SECONDS,
        }
        if live_status is not None:
            case["live_status"] = live_status
        if ignore_warnings:
            case["ignore_warnings"] = list(ignore_warnings)
        v.case(**case)

    def present(
        path: str,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePrivateKey | None,
        *,
        chain: tuple[bytes, ...] | None = None,
        status: bytes | None = None,
        signed_at: datetime = SIGNED_AT,
        confirmation: Confirmation = Confirmation.EXPLICIT,
        card_secret_bytes: bytes = card_secret,
        fingerprint: str | None = None,
        signature: bytes | None = None,
        pki: Pki = main,
    ) -> str:
        transaction = TransactionDescription.build(
            merchant_origin=ORIGIN,
            merchant_name=MERCHANT_NAME,
            amount=AMOUNT,
            currency=CURRENCY,
            checkout_id=CHECKOUT_ID,
            nonce=NONCE,
            signed_at=signed_at,
            certificate_fingerprint=fingerprint or der_fingerprint(der(certificate)),
            confirmation=confirmation,
        )
        if signature is None:
            if key is None:
                raise RuntimeError("a key or a signature is needed")
            signature = sign_raw(key, transaction.raw)
        wire = Presentation(
            transaction=transaction,
            signature=signature,
            certificate_chain=chain or (der(certificate), der(pki.issuer_ca)),
            status=status,
            card_data_secret=card_secret_bytes,
        ).to_json()
        return v.json(path, wire)

    # --- the main credential -------------------------------------------------------
    key = p256_key("card/main")
    cert = mint("card/main", main, key=key, card=card, card_secret=card_secret)
    cert_pem = v.pem("certs/card.pem", cert)
    good = ocsp_response(cert, main)
    v.add("ocsp/good.der", good)
    ok = present("presentations/ok.json", cert, key, status=good)
    verify_case(
        "ok",
        "ok",
        ok,
        "valid chain, good stapled OCSP, explicit confirmation, matching card data",
        certificate=cert_pem,
    )
    verify_case(
        "ok_card_typed_differently",
        "ok",
        ok,
        "the same card typed with dashes, MM/YYYY, spaces around the code",
        card_data=card_files["typed_differently"],
    )
    verify_case(
        "ok_other_cardholder_name",
        "ok",
        ok,
        "a different cardholder name still passes: the name is not bound",
        card_data=card_files["other_name"],
    )
    verify_case(
        "ok_no_cardholder_name",
        "ok",
        ok,
        "no cardholder name at all still passes",
        card_data=card_files["no_name"],
    )
    verify_case(
        "ok_expected_merchant_name",
        "ok",
        ok,
        "the merchant also pins its display name",
        merchant_overrides={"merchant_name": MERCHANT_NAME},
    )
    verify_case(
        "ok_root_appended",
        "ok",
        present(
            "presentations/ok-root-appended.json",
            cert,
            key,
            status=good,
            chain=(der(cert), der(main.issuer_ca), der(main.root)),
        ),
        "the chain may carry the trust anchor itself as third certificate",
    )
    verify_case(
        "ok_two_trust_anchors",
        "ok",
        ok,
        "a merchant trusting two networks",
        trust_anchors=("pki/other-root-ca.pem", root_pem),
    )

    # --- merchant expectations -------------------------------------------------------
    for name, overrides, code in (
        ("wrong_origin", {"origin": "https://evil.example"}, "origin_mismatch"),
        ("wrong_origin_port", {"origin": "https://shop.example:8443"}, "origin_mismatch"),
        ("wrong_merchant_name", {"merchant_name": "Other Shop"}, "merchant_name_mismatch"),
        ("wrong_amount", {"amount": "12.31"}, "amount_mismatch"),
        ("wrong_currency", {"currency": "USD"}, "currency_mismatch"),
        ("wrong_checkout_id", {"checkout_id": "co_vectors_0002"}, "checkout_id_mismatch"),
        ("wrong_nonce", {"nonce": nonce("another")}, "nonce_mismatch"),
    ):
        verify_case(
            name,
            code,
            ok,
            f"the merchant expects {next(iter(overrides.values()))}",
            merchant_overrides=overrides,
        )
    verify_case(
        "nonce_replayed",
        "nonce_replayed",
        ok,
        "the nonce store says the nonce was already used",
        nonce_unused=False,
    )

    # --- card data -------------------------------------------------------------------
    for field_name in ("pan", "expiry", "security_code"):
        verify_case(
            f"card_data_wrong_{field_name}",
            "card_data_mismatch",
            ok,
            f"the shopper typed another {field_name.replace('_', ' ')}",
            card_data=card_files[f"wrong_{field_name}"],
        )
    verify_case(
        "card_data_secret_wrong_length",
        "presentation_malformed",
        present(
            "presentations/card-data-secret-16-bytes.json",
            cert,
            key,
            status=good,
            card_secret_bytes=card_secret[:16],
        ),
        "the card-data secret is 16 bytes, not 32",
    )

    # --- confirmation ----------------------------------------------------------------
    frictionless = present(
        "presentations/frictionless.json",
        cert,
        key,
        status=good,
        confirmation=Confirmation.FRICTIONLESS,
    )
    verify_case(
        "frictionless_allowed", "ok", frictionless, "frictionless, and the policy allows it"
    )
    verify_case(
        "frictionless_not_accepted",
        "confirmation_not_accepted",
        frictionless,
        "frictionless, and the policy requires the confirmation page",
        policy={"allow_frictionless": False},
    )

    # --- signing time (max age 600 s, clock skew 120 s) --------------------------------
    for name, offset, code in (
        ("signing_time_oldest_accepted", -600, "ok"),
        ("signing_time_too_old", -601, "signing_time_out_of_window"),
        ("signing_time_latest_accepted", 120, "ok"),
        ("signing_time_too_far_in_future", 121, "signing_time_out_of_window"),
    ):
        path = f"presentations/signed-at-{'minus' if offset < 0 else 'plus'}-{abs(offset)}s.json"
        verify_case(
            name,
            code,
            present(path, cert, key, status=good, signed_at=NOW + timedelta(seconds=offset)),
            f"signed {offset:+d} s from now",
        )

    # --- transaction signature ---------------------------------------------------------
    tampered = json.loads(v.files[ok])
    raw = base64.urlsafe_b64decode(tampered["transaction"] + "==")
    tampered_raw = raw.replace(b'"amount":"12.30"', b'"amount":"10.30"')
    if tampered_raw == raw:
        raise RuntimeError("amount not found in the transaction")
    tampered["transaction"] = b64url_encode(tampered_raw)
    verify_case(
        "transaction_tampered",
        "signature_invalid",
        v.json("presentations/transaction-tampered.json", tampered),
        "amount changed from 12.30 to 10.30 after signing",
        merchant_overrides={"amount": "10.30"},
    )
    verify_case(
        "signature_by_another_key",
        "signature_invalid",
        present(
            "presentations/signature-by-another-key.json",
            cert,
            p256_key("card/stranger"),
            status=good,
        ),
        "well-formed P-256 signature by a key other than the certificate's",
    )
    ok_wire = json.loads(v.files[ok])
    good_signature = base64.urlsafe_b64decode(ok_wire["signature"] + "==")
    transaction_raw = base64.urlsafe_b64decode(ok_wire["transaction"] + "==")
    r = int.from_bytes(good_signature[:32], "big")
    s = int.from_bytes(good_signature[32:], "big")
    for name, signature, description in (
        ("signature_63_bytes", good_signature[:63], "63-byte signature"),
        ("signature_65_bytes", good_signature + b"\x00", "65-byte signature"),
        (
            "signature_der_encoded",
            encode_dss_signature(r, s),
            "DER Ecdsa-Sig-Value instead of WebCrypto raw r||s",
        ),
        ("signature_r_zero", bytes(32) + good_signature[32:], "r = 0"),
        ("signature_s_not_below_n", good_signature[:32] + _P256_ORDER.to_bytes(32, "big"), "s = n"),
    ):
        verify_case(
            name,
            "signature_malformed",
            v.json(
                f"presentations/{name.replace('_', '-')}.json",
                {**ok_wire, "signature": b64url_encode(signature)},
            ),
            description,
        )

    # --- certificate binding -----------------------------------------------------------
    reissued = mint("card/reissued", main, key=key, card=card, card_secret=card_secret)
    v.pem("certs/card-reissued.pem", reissued)
    reissued_good = v.add("ocsp/reissued-good.der", ocsp_response(reissued, main))
    verify_case(
        "certificate_fingerprint_mismatch",
        "certificate_fingerprint_mismatch",
        present(
            "presentations/fingerprint-of-another-certificate.json",
            reissued,
            key,
            status=v.files[reissued_good],
            fingerprint=der_fingerprint(der(cert)),
        ),
        "same key, re-issued certificate presented, transaction names the first one",
    )

    # --- validity: expired / not yet valid, with one-second boundaries -------------------
    expired = mint(
        "card/expired", main, key=key, card=card, card_secret=card_secret,
        now=NOW - timedelta(days=100), validity=timedelta(days=30),
    )  # fmt: skip
    verify_case(
        "card_cert_expired",
        "cert_expired",
        present("presentations/card-expired.json", expired, key),
        "the card certificate expired 70 days ago",
        certificate=v.pem("certs/card-expired.pem", expired),
    )
    not_yet = mint(
        "card/not-yet-valid", main, key=key, card=card, card_secret=card_secret,
        now=NOW + timedelta(days=10),
    )  # fmt: skip
    verify_case(
        "card_cert_not_yet_valid",
        "cert_not_yet_valid",
        present("presentations/card-not-yet-valid.json", not_yet, key),
        "the card certificate becomes valid in 10 days",
        certificate=v.pem("certs/card-not-yet-valid.pem", not_yet),
    )
    # notAfter == NOW exactly: valid through that second (RFC 5280 4.1.2.5), expired after.
    ending = mint(
        "card/ends-at-now", main, key=key, card=card, card_secret=card_secret,
        now=NOW - timedelta(days=30), validity=timedelta(days=30),
    )  # fmt: skip
    if ending.not_valid_after_utc != NOW:
        raise RuntimeError("boundary certificate does not end at NOW")
    ending_pem = v.pem("certs/card-ends-at-now.pem", ending)
    ending_status = ocsp_response(ending, main)
    v.add("ocsp/ends-at-now-good.der", ending_status)
    ending_presentation = present(
        "presentations/card-ends-at-now.json", ending, key, status=ending_status
    )
    for name, offset, code in (
        ("card_cert_expiry_boundary_minus_1s", -1, "ok"),
        ("card_cert_expiry_boundary_last_second", 0, "ok"),
        ("card_cert_expiry_boundary_plus_1s", 1, "cert_expired"),
    ):
        verify_case(
            name,
            code,
            ending_presentation,
            f"notAfter {offset:+d} s",
            now=NOW + timedelta(seconds=offset),
            certificate=ending_pem,
        )
    # notBefore == NOW exactly (mint backdates by five minutes).
    starting = mint(
        "card/starts-at-now", main, key=key, card=card, card_secret=card_secret,
        now=NOW + timedelta(minutes=5),
    )  # fmt: skip
    if starting.not_valid_before_utc != NOW:
        raise RuntimeError("boundary certificate does not start at NOW")
    starting_pem = v.pem("certs/card-starts-at-now.pem", starting)
    starting_status = ocsp_response(starting, main)
    v.add("ocsp/starts-at-now-good.der", starting_status)
    starting_presentation = present(
        "presentations/card-starts-at-now.json",
        starting,
        key,
        signed_at=NOW,
        status=starting_status,
    )
    for name, offset, code in (
        ("card_cert_start_boundary_minus_1s", -1, "cert_not_yet_valid"),
        ("card_cert_start_boundary_first_second", 0, "ok"),
        ("card_cert_start_boundary_plus_1s", 1, "ok"),
    ):
        verify_case(
            name,
            code,
            starting_presentation,
            f"notBefore {offset:+d} s",
            now=NOW + timedelta(seconds=offset),
            certificate=starting_pem,
        )

    # --- trust ---------------------------------------------------------------------------
    other_key = p256_key("card/other-network")
    other_cert = mint(
        "card/other-network", other, key=other_key, card=card, card_secret=card_secret
    )
    verify_case(
        "untrusted_root",
        "untrusted_root",
        present("presentations/other-network.json", other_cert, other_key, pki=other),
        "chain to another network's root",
        certificate=v.pem("certs/card-other-network.pem", other_cert),
    )
    impostor_cert = mint("card/impostor", impostor, key=key, card=card, card_secret=card_secret)
    verify_case(
        "untrusted_root_same_names",
        "untrusted_root",
        present("presentations/impostor.json", impostor_cert, key, pki=impostor),
        "an impostor PKI copying the trusted root's and issuer's names with other keys",
        certificate=v.pem("certs/card-impostor.pem", impostor_cert),
    )
    verify_case(
        "untrusted_wrong_third_certificate",
        "untrusted_root",
        present(
            "presentations/wrong-root-appended.json",
            cert,
            key,
            chain=(der(cert), der(main.issuer_ca), der(other.root)),
        ),
        "the third certificate is not the trust anchor",
    )
    verify_case(
        "chain_in_wrong_order",
        "untrusted_root",
        present(
            "presentations/chain-wrong-order.json",
            cert,
            key,
            chain=(der(main.issuer_ca), der(cert)),
        ),
        "issuer CA first, card certificate second",
    )
    verify_case(
        "chain_without_issuer_ca",
        "cert_malformed",
        present("presentations/chain-leaf-only.json", cert, key, chain=(der(cert),)),
        "only the card certificate",
    )
    not_ca_cert = mint("card/not-ca", not_ca, key=key, card=card, card_secret=card_secret)
    verify_case(
        "issuer_not_a_ca",
        "cert_profile_violation",
        present("presentations/issuer-not-a-ca.json", not_ca_cert, key, pki=not_ca),
        "the issuing certificate is signed by the root but has cA FALSE",
        certificate=v.pem("certs/card-issuer-not-a-ca.pem", not_ca_cert),
    )

    # --- certificate bytes ---------------------------------------------------------------
    def leaf_case(
        name: str,
        code: str,
        leaf: bytes,
        description: str,
        *,
        pem: bool = True,
        signing_key: ec.EllipticCurvePrivateKey | None = key,
        signature: bytes | None = None,
        ignore_warnings: tuple[str, ...] = (),
    ) -> None:
        stem = name.replace("_", "-")
        if pem:
            certificate_path = v.add(
                f"certs/{stem}.pem",
                x509.load_der_x509_certificate(leaf).public_bytes(serialization.Encoding.PEM),
            )
        else:
            certificate_path = v.add(f"certs/{stem}.der", leaf)
        transaction = TransactionDescription.build(
            merchant_origin=ORIGIN,
            merchant_name=MERCHANT_NAME,
            amount=AMOUNT,
            currency=CURRENCY,
            checkout_id=CHECKOUT_ID,
            nonce=NONCE,
            signed_at=SIGNED_AT,
            certificate_fingerprint=der_fingerprint(leaf),
        )
        if signature is None and signing_key is not None:
            signature = sign_raw(signing_key, transaction.raw)
        wire = Presentation(
            transaction=transaction,
            signature=signature or bytes(64),
            certificate_chain=(leaf, der(main.issuer_ca)),
            status=None,
            card_data_secret=card_secret,
        ).to_json()
        verify_case(
            name,
            code,
            v.json(f"presentations/{stem}.json", wire),
            description,
            certificate=certificate_path,
            ignore_warnings=ignore_warnings,
        )
        v.case(
            name=f"load_{name}",
            kind="load_certificate",
            description=description,
            now=None,
            expected=code if code == "cert_malformed" else "ok",
            files={"certificate": certificate_path},
            **({"ignore_warnings": list(ignore_warnings)} if ignore_warnings else {}),
        )

    cert_der = der(cert)
    digest = card_data_digest(card, card_secret)
    if cert_der.count(digest) != 1:
        raise RuntimeError("digest not found exactly once")
    at = cert_der.index(digest)
    tampered_tbs = bytearray(cert_der)
    tampered_tbs[at] ^= 0x01
    leaf_case(
        "cert_tampered_digest_byte",
        "cert_signature_invalid",
        bytes(tampered_tbs),
        "one bit of the card-data digest flipped inside the TBS; DER still valid",
    )
    serial_bytes = cert.serial_number.to_bytes(16, "big")
    tampered_serial = bytearray(cert_der)
    tampered_serial[cert_der.index(serial_bytes) + 15] ^= 0x01
    leaf_case(
        "cert_tampered_serial_byte",
        "cert_signature_invalid",
        bytes(tampered_serial),
        "last bit of the serial number flipped; DER still valid",
    )
    tampered_signature = bytearray(cert_der)
    tampered_signature[-1] ^= 0x01
    leaf_case(
        "cert_tampered_signature_byte",
        "cert_signature_invalid",
        bytes(tampered_signature),
        "last bit of the certificate signature (s) flipped; DER still valid",
    )
    leaf_case(
        "cert_signed_by_root",
        "cert_signature_invalid",
        der(rebuild(cert, signing_key=main.root_key)),
        "names the issuer CA but is signed by the root key",
    )
    length_changed = bytearray(cert_der)
    length_changed[3] ^= 0x01  # the outer SEQUENCE's long-form length
    for name, leaf, description in (
        ("cert_malformed_truncated", cert_der[:-16], "the last 16 bytes are missing"),
        ("cert_malformed_trailing_byte", cert_der + b"\x00", "a byte after the certificate"),
        ("cert_malformed_length", bytes(length_changed), "outer SEQUENCE length is wrong"),
        ("cert_malformed_not_der", b"-----BEGIN CERTIFICATE-----\n", "PEM text, not DER"),
        ("cert_malformed_empty_sequence", b"\x30\x00", "an empty SEQUENCE"),
    ):
        leaf_case(name, "cert_malformed", leaf, description, pem=False)

    def edit_version(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["version"] = 3  # v4 does not exist (RFC 5280 4.1.2.1)

    leaf_case(
        "cert_malformed_version_4",
        "cert_malformed",
        edit_tbs(cert, main.issuer_key, edit_version),
        "version INTEGER 3 (no such X.509 version), validly signed by the issuer CA",
        pem=False,
    )
    issuer_name = b"\x0c\x0bVector Bank"
    if cert.tbs_certificate_bytes.count(issuer_name) != 1:
        raise RuntimeError("issuer organisation not found exactly once")
    leaf_case(
        "cert_malformed_issuer_name_integer",
        "cert_malformed",
        resign_tbs(
            cert_der,
            cert.tbs_certificate_bytes.replace(issuer_name, b"\x02" + issuer_name[1:]),
            main.issuer_key,
        ),
        "issuer organizationName is an INTEGER, not a string type; validly signed",
        pem=False,
    )

    # The same two defects in the issuer CA (chain[1]), which is parsed first.
    root_name = b"\x0c\x17cardcert Vector Network"
    issuer_tbs = main.issuer_ca.tbs_certificate_bytes
    if issuer_tbs.count(root_name) != 1:
        raise RuntimeError("root organisation not found exactly once in the issuer CA")
    for name, issuer_der, description in (
        (
            "issuer_ca_malformed_issuer_name_integer",
            resign_tbs(
                der(main.issuer_ca),
                issuer_tbs.replace(root_name, b"\x02" + root_name[1:]),
                main.root_key,
            ),
            "issuer CA whose issuer organizationName is an INTEGER; validly signed by the root",
        ),
        ("issuer_ca_malformed_truncated", der(main.issuer_ca)[:-16], "issuer CA cut short"),
    ):
        stem = name.replace("_", "-")
        issuer_path = v.add(f"certs/{stem}.der", issuer_der)
        verify_case(
            name,
            "cert_malformed",
            present(f"presentations/{stem}.json", cert, key, chain=(der(cert), issuer_der)),
            description,
        )
        v.case(
            name=f"load_{name}",
            kind="load_certificate",
            description=description,
            now=None,
            expected="cert_malformed",
            files={"certificate": issuer_path},
        )

    def edit_spki(curve: str, point: bytes) -> Callable[[asn1_x509.TbsCertificate], None]:
        def edit(tbs: asn1_x509.TbsCertificate) -> None:
            tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo(
                {
                    "algorithm": {
                        "algorithm": "ec",
                        "parameters": asn1_keys.ECDomainParameters(name="named", value=curve),
                    },
                    "public_key": point,
                }
            )

        return edit

    leaf_case(
        "cert_key_unsupported_curve",
        "unsupported_key",
        edit_tbs(cert, main.issuer_key, edit_spki("1.3.132.0.6", b"\x04" + b"\x01" * 28)),
        "secp112r1 key (a curve cryptography cannot load), validly signed by the issuer CA",
        pem=False,
        signing_key=None,
    )
    leaf_case(
        "cert_key_point_not_on_curve",
        "unsupported_key",
        edit_tbs(cert, main.issuer_key, edit_spki("1.2.840.10045.3.1.7", b"\x04" + b"\x01" * 64)),
        "P-256 SubjectPublicKeyInfo whose point is not on the curve, validly signed",
        pem=False,
        signing_key=None,
    )

    def edit_serial_zero(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["serial_number"] = 0

    leaf_case(
        "cert_serial_zero",
        "cert_profile_violation",
        edit_tbs(cert, main.issuer_key, edit_serial_zero),
        "serial number 0 (RFC 5280 4.1.2.2: positive), validly signed",
        pem=False,
        ignore_warnings=("Parsed a serial number which wasn't positive",),
    )

    # --- key types -----------------------------------------------------------------------
    p384 = p384_key("card/p384")
    rsa_card = rsa_key("card/rsa")
    ed_card = ed25519_key("card/ed25519")
    for name, subject_key, description in (
        ("cert_key_p384", p384, "ECDSA P-384 card key (signs raw 96-byte r||s)"),
        ("cert_key_rsa", rsa_card, "RSA-2048 card key (signs PKCS#1 v1.5 SHA-256)"),
        ("cert_key_ed25519", ed_card, "Ed25519 card key (signs 64-byte Ed25519)"),
    ):
        leaf = der(rebuild(cert, signing_key=main.issuer_key, public_key=subject_key.public_key()))
        transaction = TransactionDescription.build(
            merchant_origin=ORIGIN,
            merchant_name=MERCHANT_NAME,
            amount=AMOUNT,
            currency=CURRENCY,
            checkout_id=CHECKOUT_ID,
            nonce=NONCE,
            signed_at=SIGNED_AT,
            certificate_fingerprint=der_fingerprint(leaf),
        )
        if isinstance(subject_key, ec.EllipticCurvePrivateKey):
            signature = sign_raw(subject_key, transaction.raw)
        elif isinstance(subject_key, rsa.RSAPrivateKey):
            signature = subject_key.sign(transaction.raw, padding.PKCS1v15(), hashes.SHA256())
        else:
            signature = subject_key.sign(transaction.raw)
        leaf_case(name, "unsupported_key", leaf, description, signature=signature)

    # --- extensions ----------------------------------------------------------------------
    for name, code, leaf_cert, description in (
        (
            "cert_wrong_eku",
            "wrong_eku",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    ExtensionOID.EXTENDED_KEY_USAGE: (
                        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                        False,
                    )
                },
            ),
            "EKU is TLS clientAuth instead of cardholderAuthentication",
        ),
        (
            "cert_no_eku",
            "wrong_eku",
            rebuild(cert, signing_key=main.issuer_key, remove=[ExtensionOID.EXTENDED_KEY_USAGE]),
            "no extended key usage extension",
        ),
        (
            "cert_unknown_critical_extension",
            "unknown_critical_extension",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                add=[(x509.UnrecognizedExtension(_UNHANDLED_CRITICAL, b"\x05\x00"), True)],
            ),
            "an extra critical private extension",
        ),
        (
            "cert_digest_extension_critical",
            "unknown_critical_extension",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        digest_extension(HMAC_SHA256.dotted_string, digest),
                        True,
                    )
                },
            ),
            "the card-data digest extension marked critical",
        ),
        (
            "cert_ca_true",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={ExtensionOID.BASIC_CONSTRAINTS: (x509.BasicConstraints(True, 0), True)},
            ),
            "card certificate with basicConstraints cA TRUE",
        ),
        (
            "cert_key_cert_sign",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    ExtensionOID.KEY_USAGE: (
                        x509.KeyUsage(
                            digital_signature=True,
                            content_commitment=False,
                            key_encipherment=False,
                            data_encipherment=False,
                            key_agreement=False,
                            key_cert_sign=True,
                            crl_sign=False,
                            encipher_only=False,
                            decipher_only=False,
                        ),
                        True,
                    )
                },
            ),
            "card certificate key usage includes keyCertSign",
        ),
        (
            "cert_no_digest_extension",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                remove=[CARD_DATA_DIGEST_EXTENSION],
            ),
            "no card-data digest extension",
        ),
        (
            "cert_digest_extension_ber_indefinite_length",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        ber_digest_extension(digest, indefinite=True),
                        False,
                    )
                },
            ),
            "the right digest, but the extension value is BER (indefinite length), not DER",
        ),
        (
            "cert_digest_extension_ber_long_form_length",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        ber_digest_extension(digest, indefinite=False),
                        False,
                    )
                },
            ),
            "the right digest, but its OCTET STRING length is in non-minimal long form",
        ),
        (
            "cert_subject_without_common_name",
            "cert_profile_violation",
            rebuild(cert, signing_key=main.issuer_key, subject=x509.Name([])),
            "empty subject: no credential id",
        ),
        (
            "cert_subject_two_common_names",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                subject=x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, credential_id("card/main")),
                        x509.NameAttribute(NameOID.COMMON_NAME, credential_id("card/other")),
                    ]
                ),
            ),
            "two commonNames: which credential?",
        ),
        (
            "cert_digest_wrong_length",
            "cert_profile_violation",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        digest_extension(HMAC_SHA256.dotted_string, digest[:31]),
                        False,
                    )
                },
            ),
            "HMAC-SHA256 digest of 31 bytes",
        ),
        (
            "cert_digest_algorithm_reserved",
            "digest_algorithm_unsupported",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        digest_extension(DIGEST_ARGON2ID_HMAC_RESERVED.dotted_string, digest),
                        False,
                    )
                },
            ),
            "digest algorithm argon2id-hmac (reserved, not implemented)",
        ),
        (
            "cert_digest_algorithm_hmac_sha512",
            "digest_algorithm_unsupported",
            rebuild(
                cert,
                signing_key=main.issuer_key,
                replace={
                    CARD_DATA_DIGEST_EXTENSION: (
                        digest_extension("1.2.840.113549.2.11", digest + digest),
                        False,
                    )
                },
            ),
            "digest algorithm id-hmacWithSHA512",
        ),
    ):
        leaf_case(name, code, der(leaf_cert), description)

    # --- revocation ----------------------------------------------------------------------
    for name, code, status, description, policy in (
        (
            "status_revoked",
            "cert_revoked",
            ocsp_response(cert, main, status=ocsp.OCSPCertStatus.REVOKED),
            "OCSP says revoked (keyCompromise)",
            None,
        ),
        (
            "status_stale_max_age",
            "status_stale",
            ocsp_response(cert, main, this_update=NOW - timedelta(days=2)),
            "thisUpdate two days ago, max age one day",
            None,
        ),
        (
            "status_stale_next_update_passed",
            "status_stale",
            ocsp_response(
                cert,
                main,
                this_update=NOW - timedelta(hours=12),
                next_update=NOW - timedelta(hours=1),
            ),
            "nextUpdate one hour ago",
            None,
        ),
        (
            "status_from_the_future",
            "status_invalid",
            ocsp_response(cert, main, this_update=NOW + timedelta(hours=1)),
            "thisUpdate one hour ahead",
            None,
        ),
        (
            "status_for_another_certificate",
            "status_invalid",
            v.files[reissued_good],
            "stapled OCSP response about another serial number",
            None,
        ),
        (
            "status_signed_by_root",
            "status_invalid",
            ocsp_response(cert, main, responder=(main.root, main.root_key)),
            "signed by the root, not the issuer CA",
            None,
        ),
        (
            "status_signature_invalid",
            "status_invalid",
            ocsp_response(cert, main, signing_key=p256_key("ocsp/stranger")),
            "names the issuer CA as responder but another key signed it",
            None,
        ),
        (
            "status_unknown_hard_fail",
            "status_unavailable",
            ocsp_response(cert, main, status=ocsp.OCSPCertStatus.UNKNOWN),
            "the responder does not know the certificate; hard-fail",
            None,
        ),
        (
            "status_unknown_soft_fail",
            "ok",
            ocsp_response(cert, main, status=ocsp.OCSPCertStatus.UNKNOWN),
            "the responder does not know the certificate; soft-fail accepts",
            {"require_revocation_status": False},
        ),
        (
            "status_unsupported_signature_algorithm",
            "status_invalid",
            ocsp_response(cert, main, signature_algorithm="1.2.840.10045.4.3.9"),
            "signatureAlgorithm is an unknown OID",
            None,
        ),
        (
            "status_unsupported_cert_id_hash",
            "status_invalid",
            ocsp_response(cert, main, edit=_unknown_cert_id_hash),
            "CertID hashAlgorithm is an unknown OID; validly signed",
            None,
        ),
    ):
        stem = name.replace("_", "-")
        status_path = v.add(f"ocsp/{stem}.der", status)
        verify_case(
            name,
            code,
            present(f"presentations/{stem}.json", cert, key, status=v.files[status_path]),
            description,
            policy=policy,
        )
    no_status = present("presentations/no-status.json", cert, key)
    verify_case(
        "no_status_hard_fail",
        "status_unavailable",
        no_status,
        "no stapled status and none fetched; hard-fail",
    )
    verify_case(
        "no_status_soft_fail",
        "ok",
        no_status,
        "no stapled status and none fetched; soft-fail accepts",
        policy={"require_revocation_status": False},
    )
    verify_case(
        "live_status_for_another_certificate",
        "status_invalid",
        no_status,
        "a fetched status about the re-issued certificate handed in for this one",
        live_status={"file": reissued_good, "certificate": "certs/card-reissued.pem"},
    )
    verify_case(
        "live_status_good",
        "ok",
        no_status,
        "no staple; a fetched good status",
        live_status={"file": "ocsp/good.der", "certificate": cert_pem},
    )

    # --- trust store ---------------------------------------------------------------------
    v.case(
        name="no_trust_anchors",
        kind="trust_store",
        description="ChainVerifier([]) fails closed",
        now=None,
        expected="no_trust_anchors",
        files={"trust_anchors": []},
    )
    v.case(
        name="one_trust_anchor",
        kind="trust_store",
        description="ChainVerifier([root]) builds",
        now=None,
        expected="ok",
        files={"trust_anchors": [root_pem]},
    )
    v.case(
        name="load_card_certificate",
        kind="load_certificate",
        description="the card certificate loads",
        now=None,
        expected="ok",
        files={"certificate": cert_pem},
    )
    v.case(
        name="load_issuer_ca",
        kind="load_certificate",
        description="the issuer CA loads",
        now=None,
        expected="ok",
        files={"certificate": issuer_pem},
    )

    _presentation_cases(v, ok_wire)
    _transaction_cases(v, cert)
    _card_data_table(v)
    _jcs_cases(v, transaction_raw, cert)
    return v


def _unknown_cert_id_hash(tbs: asn1_ocsp.ResponseData) -> None:
    tbs["responses"][0]["cert_id"]["hash_algorithm"] = asn1_x509.DigestAlgorithm(
        {"algorithm": "2.16.840.1.101.3.4.2.99"}
    )


def _presentation_cases(v: Vectors, ok_wire: dict[str, Any]) -> None:
    """Malformed wire presentations (Presentation.parse)."""
    canonical_text = json.dumps(ok_wire, separators=(",", ":")).encode()

    def replaced(**changes: Any) -> bytes:
        return json.dumps({**ok_wire, **changes}, indent=2).encode() + b"\n"

    without_status = {k: ok_wire[k] for k in ok_wire if k != "status"}
    duplicate = canonical_text[:-1] + b',"version":1}'
    padded = ok_wire["signature"] + "=" * (-len(ok_wire["signature"]) % 4 or 4)
    last = ok_wire["signature"][-1]
    stray_bits = ok_wire["signature"][:-1] + ("B" if last == "A" else "A")
    bad_transaction = b64url_encode(b'{"amount":"12.30","amount":"12.30"}')
    cases: list[tuple[str, str, bytes, str]] = [
        ("presentation_ok", "ok", canonical_text, "the ok presentation, compact"),
        ("presentation_not_json", "presentation_malformed", b"version=1&signature=x", "form data"),
        ("presentation_not_utf8", "presentation_malformed", b'{"version":\xff}', "invalid UTF-8"),
        ("presentation_array", "presentation_malformed", b"[1]", "a JSON array"),
        ("presentation_empty", "presentation_malformed", b"", "no bytes"),
        (
            "presentation_missing_field",
            "presentation_malformed",
            json.dumps(without_status).encode(),
            "status is missing (it must be present, null when not stapled)",
        ),
        (
            "presentation_extra_field",
            "presentation_malformed",
            replaced(cardNumber="4111111111111111"),
            "an extra member",
        ),
        ("presentation_duplicate_key", "presentation_malformed", duplicate, "version twice"),
        ("presentation_version_2", "presentation_malformed", replaced(version=2), "version 2"),
        (
            "presentation_version_string",
            "presentation_malformed",
            replaced(version="1"),
            'version "1"',
        ),
        ("presentation_version_true", "presentation_malformed", replaced(version=True), "true"),
        (
            "presentation_chain_empty",
            "presentation_malformed",
            replaced(certificateChain=[]),
            "empty chain",
        ),
        (
            "presentation_chain_four",
            "presentation_malformed",
            replaced(certificateChain=ok_wire["certificateChain"] * 2),
            "four certificates",
        ),
        (
            "presentation_chain_not_list",
            "presentation_malformed",
            replaced(certificateChain=ok_wire["certificateChain"][0]),
            "chain is a string",
        ),
        (
            "presentation_signature_padded",
            "presentation_malformed",
            replaced(signature=padded),
            "base64url with = padding",
        ),
        (
            "presentation_signature_standard_base64",
            "presentation_malformed",
            replaced(signature=ok_wire["signature"].replace("-", "+").replace("_", "/") + "+/"),
            "standard base64 alphabet",
        ),
        (
            "presentation_signature_stray_bits",
            "presentation_malformed",
            replaced(signature=stray_bits),
            "non-canonical last base64url character",
        ),
        (
            "presentation_signature_empty",
            "presentation_malformed",
            replaced(signature=""),
            "empty signature",
        ),
        (
            "presentation_status_number",
            "presentation_malformed",
            replaced(status=0),
            "status is a number",
        ),
        (
            "presentation_secret_too_long",
            "presentation_malformed",
            replaced(cardDataSecret=b64url_encode(bytes(65))),
            "65-byte card-data secret",
        ),
        (
            "presentation_certificate_too_large",
            "presentation_malformed",
            replaced(certificateChain=[b64url_encode(bytes(4097)), ok_wire["certificateChain"][1]]),
            "4097-byte certificate",
        ),
        (
            "presentation_nested_too_deep",
            "presentation_malformed",
            replaced(status=[[[[[[[[["x"]]]]]]]]]),
            "nesting beyond the limit",
        ),
        (
            "presentation_transaction_malformed",
            "transaction_malformed",
            replaced(transaction=bad_transaction),
            "the signed transaction has a duplicate member",
        ),
    ]
    for name, code, data, description in cases:
        path = v.add(f"presentations/malformed/{name.removeprefix('presentation_')}.json", data)
        v.case(
            name=name,
            kind="parse_presentation",
            description=description,
            now=None,
            expected=code,
            files={"presentation": path},
        )


def _transaction_cases(v: Vectors, cert: x509.Certificate) -> None:
    """Transaction descriptions as signed bytes (TransactionDescription.parse)."""
    fingerprint = der_fingerprint(der(cert))
    base: dict[str, Any] = {
        "amount": AMOUNT,
        "certificateFingerprint": fingerprint,
        "checkoutId": CHECKOUT_ID,
        "confirmation": "explicit",
        "currency": CURRENCY,
        "merchantName": MERCHANT_NAME,
        "merchantOrigin": ORIGIN,
        "nonce": NONCE,
        "signedAt": "2026-06-01T11:59:30.000Z",
        "type": "cardcert.transaction",
        "version": 1,
    }

    def canonical(value: dict[str, Any]) -> bytes:
        # Sorted keys and no whitespace is RFC 8785 for these ASCII-keyed, string-valued
        # objects; written without certs.canonical_json so the vector is independent.
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def changed(**changes: Any) -> bytes:
        return canonical({**base, **changes})

    without_nonce = {k: base[k] for k in base if k != "nonce"}
    cases: list[tuple[str, str, bytes, str]] = [
        ("transaction_ok", "ok", canonical(base), "canonical, every field valid"),
        ("transaction_ok_jpy", "ok", changed(amount="1000", currency="JPY"), "JPY, no decimals"),
        ("transaction_ok_kwd", "ok", changed(amount="1.234", currency="KWD"), "KWD, 3 decimals"),
        (
            "transaction_ok_unicode_name",
            "ok",
            changed(merchantName="Café Ünïcødé 🛒 \u00d7"),
            "non-ASCII merchant name",
        ),
        ("transaction_ok_frictionless", "ok", changed(confirmation="frictionless"), "frictionless"),
        (
            "transaction_ok_localhost",
            "ok",
            changed(merchantOrigin="http://shop.localhost:8002"),
            "http on a secure-context development host",
        ),
        ("transaction_not_json", "transaction_malformed", b"amount=12.30", "not JSON"),
        ("transaction_array", "transaction_malformed", b"[]", "an array"),
        ("transaction_not_utf8", "transaction_malformed", b'{"amount":"\xff"}', "not UTF-8"),
        (
            "transaction_duplicate_key",
            "transaction_malformed",
            canonical(base)[:-1] + b',"amount":"99.99"}',
            "amount twice (parsers disagree on which one wins)",
        ),
        (
            "transaction_extra_field",
            "transaction_malformed",
            changed(shippingAddress="1 Main St"),
            "an extra member",
        ),
        (
            "transaction_missing_field",
            "transaction_malformed",
            canonical(without_nonce),
            "no nonce",
        ),
        (
            "transaction_amount_not_canonical",
            "transaction_malformed",
            changed(amount="12.3"),
            '"12.3" for EUR (needs two decimals)',
        ),
        (
            "transaction_amount_leading_zero",
            "transaction_malformed",
            changed(amount="012.30"),
            "leading zero",
        ),
        (
            "transaction_amount_negative",
            "transaction_malformed",
            changed(amount="-12.30"),
            "negative",
        ),
        (
            "transaction_amount_number",
            "transaction_malformed",
            changed(amount=12.3),
            "amount as a JSON number",
        ),
        (
            "transaction_amount_jpy_decimals",
            "transaction_malformed",
            changed(amount="1000.00", currency="JPY"),
            "JPY has no minor unit",
        ),
        (
            "transaction_currency_lower_case",
            "transaction_malformed",
            changed(currency="eur"),
            "currency in lower case",
        ),
        (
            "transaction_currency_unknown",
            "transaction_malformed",
            changed(currency="XXX"),
            "unsupported currency",
        ),
        ("transaction_version_2", "transaction_malformed", changed(version=2), "version 2"),
        (
            "transaction_version_float",
            "transaction_malformed",
            canonical(base).replace(b'"version":1', b'"version":1.0'),
            "version 1.0",
        ),
        ("transaction_version_true", "transaction_malformed", changed(version=True), "true"),
        ("transaction_type_wrong", "transaction_malformed", changed(type="payment"), "type"),
        (
            "transaction_origin_with_path",
            "transaction_malformed",
            changed(merchantOrigin="https://shop.example/checkout"),
            "a URL, not an origin",
        ),
        (
            "transaction_origin_upper_case",
            "transaction_malformed",
            changed(merchantOrigin="https://SHOP.example"),
            "not the serialised (lower-case) origin",
        ),
        (
            "transaction_origin_default_port",
            "transaction_malformed",
            changed(merchantOrigin="https://shop.example:443"),
            "default port written out",
        ),
        (
            "transaction_origin_plain_http",
            "transaction_malformed",
            changed(merchantOrigin="http://shop.example"),
            "http on a public host",
        ),
        (
            "transaction_nonce_too_short",
            "transaction_malformed",
            changed(nonce="AAAAAAAAAAAAAAAAAAAAA"),
            "21 characters (< 128 bits)",
        ),
        (
            "transaction_fingerprint_short",
            "transaction_malformed",
            changed(certificateFingerprint=fingerprint[:-1]),
            "42 characters",
        ),
        (
            "transaction_signed_at_offset",
            "transaction_malformed",
            changed(signedAt="2026-06-01T13:59:30.000+02:00"),
            "offset instead of Z",
        ),
        (
            "transaction_signed_at_impossible_date",
            "transaction_malformed",
            changed(signedAt="2026-02-30T11:59:30.000Z"),
            "February 30th",
        ),
        (
            "transaction_signed_at_leap_second",
            "transaction_malformed",
            changed(signedAt="2026-06-30T23:59:60.000Z"),
            "second 60",
        ),
        (
            "transaction_confirmation_unknown",
            "transaction_malformed",
            changed(confirmation="implicit"),
            "unknown confirmation",
        ),
        (
            "transaction_merchant_name_empty",
            "transaction_malformed",
            changed(merchantName=""),
            "empty merchant name",
        ),
        (
            "transaction_merchant_name_control",
            "transaction_malformed",
            changed(merchantName="Demo\nShop"),
            "control character in merchant name",
        ),
        (
            "transaction_merchant_name_too_long",
            "transaction_malformed",
            changed(merchantName="x" * 101),
            "101 characters",
        ),
        (
            "transaction_nested_value",
            "transaction_malformed",
            changed(merchantName={"name": MERCHANT_NAME}),
            "an object where a string belongs",
        ),
        (
            "transaction_nan",
            "transaction_malformed",
            canonical(base).replace(b'"version":1', b'"version":NaN'),
            "NaN is not JSON",
        ),
        (
            "transaction_not_canonical_whitespace",
            "transaction_malformed",
            json.dumps(base, indent=1, sort_keys=True).encode(),
            "valid fields, but not RFC 8785 canonical (whitespace)",
        ),
        (
            "transaction_not_canonical_key_order",
            "transaction_malformed",
            json.dumps(dict(reversed(base.items())), separators=(",", ":")).encode(),
            "valid fields, but members not sorted",
        ),
        (
            "transaction_not_canonical_escape",
            "transaction_malformed",
            canonical(base).replace(b'"Demo Shop"', b'"\\u0044emo Shop"'),
            "valid fields, but a needless \\u escape",
        ),
    ]
    for name, code, data, description in cases:
        path = v.add(f"transactions/{name.removeprefix('transaction_')}.json", data)
        v.case(
            name=name,
            kind="parse_transaction",
            description=description,
            now=None,
            expected=code,
            files={"transaction": path},
        )


def _luhn_complete(partial: str) -> str:
    """Append the Luhn check digit (ISO/IEC 7812-1), written independently of certs."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return partial + str((10 - total % 10) % 10)


def _card_data_table(v: Vectors) -> None:
    """CardData.parse inputs and the normalised result or error code."""
    pan12 = _luhn_complete("40000000001")
    pan19 = _luhn_complete("400000000000000000")
    bad_luhn = pan12[:-1] + str((int(pan12[-1]) + 1) % 10)
    base = {"pan": "4111111111111111", "expiry": "12/30", "security_code": "123", "name": None}
    normalised = {
        "pan": "4111111111111111",
        "expiry": "2030-12",
        "security_code": "123",
        "name": None,
    }
    rows: list[dict[str, Any]] = []

    def row(expected: str, changes: dict[str, Any], result: dict[str, Any] | None = None) -> None:
        entry: dict[str, Any] = {"input": {**base, **changes}, "expected": expected}
        if expected == "ok":
            entry["normalised"] = {**normalised, **(result or {})}
        rows.append(entry)

    row("ok", {})
    row("ok", {"pan": "4111 1111 1111 1111"})
    row("ok", {"pan": "4111-1111-1111-1111"})
    row("ok", {"pan": " 4111 1111-1111 1111 "})
    row("ok", {"pan": "4111\u00a01111\u00a01111\u00a01111"})
    row("ok", {"pan": pan12}, {"pan": pan12})
    row("ok", {"pan": pan19}, {"pan": pan19})
    row("ok", {"pan": "3782 822463 10005"}, {"pan": "378282246310005"})
    row("pan_invalid", {"pan": pan12[:-1]})
    row("pan_invalid", {"pan": pan19 + "0"})
    row("pan_invalid", {"pan": bad_luhn})
    row("pan_invalid", {"pan": "4111111111111112"})
    row("pan_invalid", {"pan": "4111 1111 1111 111a"})
    row("pan_invalid", {"pan": "\uff14" * 16})  # fullwidth digits
    row("pan_invalid", {"pan": "\u0664\u0661\u0661\u0661" * 4})  # Arabic-Indic digits
    row("pan_invalid", {"pan": ""})
    row("pan_invalid", {"pan": "4111/1111/1111/1111"})
    for text, year, month in (
        ("12/30", 2030, 12),
        ("12/2030", 2030, 12),
        ("1230", 2030, 12),
        ("122030", 2030, 12),
        ("2030-12", 2030, 12),
        ("1/30", 2030, 1),
        ("01/30", 2030, 1),
        ("1/2031", 2031, 1),
        (" 12 / 30 ", 2030, 12),
        ("12-30", 2030, 12),
        ("12.2030", 2030, 12),
        ("02/99", 2099, 2),
    ):
        row("ok", {"expiry": text}, {"expiry": f"{year:04d}-{month:02d}"})
    for text in ("13/30", "00/30", "0/30", "12/1999", "2030/12", "12/3", "", "12/30/30", "1 2/30"):
        row("expiry_invalid", {"expiry": text})
    row("ok", {"security_code": "1234"}, {"security_code": "1234"})
    row("ok", {"security_code": " 123 "})
    for text in ("12", "12345", "12a", "\u0661\u0662\u0663", "", "1 23"):
        row("security_code_invalid", {"security_code": text})
    row("ok", {"name": "  Jane   Q.  Cardholder "}, {"name": "Jane Q. Cardholder"})
    row("ok", {"name": "Jose\u0301 Ñu\u00f1ez"}, {"name": "Jos\u00e9 \u00d1u\u00f1ez"})
    row("ok", {"name": "   "}, {"name": None})
    row("ok", {"name": "x" * 64}, {"name": "x" * 64})
    row("name_invalid", {"name": "x" * 65})
    row("name_invalid", {"name": "Jane\u0000Doe"})
    row("name_invalid", {"name": "Jane\u200bDoe"})
    # Known answers for the card-data digest (docs/protocol.md 6), computed here with the
    # standard library from the documented encoding, not with certs.card_digest.
    digest_secret = secret("known-answer")
    encoded = b"\x00".join((b"cardcert-card-data-v1", b"4111111111111111", b"203012", b"123"))
    v.json(
        "card-data/parse-cases.json",
        {
            "cases": rows,
            "luhn": [
                {"digits": "79927398713", "valid": True},
                {"digits": "79927398710", "valid": False},
                {"digits": "4111111111111111", "valid": True},
                {"digits": "4111111111111112", "valid": False},
                {"digits": "378282246310005", "valid": True},
                {"digits": "0000000000000", "valid": True},
                {"digits": pan12, "valid": True},
                {"digits": pan19, "valid": True},
                {"digits": bad_luhn, "valid": False},
            ],
            "digest": {
                "card": {"pan": "4111 1111 1111 1111", "expiry": "12/30", "security_code": "123"},
                "secret_hex": digest_secret.hex(),
                "canonical_hex": encoded.hex(),
                "hmac_sha256_hex": hmac.new(digest_secret, encoded, hashlib.sha256).hexdigest(),
            },
        },
    )


def _jcs_cases(v: Vectors, transaction_raw: bytes, cert: x509.Certificate) -> None:
    """Inputs for the Python/JavaScript RFC 8785 agreement test, as JSON *text*.

    Each input is kept as text so that both sides parse the very same number literals and
    escapes. ``expected`` is written by hand from RFC 8785 where it is certain.
    """
    controls = "".join(chr(c) for c in range(0x20)) + "\u007f\u2028\u2029"
    short = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
    controls_expected = (
        '"' + "".join(short.get(c, f"\\u{c:04x}") for c in range(0x20)) + '\u007f\u2028\u2029"'
    )
    unicode_transaction = TransactionDescription.build(
        merchant_origin="https://xn--caf-dma.example",
        merchant_name="Café Ünïcødé 🛒 «ÄÖÜ» \u2013 東京 \u2013 مرحبا",
        amount="999999999999999999",
        currency="JPY",
        checkout_id="co_unicode",
        nonce=nonce("unicode"),
        signed_at=NOW,
        certificate_fingerprint=der_fingerprint(der(cert)),
    ).raw
    cases: list[dict[str, Any]] = [
        {
            "name": "rfc8785_sorting_example",
            "json": '{"\\u20ac":"Euro Sign","\\r":"Carriage Return",'
            '"\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",'
            '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control",'
            '"\\u00f6":"Latin Small Letter O With Diaeresis"}',
            "expected": '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
            '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
            '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
        },
        {
            "name": "utf16_order_differs_from_code_point_order",
            "json": '{"\\uff61":1,"\\ud83d\\ude00":2,"\\ue000":3,"\\u20ac":4}',
            "expected": '{"\u20ac":4,"\U0001f600":2,"\ue000":3,"\uff61":1}',
        },
        {
            "name": "euro_before_emoji",
            "json": '{"\\ud83d\\ude00":"emoji","\\u20ac":"euro"}',
            "expected": '{"\u20ac":"euro","\U0001f600":"emoji"}',
        },
        {
            "name": "combining_marks_not_normalised",
            "json": '{"Caf\\u00e9":"nfc","Cafe\\u0301":"nfd","Z\\u0335\\u0321a\\u0336l":"zalgo"}',
            "expected": '{"Cafe\u0301":"nfd","Caf\u00e9":"nfc","Z\u0335\u0321a\u0336l":"zalgo"}',
        },
        {
            "name": "emoji_sequences",
            "json": '{"family":"\\ud83d\\udc68\\u200d\\ud83d\\udc69\\u200d\\ud83d\\udc67",'
            '"flag":"\\ud83c\\uddeb\\ud83c\\uddf7","skin":"\\ud83d\\udc4d\\ud83c\\udffd",'
            '"bom":"\\ufeffx",'
            '"rtl":"\\u0645\\u0631\\u062d\\u0628\\u0627 \\u05e9\\u05dc\\u05d5\\u05dd"}',
        },
        {"name": "control_characters", "json": json.dumps(controls), "expected": controls_expected},
        {
            "name": "quotes_backslashes_slashes",
            "json": '["\\"", "\\\\", "\\/", "a\\\\\\"b", "</script>"]',
            "expected": '["\\"","\\\\","/","a\\\\\\"b","</script>"]',
        },
        {
            "name": "escaped_input_decoded",
            "json": '{"\\u0061":"\\u0041\\u00e9\\ud83d\\ude00"}',
            "expected": '{"a":"A\u00e9\U0001f600"}',
        },
        {
            "name": "whitespace_removed",
            "json": '{\n  "b" : [ 1 , 2 ] ,\n\t"a" : { "d" : true , "c" : null }\r\n}',
            "expected": '{"a":{"c":null,"d":true},"b":[1,2]}',
        },
        {
            "name": "numbers",
            "json": "[0,-0,-0.0,1,-1,1.0,100,1e2,9007199254740991,-9007199254740991,"
            "9007199254740992.0,1e21,1e20,123456789012345678e3,1e-7,1e-6,0.000001,0.1,0.2,"
            "0.30000000000000004,5e-324,1.7976931348623157e308,333333333.33333329,"
            "-1.5e-9,4.35,0.000021,1E+30,2.5e-5]",
            "expected": "[0,0,0,1,-1,1,100,100,9007199254740991,-9007199254740991,"
            "9007199254740992,1e+21,100000000000000000000,123456789012345680000,1e-7,"
            "0.000001,0.000001,0.1,0.2,0.30000000000000004,5e-324,1.7976931348623157e+308,"
            "333333333.3333333,-1.5e-9,4.35,0.000021,1e+30,0.000025]",
        },
        {
            "name": "sum_of_point_one_and_point_two",
            "json": '{"sum":0.30000000000000004,"parts":[0.1,0.2]}',
            "expected": '{"parts":[0.1,0.2],"sum":0.30000000000000004}',
        },
        {
            "name": "large_amounts_as_strings",
            "json": '{"amount":"999999999999999999.99","currency":"EUR",'
            '"minor":"99999999999999999999"}',
            "expected": '{"amount":"999999999999999999.99","currency":"EUR",'
            '"minor":"99999999999999999999"}',
        },
        {
            "name": "nested_objects_and_arrays",
            "json": '{"z":[{"b":2,"a":1},[[],{}],[3,[2,[1]]]],"a":{"z":{"y":{"x":[]}},'
            '"b":[true,false,null]},"m":{}}',
            "expected": '{"a":{"b":[true,false,null],"z":{"y":{"x":[]}}},"m":{},'
            '"z":[{"a":1,"b":2},[[],{}],[3,[2,[1]]]]}',
        },
        {
            "name": "integer_like_keys_sorted_as_strings",
            "json": '{"10":"ten","2":"two","1":"one","b":"b","":"empty","a":"a"}',
            "expected": '{"":"empty","1":"one","10":"ten","2":"two","a":"a","b":"b"}',
        },
        {
            "name": "prototype_named_keys",
            "json": '{"__proto__":{"polluted":true},"constructor":1,"toString":2,'
            '"hasOwnProperty":3}',
            "expected": '{"__proto__":{"polluted":true},"constructor":1,"hasOwnProperty":3,'
            '"toString":2}',
        },
        {"name": "scalars_true", "json": "true", "expected": "true"},
        {"name": "scalar_null", "json": "null", "expected": "null"},
        {"name": "scalar_string", "json": '"\\u00e9"', "expected": '"\u00e9"'},
        {"name": "empty_object", "json": "{}", "expected": "{}"},
        {"name": "empty_array", "json": "[]", "expected": "[]"},
        {
            "name": "transaction_description",
            "json": transaction_raw.decode(),
            "expected": transaction_raw.decode(),
        },
        {
            "name": "transaction_description_unicode",
            "json": unicode_transaction.decode(),
            "expected": unicode_transaction.decode(),
        },
        {
            "name": "transaction_description_reordered",
            "json": json.dumps(dict(reversed(list(json.loads(transaction_raw).items()))), indent=2),
            "expected": transaction_raw.decode(),
        },
    ]
    reject = [
        {"name": "lone_high_surrogate", "json": '"\\ud800"'},
        {"name": "lone_low_surrogate", "json": '"\\udc00"'},
        {"name": "reversed_surrogate_pair", "json": '"\\ude00\\ud83d"'},
        {"name": "lone_surrogate_in_key", "json": '{"\\ud800":1}'},
        {"name": "number_overflows_to_infinity", "json": "1e400"},
        {"name": "negative_infinity_in_object", "json": '{"a":-1e999}'},
    ]
    v.json(
        "jcs/cases.json",
        {
            "cases": cases,
            "reject": reject,
            # JavaScript values JSON text cannot express; jcs_runner.mjs builds them by name.
            "reject_javascript_values": [
                "NaN",
                "Infinity",
                "-Infinity",
                "undefined",
                "function",
                "symbol",
                "bigint",
                "cyclic object",
                "Date",
                "Map",
                "sparse array",
                "undefined member",
                "symbol key",
                "boxed number",
            ],
        },
    )


# --- main ----------------------------------------------------------------------------


def _manifest(v: Vectors) -> bytes:
    return _json_bytes(
        {
            "generator": "scripts/make_vectors.py",
            "now": _iso(NOW),
            "kinds": {
                "verify": "Presentation.parse, read_ocsp_response (stapled or live_status), "
                "then verify_presentation with ChainVerifier(trust_anchors)",
                "parse_presentation": "Presentation.parse(bytes)",
                "parse_transaction": "TransactionDescription.parse(bytes)",
                "load_certificate": "certs.chain.load_certificate(DER)",
                "trust_store": "ChainVerifier(trust_anchors)",
            },
            "cases": v.cases,
        }
    )


_README = """\
# certs test vectors

Written by `scripts/make_vectors.py`; do not edit by hand. Regenerate and review the diff:

    PYTHONPATH=. .venv/bin/python scripts/make_vectors.py

`manifest.json` lists every case: its kind (what the test calls), the files it uses, the
pinned validation time, what the merchant expects and the expected error code or `"ok"`.
Keys, serials, secrets and nonces are derived from fixed labels and everything is signed
with deterministic ECDSA, so regeneration is byte-identical unless `certs/` or the script
changed (`tests/certs/test_vectors.py::test_vectors_are_current` checks this).

    pki/            root and issuer CAs (trusted, another network, an impostor, a non-CA)
    certs/          card certificates; `.der` where the bytes are deliberately malformed
    ocsp/           OCSP responses built with OCSPResponseBuilder, signed by the issuer CA
    presentations/  wire presentations (`malformed/`: inputs to Presentation.parse)
    transactions/   signed transaction bytes for TransactionDescription.parse
    card-data/      card data as typed, and the CardData.parse table
    jcs/            RFC 8785 inputs for the Python/JavaScript agreement test
    paths/          certificate path negatives, written by scripts/make_path_vectors.py

The card numbers are public test PANs (4111 1111 1111 1111 and the like).
"""


def _all_files(v: Vectors) -> dict[str, bytes]:
    return {**v.files, "manifest.json": _manifest(v), "README.md": _README.encode()}


# Subdirectories another generator owns: neither compared nor removed here.
_OTHER_GENERATORS = ("paths",)  # scripts/make_path_vectors.py


def _existing(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.relative_to(directory).parts[0] not in _OTHER_GENERATORS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=VECTORS, help="output directory")
    args = parser.parse_args(argv)
    return sync_files(_all_files(generate()), _existing(args.out), args.out, check=args.check)


def sync_files(
    wanted: dict[str, bytes], existing: dict[str, bytes], out: Path, *, check: bool
) -> int:
    """Write ``wanted`` under ``out`` and remove what it no longer holds; with ``check``
    only report what differs (exit status 1 when anything does)."""
    stale = sorted(set(existing) - set(wanted))
    changed = sorted(path for path, data in wanted.items() if existing.get(path) != data)
    if check:
        for path in changed:
            print(f"out of date: {path}", file=sys.stderr)
        for path in stale:
            print(f"not generated: {path}", file=sys.stderr)
        return 1 if changed or stale else 0
    for path in stale:
        (out / path).unlink()
    for path in changed:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(wanted[path])
    print(f"{len(wanted)} files, {len(changed)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
