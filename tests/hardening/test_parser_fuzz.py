"""Parser fuzzing (issue 7): every parser of untrusted input raises only the project's errors.

For each parser, hypothesis feeds arbitrary input and structurally mutated valid input
(``tests/hardening/strategies.py``: DER TLV damage such as wrong, long-form, indefinite and
huge lengths, deep nesting, retagging and splices of other vectors; JSON member
replacement, hostile values, duplicates and re-encodings) built from ``tests/vectors/``.
Each test proves, for its parser:

* the only exception that escapes is the parser's documented error: a
  :class:`certs.errors.CardcertError` (``servicekit.errors.ServiceError`` is one) carrying
  one of the stable codes listed for it. Two parsers have a different documented
  contract and are held to it: the issuer's OCSP request parser answers
  :class:`issuer.ocsp_responder.OcspRequestRejected` (RFC 6960 errors are OCSP responses,
  not JSON), and ``verify_evidence`` / ``Verifier.evaluate`` never raise at all;
* what is accepted is valid and round-trips (re-encoding gives the same bytes or value),
  and no mutation of a signed input is accepted as something it does not say.

The default example counts keep this file well under 30 s and are derandomised (the
suite is reproducible). ``make fuzz`` sets ``CARDCERT_FUZZ_EXAMPLES`` (random seeds, many
more examples). Figures: ``fuzz examples`` (examples actually run, per parser) and
``foreign exceptions escaped`` (0 per parser, asserted).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from certs.canonical_json import canonical_json
from certs.card_data import CardData, luhn_valid
from certs.chain import ChainVerifier, _layout, load_certificate
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.digest_extension import (
    CardDataDigestExtension,
    decode_digest_extension,
    decode_digest_extension_with_schema,
    encode_digest_extension,
)
from certs.errors import CardcertError, MalformedPresentation
from certs.keys import load_p256_spki
from certs.money import CURRENCY_EXPONENTS, format_amount, is_canonical_amount, is_currency
from certs.oids import CARD_DATA_DIGEST_EXTENSION, CARDHOLDER_AUTHENTICATION_EKU, HMAC_SHA256
from certs.origin import is_serialised_origin, origin_of_url
from certs.presentation import Presentation
from certs.revocation import StatusSource, read_ocsp_response
from certs.transaction import TransactionDescription
from certs.verification import VerificationPolicy
from certs.wire import MAX_JSON_DEPTH, b64url_decode, b64url_encode, load_json_object
from issuer.activation_codes import ALPHABET, ActivationCode
from issuer.key_material import IssuerPki
from issuer.ocsp_responder import OcspRequestRejected, OcspResponder
from issuer.request_body import read_json_object as issuer_read_json_object
from issuer.wire_format import parse_card, parse_enrollment, parse_renewal, parse_revocation_reason
from merchant.checkouts import parse_card_data, parse_checkout_request
from merchant.evidence import EvidenceContext, EvidenceReport, build_evidence, verify_evidence
from merchant.issuer_directory import parse_issuer_metadata
from merchant.status import StatusResolver
from merchant.store import MerchantView
from merchant.verdict import VerdictResult
from merchant.verifier import Evaluation, ExpectedTransaction, Verifier
from servicekit.json_body import MAX_BODY_BYTES
from servicekit.json_body import read_json_object as servicekit_read_json_object
from servicekit.middleware import make_error_middleware
from tests import figures
from tests.certs.vectors import VECTORS, cases, certificate_der, manifest, read
from tests.expected_codes import CARD_DATA_CODES, CHAIN_CODES
from tests.hardening.live_app import LiveApp
from tests.hardening.strategies import (
    byte_mutations,
    der_element,
    der_mutations,
    json_document_mutations,
    json_text_mutations,
    parse_tlv,
    replace_element,
)

T = TypeVar("T")

# --- budget and bookkeeping -------------------------------------------------------------

_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")


def _fuzz(default: int, share: float = 1.0) -> settings:
    """``default`` examples in the suite (derandomised); under ``make fuzz``,
    ``CARDCERT_FUZZ_EXAMPLES * share`` with random seeds (``share`` < 1 for parsers
    reached over HTTP, whose examples cost milliseconds)."""
    return settings(
        max_examples=max(1, int(int(_EXPLORE) * share)) if _EXPLORE else default,
        deadline=None,
        derandomize=_EXPLORE is None,
        database=None if _EXPLORE is None else settings.default.database,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


EXAMPLES = "fuzz examples"
FOREIGN = "foreign exceptions escaped"


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one call returned, or the documented error it raised."""

    value: T | None = None
    error: BaseException | None = None


def attempt(
    parser: str,
    call: Callable[[], T],
    *,
    allowed: tuple[type[BaseException], ...] = (CardcertError,),
) -> Outcome[T]:
    """Run one example through ``parser``; any exception outside ``allowed`` is counted in
    ``foreign exceptions escaped`` and fails the test.

    Warnings are not exceptions in production, so a warning is not one here either (the
    suite's ``filterwarnings = error`` would otherwise turn cryptography's warnings about a
    non-positive serial or an over-long commonName into exceptions a service never sees).
    """
    figures.add(EXAMPLES, parser)
    figures.add(FOREIGN, parser, 0)
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            outcome: Outcome[T] = Outcome(value=call())
    except allowed as exc:
        outcome = Outcome(error=exc)
    except Exception as exc:
        figures.add(FOREIGN, parser)
        raise AssertionError(
            f"{parser}: {type(exc).__name__} escaped, not a project error: {exc!r}"
        ) from exc
    if currently_in_test_context():  # --hypothesis-show-statistics lists the outcomes
        code = getattr(outcome.error, "code", type(outcome.error).__name__)
        event(f"{parser}: {'accepted' if outcome.error is None else code}")
    return outcome


def rejected_with(outcome: Outcome[Any], codes: set[str]) -> bool:
    """Whether ``outcome`` is a rejection; a rejection must carry one of ``codes``."""
    if outcome.error is None:
        return False
    code = getattr(outcome.error, "code", None)
    assert code in codes, f"unexpected error code {code!r}"
    return True


# --- vectors ----------------------------------------------------------------------------

NOW = datetime.fromisoformat(manifest()["now"])
ROOT = x509.load_pem_x509_certificate(read("pki/root-ca.pem"))
ISSUER_DER = certificate_der("pki/issuer-ca.pem")
ISSUER = x509.load_der_x509_certificate(ISSUER_DER)
ROOT_DER = certificate_der("pki/root-ca.pem")
CARD_DER = certificate_der("certs/card.pem")
CARD = x509.load_der_x509_certificate(CARD_DER)


def _files(folder: str, *suffixes: str) -> list[str]:
    return sorted(
        str(path.relative_to(VECTORS))
        for path in (VECTORS / folder).rglob("*")
        if path.is_file() and path.suffix in suffixes
    )


def _der_or_none(path: str) -> bytes | None:
    data = certificate_der(path)
    try:
        parse_tlv(data)
    except ValueError:
        return None
    return data


CERTIFICATE_FILES = _files("certs", ".pem", ".der") + _files("pki", ".pem")
ALL_CERTIFICATES = [certificate_der(path) for path in CERTIFICATE_FILES]
# Seeds for structural mutation: the vectors that are DER at the TLV level.
DER_CERTIFICATES = [d for d in (_der_or_none(p) for p in CERTIFICATE_FILES) if d is not None]
OCSP_RESPONSES = [read(path) for path in _files("ocsp", ".der")]


def _json_objects(folder: str) -> list[dict[str, Any]]:
    found = []
    for path in _files(folder, ".json"):
        try:
            value = json.loads(read(path))
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


PRESENTATION_FILES = [read(path) for path in _files("presentations", ".json")]
PRESENTATIONS = _json_objects("presentations")
TRANSACTION_FILES = [read(path) for path in _files("transactions", ".json")]
TRANSACTIONS = _json_objects("transactions")


def _signed_transactions() -> frozenset[bytes]:
    """The transaction bytes of every presentation vector that parses (all signed)."""
    found = set()
    for data in PRESENTATION_FILES:
        try:
            found.add(Presentation.parse(data).transaction.raw)
        except CardcertError:
            continue
    return frozenset(found)


SIGNED_TRANSACTIONS = _signed_transactions()

_OCSP_CODES = {"status_invalid", "status_stale"}


def _valid_leaves() -> list[bytes]:
    """Every vector card certificate that validates under the vector issuer CA at NOW."""
    found = []
    for der in ALL_CERTIFICATES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                ChainVerifier([ROOT]).verify([der, ISSUER_DER], now=NOW)
        except CardcertError:
            continue
        found.append(der)
    assert CARD_DER in found
    return found


VALID_LEAVES = _valid_leaves()
VALID_LEAF_TBS = frozenset(
    x509.load_der_x509_certificate(d).tbs_certificate_bytes for d in VALID_LEAVES
)


# --- certificates: DER, chains, PEM -----------------------------------------------------


def test_every_certificate_vector_round_trips() -> None:
    """Valid vectors load and re-encode to the same bytes; broken ones are cert_malformed."""
    for path, der in zip(CERTIFICATE_FILES, ALL_CERTIFICATES, strict=True):
        outcome = attempt("certificate DER", lambda der=der: load_certificate(der))
        if not rejected_with(outcome, {"cert_malformed"}):
            assert outcome.value is not None
            assert outcome.value.public_bytes(serialization.Encoding.DER) == der, path


def _bit_string_common_name(der: bytes) -> bytes:
    """``der`` with its subject commonName re-typed as a BIT STRING (X.520 allows that
    type only for x500UniqueIdentifier)."""
    name = x509.load_der_x509_certificate(der).subject
    text = name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(text, str)
    value = text.encode()
    return replace_element(der, der_element(b"\x0c", value), der_element(b"\x03", b"\x00" + value))


@_fuzz(150)
@given(data=der_mutations(DER_CERTIFICATES) | st.sampled_from(ALL_CERTIFICATES) | st.binary())
@example(data=_bit_string_common_name(CARD_DER))  # found: TypeError escaped load_certificate
def test_certificate_der(data: bytes) -> None:
    """load_certificate: cert_malformed only; what it accepts is DER (re-encodes exactly)."""
    outcome = attempt("certificate DER", lambda: load_certificate(data))
    if not rejected_with(outcome, {"cert_malformed"}):
        assert outcome.value is not None
        assert outcome.value.public_bytes(serialization.Encoding.DER) == data
        assert outcome.value.version is x509.Version.v3
        # The offsets the chain check signs and compares names with are the fields'.
        layout = _layout(data)
        assert layout.tbs == outcome.value.tbs_certificate_bytes
        assert layout.signature_algorithms_agree


_presented_element = st.one_of(
    st.sampled_from([CARD_DER, ISSUER_DER, ROOT_DER]),
    der_mutations([CARD_DER], DER_CERTIFICATES),
    der_mutations([ISSUER_DER, ROOT_DER], DER_CERTIFICATES),
    st.sampled_from(ALL_CERTIFICATES),
    st.binary(max_size=64),
)


@_fuzz(150)
@given(
    chain=st.one_of(
        st.tuples(der_mutations([CARD_DER], DER_CERTIFICATES), st.just(ISSUER_DER)).map(list),
        st.tuples(st.just(CARD_DER), der_mutations([ISSUER_DER], DER_CERTIFICATES)).map(list),
        st.lists(_presented_element, max_size=5),
        st.tuples(st.sampled_from(VALID_LEAVES), st.just(ISSUER_DER)).map(list),
        st.tuples(st.sampled_from(VALID_LEAVES), st.just(ISSUER_DER), _presented_element).map(list),
    )
)
def test_presented_chain(chain: list[bytes]) -> None:
    """The chain a merchant reads (ChainVerifier.verify): path codes only, and nothing but
    a byte-for-byte valid card certificate under the real issuer CA validates."""
    verifier = ChainVerifier([ROOT])
    outcome = attempt("presented chain", lambda: verifier.verify(chain, now=NOW))
    if not rejected_with(outcome, CHAIN_CODES):
        verified = outcome.value
        assert verified is not None
        assert verified.leaf.tbs_certificate_bytes in VALID_LEAF_TBS
        assert verified.issuer_ca.tbs_certificate_bytes == ISSUER.tbs_certificate_bytes
        assert verified.leaf_der == chain[0]
        assert len(chain) == 2 or chain[2] == ROOT_DER


_PEM = ISSUER.public_bytes(serialization.Encoding.PEM).decode()
_PEM_BODY = "".join(_PEM.splitlines()[1:-1])


def _pem(der: bytes, width: int, label: str, newline: str) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + width] for i in range(0, len(text), width)] if width else [text]
    return newline.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


_pem_texts = st.one_of(
    st.just(_PEM),
    st.builds(
        _pem,
        der_mutations([ISSUER_DER], DER_CERTIFICATES) | st.sampled_from(ALL_CERTIFICATES),
        st.sampled_from([64, 76, 0, 1]),
        st.sampled_from(["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY"]),
        st.sampled_from(["\n", "\r\n", " "]),
    ),
    byte_mutations(_PEM.encode()).map(lambda b: b.decode("latin-1")),
    st.just(_PEM + _PEM),  # two certificates where one is expected
    st.just(_PEM.replace(_PEM_BODY[:64], _PEM_BODY[:64].replace("A", "*"), 1)),
    st.just("garbage\n" + _PEM + "trailing garbage"),
    st.text(max_size=200),
)


def _root_issued_tbs() -> frozenset[bytes]:
    found = set()
    for der in ALL_CERTIFICATES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                certificate = x509.load_der_x509_certificate(der)
                certificate.verify_directly_issued_by(ROOT)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm, x509.InvalidVersion):
            continue
        found.add(certificate.tbs_certificate_bytes)
    assert ISSUER.tbs_certificate_bytes in found
    return frozenset(found)


# The vector root also signed a non-CA "issuer" (not-ca-issuer-ca.pem): issuer metadata
# accepts it, and path validation then rejects every chain through it (cert_profile_violation).
_ROOT_ISSUED_TBS = _root_issued_tbs()
_METADATA = {
    "version": 1,
    "issuerName": "Demo Bank",
    "issuerOrigin": "https://bank.example",
    "payUrl": "https://bank.example/pay",
    "ocspUrl": "https://bank.example/ocsp",
    "binPrefixes": ["411111"],
    "caCertificate": _PEM,
}


@_fuzz(100)
@given(
    pem=_pem_texts,
    body=st.none() | json_document_mutations([_METADATA]),
)
# Found: a name that fails to decode, and a version other than v1-v3, escaped.
@example(pem=_pem(_bit_string_common_name(ISSUER_DER), 64, "CERTIFICATE", "\n"), body=None)
@example(
    pem=_pem(certificate_der("certs/cert-malformed-version-4.der"), 64, "CERTIFICATE", "\n"),
    body=None,
)
def test_certificate_pem_in_issuer_metadata(pem: str, body: bytes | None) -> None:
    """Issuer metadata (the merchant reads the issuer CA as PEM): issuer_metadata_invalid
    only; an accepted CA is byte for byte one of the certificates the root signed."""
    data = json.dumps(dict(_METADATA, caCertificate=pem)).encode() if body is None else body
    outcome = attempt(
        "certificate PEM (issuer metadata)", lambda: parse_issuer_metadata(data, roots=[ROOT])
    )
    if not rejected_with(outcome, {"issuer_metadata_invalid"}):
        info = outcome.value
        assert info is not None
        assert info.ca_certificate.tbs_certificate_bytes in _ROOT_ISSUED_TBS
        assert is_serialised_origin(info.origin)
        assert origin_of_url(info.pay_url) == info.origin


# --- re-signed mutations: past the signature, into the profile checks --------------------
#
# A mutated certificate or OCSP response almost never gets past its signature check. Here
# the mutated to-be-signed part is signed again with the real issuer (or root) key, so the
# checks that run only on authentically signed data are fuzzed too: the certificate profile
# (RFC 5280 6.1.4 and docs/protocol.md 5), the card-data digest extension in place, and the
# OCSP response's CertID, dates and status (RFC 6960 3.2).

_DEV_PKI = DevPki.create(now=NOW - timedelta(days=1))
_MINTED = CardholderCredential.issue(
    _DEV_PKI,
    CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123"),
    now=NOW,
    crl_url="https://bank.example/crl",
    ocsp_url="https://bank.example/ocsp",
).certificate
_DEV_ISSUER_DER = _DEV_PKI.issuer_ca.public_bytes(serialization.Encoding.DER)
_ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")  # RFC 5758 3.2, no parameters
_CHECKED_AT = NOW + timedelta(minutes=1)


def _signed(tbs: bytes, key: ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    """(signatureAlgorithm, signature BIT STRING) over ``tbs``, whatever ``tbs`` holds."""
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _ECDSA_WITH_SHA256, der_element(b"\x03", b"\x00" + signature)


def _resigned_certificate(tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    algorithm, signature = _signed(tbs, key)
    return der_element(b"\x30", tbs + algorithm + signature)


_TBS_DONORS = [
    _MINTED.tbs_certificate_bytes,
    _DEV_PKI.issuer_ca.tbs_certificate_bytes,
    *DER_CERTIFICATES,
]


_LEAF_TBS = _MINTED.tbs_certificate_bytes
_ISSUER_TBS = _DEV_PKI.issuer_ca.tbs_certificate_bytes
_mutated_leaf_tbs = der_mutations([_LEAF_TBS], _TBS_DONORS, well_formed=True) | der_mutations(
    [_LEAF_TBS], _TBS_DONORS
)


@_fuzz(150)
@given(
    tbs=st.one_of(
        st.tuples(_mutated_leaf_tbs, st.just(_ISSUER_TBS)),
        st.tuples(_mutated_leaf_tbs, st.just(_ISSUER_TBS)),
        st.tuples(st.just(_LEAF_TBS), der_mutations([_ISSUER_TBS], _TBS_DONORS, well_formed=True)),
        st.just((_LEAF_TBS, _ISSUER_TBS)),
    )
)
def test_resigned_certificates(tbs: tuple[bytes, bytes]) -> None:
    """Mutated card certificates re-signed by the issuer CA and mutated issuer CAs re-signed
    by the root: path codes only; an accepted path satisfies the whole profile."""
    leaf_tbs, issuer_tbs = tbs
    leaf_der = _resigned_certificate(leaf_tbs, _DEV_PKI.issuer_key)
    issuer_der = (
        _DEV_ISSUER_DER
        if issuer_tbs == _ISSUER_TBS
        else _resigned_certificate(issuer_tbs, _DEV_PKI.root_key)
    )
    verifier = ChainVerifier([_DEV_PKI.root])
    outcome = attempt(
        "re-signed chain", lambda: verifier.verify([leaf_der, issuer_der], now=_CHECKED_AT)
    )
    if rejected_with(outcome, CHAIN_CODES):
        return
    chain = outcome.value
    assert chain is not None
    leaf, issuer = chain.leaf, chain.issuer_ca
    basic = issuer.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    assert issuer.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert leaf.issuer == issuer.subject
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    assert (
        CARDHOLDER_AUTHENTICATION_EKU
        in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert all(
        not e.critical
        or e.oid
        in (ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE)
        for e in leaf.extensions
    )
    assert isinstance(chain.public_key.curve, ec.SECP256R1)
    assert 0 < leaf.serial_number < 2**159
    assert chain.card_data_digest.algorithm == HMAC_SHA256
    assert chain.card_data_digest.raw == encode_digest_extension(chain.card_data_digest.digest)
    assert leaf.not_valid_before_utc <= _CHECKED_AT <= leaf.not_valid_after_utc
    assert isinstance(chain.credential_id, str)


def _status_seed(status: ocsp.OCSPCertStatus, this_update: datetime) -> bytes:
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    return (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=_MINTED,
            issuer=_DEV_PKI.issuer_ca,
            algorithm=hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID, not a signature
            cert_status=status,
            this_update=this_update,
            next_update=this_update + timedelta(hours=12),
            revocation_time=this_update - timedelta(hours=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, _DEV_PKI.issuer_ca)
        .add_extension(x509.OCSPNonce(b"n" * 16), critical=False)
        .sign(_DEV_PKI.issuer_key, hashes.SHA256())
        .tbs_response_bytes
    )


_STATUS_TBS = [
    _status_seed(ocsp.OCSPCertStatus.GOOD, NOW - timedelta(minutes=5)),
    _status_seed(ocsp.OCSPCertStatus.REVOKED, NOW - timedelta(hours=2)),
    _status_seed(ocsp.OCSPCertStatus.UNKNOWN, NOW),
]
_OCSP_BASIC = bytes.fromhex("06092b0601050507300101")  # id-pkix-ocsp-basic (RFC 6960 4.2.1)


def _resigned_status(tbs: bytes) -> bytes:
    algorithm, signature = _signed(tbs, _DEV_PKI.issuer_key)
    basic = der_element(b"\x30", tbs + algorithm + signature)
    response_bytes = der_element(b"\x30", _OCSP_BASIC + der_element(b"\x04", basic))
    return der_element(b"\x30", b"\x0a\x01\x00" + der_element(b"\xa0", response_bytes))


@_fuzz(150)
@given(
    tbs=st.sampled_from(_STATUS_TBS)
    | der_mutations(_STATUS_TBS, [*_STATUS_TBS, *OCSP_RESPONSES], well_formed=True)
    | der_mutations(_STATUS_TBS, [*_STATUS_TBS, *OCSP_RESPONSES])
)
@example(  # found: CRLReason 7 (unused in RFC 5280 5.3.1) escaped as ValueError
    tbs=_STATUS_TBS[1].replace(b"\xa0\x03\x0a\x01\x01", b"\xa0\x03\x0a\x01\x07")
)
def test_resigned_ocsp_response(tbs: bytes) -> None:
    """Mutated OCSP responses re-signed by the issuer CA: status_invalid / status_stale
    only; an accepted one speaks for this certificate, is fresh at the time of the check
    and carries a known status (RFC 6960 3.2)."""
    data = _resigned_status(tbs)
    outcome = attempt(
        "re-signed OCSP response",
        lambda: read_ocsp_response(
            data,
            certificate=_MINTED,
            issuer_ca=_DEV_PKI.issuer_ca,
            now=_CHECKED_AT,
            max_age=timedelta(hours=6),
            source=StatusSource.STAPLED,
        ),
    )
    if rejected_with(outcome, _OCSP_CODES):
        return
    status = outcome.value
    assert status is not None
    assert status.serial_number == _MINTED.serial_number
    assert status.this_update is not None
    assert status.this_update <= _CHECKED_AT + timedelta(minutes=5)
    assert _CHECKED_AT - status.this_update <= timedelta(hours=6)
    assert status.next_update is None or status.next_update >= _CHECKED_AT
    assert str(status.status) in ("good", "revoked", "unknown")
    assert (status.revoked_at is not None) is (str(status.status) == "revoked")


# --- the card-data digest extension -----------------------------------------------------

_EXTENSION_KEY = ec.derive_private_key(0xF022, ec.SECP256R1())
_EXTENSION_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digest fuzz")])


def _with_extension(value: bytes) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_EXTENSION_NAME)
        .issuer_name(_EXTENSION_NAME)
        .public_key(_EXTENSION_KEY.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(CARD_DATA_DIGEST_EXTENSION, value), False)
        .sign(_EXTENSION_KEY, hashes.SHA256())
    )


_CANONICAL_DIGESTS = [encode_digest_extension(bytes([i]) * 32) for i in (0, 0x7F, 0x80, 0xFF)]
# A digest value whose algorithm is unknown, and the vectors' own extension values.
_DIGEST_SEEDS = [
    *_CANONICAL_DIGESTS,
    # id-hmacWithSHA512 (RFC 8018 B.1.2) in place of id-hmacWithSHA256: an unknown algorithm.
    _CANONICAL_DIGESTS[0].replace(
        bytes.fromhex("06082a864886f70d0209"), bytes.fromhex("06082a864886f70d020b")
    ),
]
for _der in ALL_CERTIFICATES:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            _value = load_certificate(_der).extensions.get_extension_for_oid(
                CARD_DATA_DIGEST_EXTENSION
            )
    except (CardcertError, x509.ExtensionNotFound):
        continue
    if isinstance(_value.value, x509.UnrecognizedExtension):
        _DIGEST_SEEDS.append(_value.value.value)


def _tlv_ok(data: bytes) -> bool:
    try:
        parse_tlv(data)
    except ValueError:
        return False
    return True


_DIGEST_DER_SEEDS = [seed for seed in dict.fromkeys(_DIGEST_SEEDS) if _tlv_ok(seed)]
_SCHEMA_ERRORS = (ValueError, TypeError, KeyError)


@_fuzz(150)
@given(
    value=der_mutations(_DIGEST_DER_SEEDS) | st.sampled_from(_DIGEST_SEEDS) | st.binary(max_size=80)
)
# Found: the fast decoder named the (unknown) algorithm of a value whose digest is no
# OCTET STRING, digest_algorithm_unsupported, where the schema finds it malformed.
@example(value=bytes.fromhex("3011020101300a06082a864886f70d020b0200"))
def test_digest_extension_decoders_agree(value: bytes) -> None:
    """The fast decoder (DER comparisons) raises only cert_profile_violation and
    digest_algorithm_unsupported; the asn1crypto schema decoder (the reference) only its
    documented ValueError/TypeError/KeyError; they agree on accept/reject and value, and
    canonical DER (X.690 10.1) is the only encoding accepted."""
    certificate = _with_extension(value)
    fast = attempt("digest extension (fast)", lambda: decode_digest_extension(certificate))
    schema = attempt(
        "digest extension (schema)",
        lambda: decode_digest_extension_with_schema(value),
        allowed=_SCHEMA_ERRORS,
    )
    if rejected_with(fast, {"cert_profile_violation", "digest_algorithm_unsupported"}):
        assert fast.error is not None
        if getattr(fast.error, "code", None) == "digest_algorithm_unsupported":
            assert schema.value is not None
            assert schema.value[0] != HMAC_SHA256.dotted_string
        elif schema.value is not None:
            # The schema reads it, so it is not the canonical v1 HMAC-SHA256 encoding.
            oid, version, digest = schema.value
            assert (oid, version, len(digest)) != (
                HMAC_SHA256.dotted_string,
                1,
                32,
            ) or value != encode_digest_extension(digest)
        return
    extension = fast.value
    assert isinstance(extension, CardDataDigestExtension)
    assert schema.value == (HMAC_SHA256.dotted_string, 1, extension.digest)
    assert value == encode_digest_extension(extension.digest) == extension.raw


# --- presentation JSON and the wire helpers ---------------------------------------------

_PRESENTATION_CODES = {"presentation_malformed", "transaction_malformed"}


def test_every_presentation_vector_round_trips() -> None:
    """Each presentation vector is parsed or rejected with its code; accepted ones
    serialise back to the same JSON object."""
    for data in PRESENTATION_FILES:
        outcome = attempt("presentation JSON", lambda data=data: Presentation.parse(data))
        if not rejected_with(outcome, _PRESENTATION_CODES):
            assert outcome.value is not None
            assert outcome.value.to_json() == json.loads(data)


def _as_input(data: bytes, form: int) -> bytes | str | dict[str, Any]:
    """The forms Presentation.parse is handed: bytes, text, or a decoded object."""
    if form == 1:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    if form == 2:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return data
        if isinstance(value, dict):
            return value
    return data


@_fuzz(200)
@given(
    data=json_document_mutations(PRESENTATIONS) | st.sampled_from(PRESENTATION_FILES),
    form=st.integers(0, 2),
)
def test_presentation_json(data: bytes, form: int) -> None:
    """Presentation.parse: presentation_malformed / transaction_malformed only; an accepted
    presentation re-parses from its own wire form to an equal value."""
    value = _as_input(data, form)
    outcome = attempt("presentation JSON", lambda: Presentation.parse(value))
    if not rejected_with(outcome, _PRESENTATION_CODES):
        presentation = outcome.value
        assert presentation is not None
        assert Presentation.parse(presentation.to_json()) == presentation
        assert Presentation.parse(json.dumps(presentation.to_json()).encode()) == presentation


_b64_alphabet = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n\u00e9",
    max_size=60,
)


@_fuzz(200)
@given(
    text=_b64_alphabet | st.text(max_size=30) | st.binary(max_size=40).map(b64url_encode),
    raw=st.binary(max_size=100),
)
def test_wire_base64url(text: str, raw: bytes) -> None:
    """b64url_decode: only the caller's error class; accepts exactly the canonical
    unpadded form, and decode(encode(bytes)) == bytes."""
    outcome = attempt(
        "wire base64url",
        lambda: b64url_decode(text, error=MalformedPresentation, what="field"),
    )
    if not rejected_with(outcome, {"presentation_malformed"}):
        assert outcome.value is not None
        assert b64url_encode(outcome.value) == text
    assert b64url_decode(b64url_encode(raw), error=MalformedPresentation, what="field") == raw


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@_fuzz(200)
@given(
    data=json_document_mutations([*PRESENTATIONS[:5], *TRANSACTIONS[:5]])
    | st.binary(max_size=200)
    | st.recursive(
        st.just("1"), lambda inner: inner.map(lambda t: "[" + t + "]"), max_leaves=50
    ).map(lambda t: ('{"a":' + t + "}").encode())
    | st.integers(MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH + 1).map(
        lambda d: ('{"a":' + "[" * d + "]" * d + "}").encode()
    ),
    as_text=st.booleans(),
)
@example(data=b'{"a":1e400}', as_text=False)  # found: read as Infinity (RFC 7493 2.2)
def test_wire_json_object(data: bytes, as_text: bool) -> None:
    """load_json_object (presentations, transactions, evidence, request bodies): only the
    caller's error; an accepted document is one object, at most MAX_JSON_DEPTH deep, with
    no NaN or infinities, and survives a JSON round trip unchanged."""
    value: bytes | str = data
    if as_text:
        value = data.decode("utf-8", "replace")
    outcome = attempt(
        "wire JSON object",
        lambda: load_json_object(value, error=MalformedPresentation, what="document"),
    )
    if not rejected_with(outcome, {"presentation_malformed"}):
        document = outcome.value
        assert isinstance(document, dict)
        assert _depth(document) <= MAX_JSON_DEPTH
        assert json.loads(json.dumps(document, allow_nan=False)) == document


# --- transaction descriptions -----------------------------------------------------------


def _origin_strategy() -> st.SearchStrategy[str]:
    label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
    host = st.lists(label, min_size=1, max_size=3).map(".".join)
    port = st.none() | st.integers(1, 65535).filter(lambda p: p != 443)
    return st.builds(
        lambda h, p: f"https://{h}" + ("" if p is None else f":{p}"), host, port
    ) | st.sampled_from(["http://localhost:8080", "http://shop.localhost", "http://127.0.0.1:9"])


_currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


def _amount(currency: str, units: int, minor: int) -> str:
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent == 0:
        return str(units)
    return f"{units}.{minor % 10**exponent:0{exponent}d}"


_b64url_text = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1
)


@st.composite
def _transactions(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(_currencies)
    signed_at = draw(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    ).replace(tzinfo=UTC)
    return {
        "type": "cardcert.transaction",
        "version": 1,
        "merchantOrigin": draw(_origin_strategy()),
        "merchantName": draw(
            st.text(
                st.characters(categories=["L", "M", "N", "P", "S"], include_characters=" "),
                min_size=1,
                max_size=100,
            ).filter(str.isprintable)
            | st.sampled_from(["Demo Shop", "Café Crème", "\u6771\u4eac", "\U0001f600 emoji"])
        ),
        "amount": _amount(currency, draw(st.integers(0, 10**12)), draw(st.integers(0, 999))),
        "currency": currency,
        "checkoutId": draw(_b64url_text.filter(lambda t: len(t) <= 64)),
        "nonce": b64url_encode(draw(st.binary(min_size=16, max_size=64))),
        "signedAt": signed_at.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{signed_at.microsecond // 1000:03d}Z",
        "certificateFingerprint": b64url_encode(draw(st.binary(min_size=32, max_size=32))),
        "confirmation": draw(st.sampled_from(["explicit", "frictionless"])),
    }


def _serialisations(document: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """The same object as RFC 8785 bytes and as other, non-canonical JSON texts."""
    canonical = canonical_json(document)
    return st.sampled_from(
        [
            canonical,
            json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
            json.dumps(
                document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode(),
            json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
            json.dumps(document, sort_keys=True).encode(),
            canonical + b"\n",
            b" " + canonical,
            canonical.replace(b'"version":1', b'"version":1.0'),
            canonical.replace(b'"version":1', b'"version":1e0'),
            canonical.replace(b"/", b"\\/"),
        ]
    )


@_fuzz(150)
@given(data=st.data(), document=_transactions())
def test_transaction_canonical_bytes(data: st.DataObject, document: dict[str, Any]) -> None:
    """TransactionDescription.parse accepts a valid transaction in exactly one encoding,
    its RFC 8785 form (docs/protocol.md 7); every other text of the same object is
    transaction_malformed. The parsed view matches the object (round trip)."""
    canonical = canonical_json(document)
    raw = data.draw(_serialisations(document))
    outcome = attempt("transaction description", lambda: TransactionDescription.parse(raw))
    if rejected_with(outcome, {"transaction_malformed"}):
        assert raw != canonical, "the canonical form of a valid transaction was rejected"
        return
    transaction = outcome.value
    assert transaction is not None
    assert raw == canonical
    assert transaction.raw == raw
    assert transaction.merchant_origin == document["merchantOrigin"]
    assert transaction.amount == document["amount"]
    assert transaction.nonce == document["nonce"]
    assert str(transaction.confirmation) == document["confirmation"]


def _canonical_or_raw(data: bytes) -> bytes:
    """Mutated documents re-canonicalised when possible, so damage gets past the
    canonical-bytes check and reaches the field checks."""
    try:
        value = json.loads(data)
        return canonical_json(value) if isinstance(value, dict) else data
    except (ValueError, RecursionError, TypeError):
        return data


@_fuzz(200)
@given(
    data=st.one_of(
        json_document_mutations(TRANSACTIONS).map(_canonical_or_raw),
        json_document_mutations(TRANSACTIONS),
        st.sampled_from(TRANSACTION_FILES).flatmap(json_text_mutations),
        st.sampled_from(TRANSACTION_FILES),
    )
)
def test_transaction_description(data: bytes) -> None:
    """Mutated transaction vectors: transaction_malformed only; an accepted one is its
    own RFC 8785 form and every field is within the profile."""
    outcome = attempt("transaction description", lambda: TransactionDescription.parse(data))
    if not rejected_with(outcome, {"transaction_malformed"}):
        transaction = outcome.value
        assert transaction is not None
        assert canonical_json(json.loads(data)) == data
        assert is_serialised_origin(transaction.merchant_origin)
        assert is_canonical_amount(transaction.amount, transaction.currency)
        assert transaction.signed_at.tzinfo is not None


# --- card data, as the merchant and the issuer read it ----------------------------------


@st.composite
def _pans(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[1-9][0-9]{10,17}", fullmatch=True))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _typed_pan(pan: str, style: int) -> str:
    groups = [pan[i : i + 4] for i in range(0, len(pan), 4)]
    return [pan, " ".join(groups), "-".join(groups), f"  {pan}\t", ".".join(groups)][style % 5]


def _typed_expiry(year: int, month: int, style: int) -> str:
    return [
        f"{month:02d}/{year % 100:02d}",
        f"{month}/{year % 100:02d}",
        f"{month:02d}/{year}",
        f"{month:02d}{year % 100:02d}",
        f"{year}-{month:02d}",
        f" {month:02d} / {year % 100:02d} ",
        f"{month:02d}.{year}",
    ][style % 7]


@_fuzz(150)
@given(
    pan=_pans(),
    expiry=st.tuples(st.integers(2000, 2099), st.integers(1, 12)),
    code=st.from_regex(r"[0-9]{3,4}", fullmatch=True),
    name=st.none() | st.text(max_size=70),
    style=st.integers(0, 34),
)
def test_card_data_round_trip(
    pan: str, expiry: tuple[int, int], code: str, name: str | None, style: int
) -> None:
    """Valid card data typed in any accepted style normalises to the same card; the only
    rejection is name_invalid (for an unprintable or over-long name)."""
    year, month = expiry
    outcome = attempt(
        "card data",
        lambda: CardData.parse(
            pan=_typed_pan(pan, style),
            expiry=_typed_expiry(year, month, style),
            security_code=code,
            name=name,
        ),
    )
    if rejected_with(outcome, {"name_invalid"}):
        return
    card = outcome.value
    assert card is not None
    assert (card.pan, card.expiry.year, card.expiry.month, card.security_code) == (
        pan,
        year,
        month,
        code,
    )
    assert card.canonical_bytes() == b"\x00".join(
        [b"cardcert-card-data-v1", pan.encode(), f"{year:04d}{month:02d}".encode(), code.encode()]
    )
    assert pan not in repr(card)


_CARD_DOCUMENTS = [
    {"pan": "4111 1111 1111 1111", "expiry": "12/30", "securityCode": "123", "name": "Jane"},
    {"pan": "5555555555554444", "expiry": "2031-01", "cvc": "0001"},
    {"pan": "4111111111111111", "expiry": "1230", "securityCode": "1234", "name": None},
]
_UNICODE_DIGITS = st.sampled_from(
    ["\u0661", "\u0969", "\uff11", "\U0001d7cf", "\u00b9", "\u2460", "\u0e51"]
)


@_fuzz(150)
@given(
    body=json_document_mutations(_CARD_DOCUMENTS)
    | st.tuples(st.sampled_from(_CARD_DOCUMENTS), _UNICODE_DIGITS, st.integers(0, 18)).map(
        lambda a: json.dumps(
            dict(a[0], pan=a[0]["pan"][: a[2]] + a[1] + a[0]["pan"][a[2] + 1 :])
        ).encode()
    )
)
def test_card_data_bodies(body: bytes) -> None:
    """Card data in the merchant's checkout/verify bodies (parse_card_data) and the
    issuer's card registration (parse_card): request_malformed or a card-data code only;
    accepted card data is ASCII digits with a valid Luhn check (Unicode digits never pass)."""
    outcome = attempt(
        "card data (request bodies)",
        lambda: load_json_object(body, error=MalformedPresentation, what="body"),
    )
    if outcome.value is None:
        return
    document = outcome.value
    codes = CARD_DATA_CODES | {"request_malformed"}
    for reader in (parse_card_data, parse_card):
        card = attempt("card data (request bodies)", lambda reader=reader: reader(document))
        if not rejected_with(card, codes):
            assert card.value is not None
            assert card.value.pan.isascii()
            assert card.value.pan.isdigit()
            assert luhn_valid(card.value.pan)
            assert card.value.security_code.isascii()
            assert card.value.security_code.isdigit()


# --- activation codes -------------------------------------------------------------------


def _typed_code(code: ActivationCode, style: int) -> str:
    shown = code.display()
    return [
        shown,
        shown.lower(),
        shown.replace("-", ""),
        shown.replace("-", " "),
        f"  {shown}\t",
        shown.replace("0", "O").replace("1", "I"),
        shown.replace("1", "l").lower(),
    ][style % 7]


@_fuzz(200)
@given(
    text=st.one_of(
        st.text(alphabet=ALPHABET + "oOiIlLuU- \t", max_size=24),
        st.text(max_size=70),
        st.sampled_from([None, 12, b"0123456789ABCDEF", ["0123"], "\u0131" * 16, "\ufb00" * 8]),
    ),
    style=st.integers(0, 6),
)
def test_activation_code(text: object, style: int) -> None:
    """ActivationCode.parse: activation_code_invalid only; accepted codes are 16 Crockford
    symbols; a generated code typed in any accepted style reads back as itself."""
    outcome = attempt("activation code", lambda: ActivationCode.parse(text))
    if not rejected_with(outcome, {"activation_code_invalid"}):
        assert outcome.value is not None
        assert len(outcome.value.symbols) == 16
        assert set(outcome.value.symbols) <= set(ALPHABET)
        assert ActivationCode.parse(outcome.value.display()) == outcome.value
    code = ActivationCode.generate()
    typed = _typed_code(code, style)
    assert attempt("activation code", lambda: ActivationCode.parse(typed)).value == code


# --- OCSP: the issuer's responder reads requests, the merchant reads responses ----------

_RESPONDER = OcspResponder(
    IssuerPki.of(_DEV_PKI.issuer_ca, _DEV_PKI.issuer_key), freshness=timedelta(hours=1)
)
_CERT_ID_HASHES = [
    hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID hash, not a signature
    hashes.SHA224(),
    hashes.SHA256(),
    hashes.SHA384(),
    hashes.SHA512(),
]


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _ocsp_request(
    issuer_ca: x509.Certificate,
    serial: int,
    algorithm: hashes.HashAlgorithm,
    nonce: bytes | None,
    foreign_issuer: bool,
) -> bytes:
    key = issuer_ca.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    name = issuer_ca.subject.public_bytes()
    if foreign_issuer:
        name = name + b"x"
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        _digest(algorithm, name), _digest(algorithm, key), serial, algorithm
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _ocsp_requests(issuer_ca: x509.Certificate) -> st.SearchStrategy[bytes]:
    return st.builds(
        _ocsp_request,
        st.just(issuer_ca),
        st.integers(1, 2**159 - 1),
        st.sampled_from(_CERT_ID_HASHES),
        st.none() | st.binary(max_size=40),
        st.booleans(),
    )


_REQUEST_SEEDS = [
    _ocsp_request(_DEV_PKI.issuer_ca, 0x1234, hashes.SHA1(), b"n" * 16, False),  # noqa: S303
    _ocsp_request(_DEV_PKI.issuer_ca, 2**150, hashes.SHA256(), None, False),
    _ocsp_request(_DEV_PKI.issuer_ca, 7, hashes.SHA512(), b"\x00", True),
]


@_fuzz(200)
@given(
    serial=st.integers(1, 2**159 - 1),
    algorithm=st.sampled_from(_CERT_ID_HASHES),
    nonce=st.none() | st.binary(max_size=40),
    mutated=st.none()
    | der_mutations(_REQUEST_SEEDS, [*_REQUEST_SEEDS, *OCSP_RESPONSES[:3]], well_formed=True)
    | der_mutations(_REQUEST_SEEDS, [*_REQUEST_SEEDS, *OCSP_RESPONSES[:3]]),
)
@example(  # found: a CertID hash OID cryptography does not know escaped as UnsupportedAlgorithm
    serial=1,
    algorithm=hashes.SHA256(),
    nonce=None,
    mutated=_REQUEST_SEEDS[0].replace(
        bytes.fromhex("06052b0e03021a"), bytes.fromhex("06052b0e03021b")
    ),
)
def test_ocsp_request_der(
    serial: int, algorithm: hashes.HashAlgorithm, nonce: bytes | None, mutated: bytes | None
) -> None:
    """OcspResponder.parse_request: OcspRequestRejected(malformedRequest) only (RFC 6960
    2.3); a well-formed request round-trips (serial, CertID hash, nonce) and a nonce is
    accepted only at 1-32 octets (RFC 8954 2.1)."""
    der = mutated or _ocsp_request(_DEV_PKI.issuer_ca, serial, algorithm, nonce, False)
    outcome = attempt(
        "OCSP request (DER)", lambda: _RESPONDER.parse_request(der), allowed=(OcspRequestRejected,)
    )
    if isinstance(outcome.error, OcspRequestRejected):
        assert outcome.error.status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        assert mutated is not None or (nonce is not None and not 1 <= len(nonce) <= 32)
        return
    query = outcome.value
    assert query is not None
    if mutated is None:
        assert query.serial_number == serial
        assert query.hash_algorithm.name == algorithm.name
        assert query.nonce == nonce
        assert _RESPONDER.is_ours(query) is (algorithm.name != "sha224")
    assert query.nonce is None or 1 <= len(query.nonce) <= 32


def _tbs(der: bytes) -> bytes | None:
    try:
        response = ocsp.load_der_ocsp_response(der)
        return response.tbs_response_bytes
    except ValueError:
        return None


_VALID_STATUS_TBS = frozenset(tbs for tbs in (_tbs(d) for d in OCSP_RESPONSES) if tbs is not None)


@_fuzz(200)
@given(
    data=der_mutations(OCSP_RESPONSES, [*OCSP_RESPONSES, CARD_DER, ISSUER_DER])
    | st.sampled_from(OCSP_RESPONSES)
    | st.binary(max_size=300),
    source=st.sampled_from([StatusSource.STAPLED, StatusSource.LIVE]),
)
def test_ocsp_response(data: bytes, source: StatusSource) -> None:
    """read_ocsp_response (stapled and live): status_invalid / status_stale only; an
    accepted response is about this certificate and its signed part is one the issuer CA
    signed (a vector), whatever was done to the bytes around it."""
    outcome = attempt(
        "OCSP response",
        lambda: read_ocsp_response(
            data,
            certificate=CARD,
            issuer_ca=ISSUER,
            now=NOW,
            max_age=timedelta(days=1),
            source=source,
        ),
    )
    if not rejected_with(outcome, _OCSP_CODES):
        status = outcome.value
        assert status is not None
        assert status.serial_number == CARD.serial_number
        assert status.source is source
        assert _tbs(data) in _VALID_STATUS_TBS


# --- evidence and the merchant's verify request -----------------------------------------

_OK_CASE = next(c for c in cases("verify") if c["name"] == "ok")


def _policy(case: dict[str, Any]) -> VerificationPolicy:
    policy = case["policy"]
    return VerificationPolicy(
        max_signing_age=timedelta(seconds=policy["max_signing_age_seconds"]),
        max_clock_skew=timedelta(seconds=policy["max_clock_skew_seconds"]),
        require_revocation_status=policy["require_revocation_status"],
        allow_frictionless=policy["allow_frictionless"],
    )


def _expected(case: dict[str, Any]) -> ExpectedTransaction:
    merchant = case["merchant"]
    return ExpectedTransaction(
        checkout_id=merchant["checkout_id"],
        nonce=merchant["nonce"],
        origin=merchant["origin"],
        merchant_name=merchant["merchant_name"],
        amount=merchant["amount"],
        currency=merchant["currency"],
    )


def _verifier(case: dict[str, Any]) -> Verifier:
    # No HTTP session: a live OCSP fetch fails at once (LiveOutcome.FAILED), as when the
    # issuer is unreachable; the stapled status is read as in production.
    status = StatusResolver(
        session=None,
        max_age=timedelta(seconds=case["status_max_age_seconds"]),
        timeout=1.0,
        cache_ttl=60.0,
    )
    return Verifier(chain_verifier=ChainVerifier([ROOT]), status=status, policy=_policy(case))


def _evaluate(case: dict[str, Any], presentation: object, card: CardData) -> Evaluation:
    now = datetime.fromisoformat(case["now"])
    return asyncio.run(
        _verifier(case).evaluate(
            expected=_expected(case),
            presentation=presentation,
            card_data=card,
            nonce_unused=case["nonce_unused"],
            now=now,
        )
    )


def _card(case: dict[str, Any]) -> CardData:
    values = json.loads(read(case["files"]["card_data"]))
    return CardData.parse(
        pan=values["pan"],
        expiry=values["expiry"],
        security_code=values["security_code"],
        name=values.get("name"),
    )


_EVIDENCE_CONTEXT = EvidenceContext(max_status_age=timedelta(days=1))
_VERIFY_CASES = [
    case
    for case in cases("verify")
    if case["files"]["trust_anchors"] == ["pki/root-ca.pem"] and "live_status" not in case
]


def _evidence(case: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        evaluation = _evaluate(case, read(case["files"]["presentation"]), _card(case))
    return build_evidence(evaluation, evidence_id="ev_fuzz", context=_EVIDENCE_CONTEXT)


_EVIDENCE_TEXTS = [_evidence(case) for case in _VERIFY_CASES]
_EVIDENCE_DOCUMENTS = [json.loads(text) for text in _EVIDENCE_TEXTS]


def test_every_vector_evidence_round_trips() -> None:
    """The evidence the merchant writes for each verify vector re-verifies offline."""
    for case, text in zip(_VERIFY_CASES, _EVIDENCE_TEXTS, strict=True):
        report = attempt(
            "evidence JSON", lambda text=text: verify_evidence(text, roots=[ROOT]), allowed=()
        )
        assert report.value is not None
        assert report.value.verified, (case["name"], report.value.code)


@_fuzz(150)
@given(
    data=json_document_mutations(_EVIDENCE_DOCUMENTS)
    | st.sampled_from(_EVIDENCE_TEXTS).map(str.encode)
)
# Found: each of these escaped verify_evidence (ValueError subclasses, OverflowError).
@example(data=_EVIDENCE_TEXTS[0][:-1].encode() + b',"x":1e400}')
@example(data=_EVIDENCE_TEXTS[0].replace('"result":"authenticated"', '"result":[]').encode())
@example(data=_EVIDENCE_TEXTS[0].replace('"code":null', '"code":[]', 1).encode())
@example(data=_EVIDENCE_TEXTS[0][:-1].encode() + b',"x":123456789012345678901234567890}')
@example(data=_EVIDENCE_TEXTS[0][:-1].encode() + b',"x":"\\ud800"}')
@example(
    data=_EVIDENCE_TEXTS[0]
    .replace('"maxSigningAgeSeconds":600', '"maxSigningAgeSeconds":1000000000000')
    .encode()
)
def test_evidence_json(data: bytes) -> None:
    """verify_evidence never raises, whatever the document (it reports a code instead);
    a report that says verified belongs to a document equal to one the merchant wrote."""
    outcome = attempt("evidence JSON", lambda: verify_evidence(data, roots=[ROOT]), allowed=())
    report = outcome.value
    assert isinstance(report, EvidenceReport)
    if report.verified:
        assert report.code is None
        assert json.loads(data) in _EVIDENCE_DOCUMENTS
    else:
        assert report.code


_VERIFY_PRESENTATIONS = st.one_of(
    json_document_mutations([json.loads(read("presentations/ok.json"))]),
    json_document_mutations(PRESENTATIONS),
    st.sampled_from(PRESENTATION_FILES),
)


def _as_body_value(data: bytes, form: int) -> object:
    """The presentation as a verify body carries it: a nested object, a string, or junk."""
    if form == 0:
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            return data.decode("utf-8", "replace")
    if form == 1:
        return data.decode("utf-8", "replace")
    return [None, 1, [], True][form % 4]


@_fuzz(100)
@given(
    presentation=_VERIFY_PRESENTATIONS,
    form=st.integers(0, 5),
    card=st.none() | json_document_mutations(_CARD_DOCUMENTS[:1]),
)
def test_merchant_verify_body(presentation: bytes, form: int, card: bytes | None) -> None:
    """POST /v1/checkouts/{id}/verify as the handler reads it: cardData through
    parse_card_data (request_malformed or card-data codes), the presentation through
    Verifier.evaluate, which never raises; only the untouched signed content can be
    authenticated, and the evidence of every attempt re-verifies offline."""
    card_data = _card(_OK_CASE)
    if card is not None:
        document = json.loads(card) if _json_object(card) else None
        parsed = attempt("merchant verify body", lambda: parse_card_data(document))
        if rejected_with(parsed, CARD_DATA_CODES | {"request_malformed"}):
            return
        assert parsed.value is not None
        card_data = parsed.value
    value = _as_body_value(presentation, form)
    evaluation = attempt(
        "merchant verify body", lambda: _evaluate(_OK_CASE, value, card_data), allowed=()
    ).value
    assert evaluation is not None
    if evaluation.verdict.result is VerdictResult.AUTHENTICATED:
        assert evaluation.presentation is not None
        assert evaluation.presentation.transaction.raw in SIGNED_TRANSACTIONS
        assert evaluation.chain is not None
        assert evaluation.chain.leaf.tbs_certificate_bytes in VALID_LEAF_TBS
    evidence = attempt(
        "evidence JSON",
        lambda: build_evidence(evaluation, evidence_id="ev_fuzz", context=_EVIDENCE_CONTEXT),
        allowed=(),
    ).value
    assert evidence is not None
    report = attempt("evidence JSON", lambda: verify_evidence(evidence, roots=[ROOT]), allowed=())
    assert report.value is not None
    assert report.value.verified, report.value.code


def _json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):
        return False


_MERCHANT = MerchantView(id="mer_fuzz", name="Fuzz Shop", allowed_origins=("https://shop.example",))
_CHECKOUT_BODIES = [
    {
        "amount": "12.30",
        "currency": "EUR",
        "returnUrl": "https://shop.example/return?order=1",
        "card": {"bin": "411111", "last4": "1111"},
        "orderReference": "order-1",
        "display": "popup",
    },
    {
        "amount": "1000",
        "currency": "JPY",
        "returnUrl": "https://shop.example/r",
        "cardData": _CARD_DOCUMENTS[0],
    },
]
_CHECKOUT_CODES = {
    "currency_invalid",
    "amount_invalid",
    "return_url_not_allowed",
    "card_hint_invalid",
    "request_malformed",
    *CARD_DATA_CODES,
}


@_fuzz(200)
@given(body=json_document_mutations(_CHECKOUT_BODIES))
def test_merchant_checkout_body(body: bytes) -> None:
    """POST /v1/checkouts (parse_checkout_request): its documented codes only; an accepted
    request has a canonical amount, an allowed return origin and a consistent card hint."""
    document = json.loads(body) if _json_object(body) else None
    if document is None:
        return
    outcome = attempt("merchant checkout body", lambda: parse_checkout_request(document, _MERCHANT))
    if not rejected_with(outcome, _CHECKOUT_CODES):
        request = outcome.value
        assert request is not None
        assert is_canonical_amount(request.amount, request.currency)
        assert request.origin in _MERCHANT.allowed_origins
        assert origin_of_url(request.return_url) == request.origin
        assert request.display in ("redirect", "popup")
        if request.card_data is not None:
            assert request.card_data.pan.startswith(request.card_bin)
            assert request.card_data.last4 == request.card_last4


# --- the issuer's enrollment, renewal and back-office bodies ----------------------------

_DEVICE_KEY = ec.derive_private_key(0xE170, ec.SECP256R1())
_SPKI = _DEVICE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
_SPKI_SEEDS = [
    _SPKI,
    ec.derive_private_key(5, ec.SECP384R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
]
_ENROLLMENT = {
    "activationCode": "ABCD-EFGH-JKMN-PQRS",
    "publicKey": b64url_encode(_SPKI),
    "cardDataSecret": b64url_encode(bytes(range(32))),
    "challenge": "ch_" + "A" * 40,
    "signature": b64url_encode(bytes(64)),
}
_ENROLLMENT_CODES = {
    "request_malformed",
    "activation_code_invalid",
    "public_key_malformed",
    "unsupported_key",
}


# id-ecPublicKey (1.2.840.10045.2.1) changed to an arc no library knows, same length.
_UNKNOWN_KEY_TYPE_SPKI = _SPKI.replace(
    bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0202")
)


@_fuzz(200)
@given(
    body=json_document_mutations([_ENROLLMENT])
    | der_mutations(_SPKI_SEEDS).map(
        lambda spki: json.dumps(dict(_ENROLLMENT, publicKey=b64url_encode(spki))).encode()
    )
)
@example(  # found: an SPKI of an unknown key type escaped as UnsupportedAlgorithm (a 500)
    body=json.dumps(dict(_ENROLLMENT, publicKey=b64url_encode(_UNKNOWN_KEY_TYPE_SPKI))).encode()
)
def test_issuer_enrollment_body(body: bytes) -> None:
    """POST /v1/enrollment (parse_enrollment) and the SPKI reader (load_p256_spki): their
    documented codes only; an accepted request holds a P-256 key (re-encoded
    canonically), a 32-byte secret and a well-formed activation code."""
    document = json.loads(body) if _json_object(body) else None
    if document is None:
        return
    outcome = attempt("issuer enrollment body", lambda: parse_enrollment(document))
    if not rejected_with(outcome, _ENROLLMENT_CODES):
        request = outcome.value
        assert request is not None
        assert isinstance(request.public_key.curve, ec.SECP256R1)
        assert request.public_key_der == _SPKI
        assert len(request.card_data_secret) == 32
        assert len(request.activation_code.symbols) == 16
    try:
        spki = b64url_decode(document.get("publicKey"), error=ValueError, what="publicKey")
    except ValueError:
        return
    key = attempt("SPKI (load_p256_spki)", lambda: load_p256_spki(spki))
    if not rejected_with(key, {"unsupported_key"}):
        assert key.value is not None
        assert (
            key.value.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == _SPKI
        )


@_fuzz(150)
@given(
    body=json_document_mutations(
        [
            {"certificate": b64url_encode(CARD_DER), "challenge": "c", "signature": "AA"},
            {"reason": "keyCompromise"},
        ]
    ),
)
def test_issuer_renewal_and_back_office_bodies(body: bytes) -> None:
    """POST /v1/credentials/renew and revocation bodies: request_malformed and
    revocation_reason_invalid only; an accepted renewal carries exactly the decoded
    certificate bytes."""
    document = json.loads(body) if _json_object(body) else None
    if document is None:
        return
    renewal = attempt("issuer renewal/revocation body", lambda: parse_renewal(document))
    if not rejected_with(renewal, {"request_malformed"}):
        assert renewal.value is not None
        assert b64url_encode(renewal.value.certificate_der) == document["certificate"]
    reason = attempt("issuer renewal/revocation body", lambda: parse_revocation_reason(document))
    if not rejected_with(reason, {"revocation_reason_invalid"}):
        assert reason.value is not None
        assert str(reason.value) == (document.get("reason") or "unspecified")


# --- origins and money ------------------------------------------------------------------

_url_parts = st.tuples(
    st.sampled_from(["https", "http", "HTTPS", "ftp", "javascript", "", "https:", "http"]),
    st.sampled_from(
        [
            "shop.example",
            "SHOP.example",
            "localhost",
            "a.localhost",
            "127.0.0.1",
            "[::1]",
            "xn--bcher-kva.example",
            "b\u00fccher.example",
            "user:pw@shop.example",
            "shop.example.",
            "-bad.example",
            "shop_example",
            "999.1.1.1",
            "%73hop.example",
            "",
            "shop.example\u3002com",
            "a" * 64 + ".example",
        ]
    ),
    st.sampled_from(["", ":443", ":80", ":0", ":65536", ":8080", ":-1", ":x", ":"]),
    st.sampled_from(["", "/", "/path?q=1", "?q", "#f", "/\u00e9"]),
).map(lambda p: f"{p[0]}://{p[1]}{p[2]}{p[3]}")


@_fuzz(300)
@given(url=_url_parts | st.text(max_size=40) | st.sampled_from([None, 1, b"https://x", "x" * 3000]))
def test_origin(url: Any) -> None:
    """origin_of_url and is_serialised_origin never raise; a derived origin is serialised
    (https, or http on a secure-context host), a fixed point, and has no path."""
    outcome = attempt("origin", lambda: origin_of_url(url), allowed=())
    serialised = attempt("origin", lambda: is_serialised_origin(url), allowed=())
    assert isinstance(serialised.value, bool)
    origin = outcome.value
    if origin is None:
        assert serialised.value is False
        return
    assert is_serialised_origin(origin)
    assert origin_of_url(origin) == origin
    assert origin.startswith(("https://", "http://localhost", "http://127.0.0.1")) or (
        origin.startswith("http://") and origin.split(":")[1].endswith(".localhost")
    )
    assert "/" not in origin.split("://", 1)[1]


@_fuzz(300)
@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(alphabet="0123456789.-+eE_ ", max_size=25)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from(["12.30", "1e3", "0.001", "١٢", "NaN", "-0", "0." + "0" * 40]),
    currency=_currencies | st.sampled_from(["eur", "XXX", ""]),
)
def test_money(amount: Decimal | str | int, currency: str) -> None:
    """format_amount raises only its documented ValueError and returns the canonical
    amount for the same value; is_canonical_amount never raises and accepts exactly what
    format_amount produces (round trip)."""
    outcome = attempt("money", lambda: format_amount(amount, currency), allowed=(ValueError,))
    if outcome.value is not None:
        text = outcome.value
        assert is_currency(currency)
        assert is_canonical_amount(text, currency)
        assert Decimal(text) == Decimal(amount)
        assert format_amount(text, currency) == text
    if isinstance(amount, str):
        canonical = attempt("money", lambda: is_canonical_amount(amount, currency), allowed=())
        if canonical.value:
            assert format_amount(amount, currency) == amount


# --- parsers behind real HTTP: the issuer's OCSP endpoint and JSON body readers ---------


@dataclass
class _LiveApp(LiveApp):
    """A live application the fuzzers drive with a plain blocking HTTP client."""

    def request(
        self, method: str, path: str, body: bytes | Iterator[bytes] | None, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                method,
                path,
                body=body,
                headers=headers,
                encode_chunked=not isinstance(body, bytes | None),
            )
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def live_issuer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[_LiveApp, x509.Certificate]]:
    """The real issuer application on SQLite (its OCSP endpoints need no enrolled card)."""
    from issuer.app import create_app
    from issuer.app_keys import RESOURCES
    from issuer.settings import IssuerSettings

    data_dir = tmp_path_factory.mktemp("fuzz-issuer")
    settings = IssuerSettings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir}/issuer.sqlite3",
        sweep_interval=3600.0,
        service_worker_dir=data_dir / "no-service-worker",
    )
    live = _LiveApp.start(create_app(settings))
    yield live, live.app[RESOURCES].pki.issuer_ca
    live.stop()


_OCSP_OUTCOMES = {
    ocsp.OCSPResponseStatus.SUCCESSFUL,
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    ocsp.OCSPResponseStatus.UNAUTHORIZED,
}


_MAX_REQUEST_LINE = 8190 - len("GET  HTTP/1.1")  # aiohttp's default max_line_size


def _get_paths(der: bytes, style: int) -> str:
    standard = base64.b64encode(der).decode()
    urlsafe = base64.urlsafe_b64encode(der).decode()
    return [
        quote(standard, safe=""),
        standard,  # '/' and '+' left raw
        urlsafe.rstrip("="),
        quote(quote(standard, safe=""), safe=""),  # encoded twice
        quote(standard.rstrip("=") + " ", safe=""),
    ][style % 5]


@_fuzz(40, share=0.1)
@given(
    data=st.data(),
    method=st.sampled_from(["GET", "POST"]),
    style=st.integers(0, 9),
)
def test_ocsp_request_over_http(
    live_issuer: tuple[_LiveApp, x509.Certificate], data: st.DataObject, method: str, style: int
) -> None:
    """The issuer's /ocsp endpoint, GET (RFC 6960 A.1 base64 path, also base64url and
    re-encoded) and POST (DER body): always HTTP 200 with an OCSP response of status
    successful, malformedRequest or unauthorized, never a 5xx; a well-formed request for
    this CA is answered successfully about its serial, with its nonce echoed."""
    live, issuer_ca = live_issuer
    valid = data.draw(_ocsp_requests(issuer_ca))
    der = data.draw(
        st.just(valid) | der_mutations([valid], _REQUEST_SEEDS) | st.binary(max_size=120)
    )
    if method == "GET":
        text = _get_paths(der, style)
        if style >= 5:
            text = data.draw(byte_mutations(text.encode())).decode("latin-1")
            text = quote(text, safe="/+=%")
        request: tuple[str, str, bytes | None] = ("GET", f"/ocsp/{text}", None)
    else:
        request = ("POST", "/ocsp", der)

    def call() -> tuple[int, str, bytes]:
        return live.request(*request, {"Content-Type": "application/ocsp-request"})

    outcome = attempt("OCSP request (HTTP GET/POST)", call)
    assert outcome.value is not None
    status, content_type, body = outcome.value
    if request[1] == "/ocsp/":
        assert status == 404  # no request in the path: not an OCSP URL at all
        return
    if len(request[1]) > _MAX_REQUEST_LINE:
        # aiohttp's HTTP parser refuses the request line itself (RFC 6960 A.1: GET is for
        # small requests; larger ones are POSTed).
        assert 400 <= status < 500
        return
    assert (status, content_type) == (200, "application/ocsp-response"), (status, body[:200])
    response = ocsp.load_der_ocsp_response(body)
    assert response.response_status in _OCSP_OUTCOMES
    if der == valid and request[0] == "POST":
        parsed = ocsp.load_der_ocsp_request(valid)
        nonce = next(
            (e.value.nonce for e in parsed.extensions if isinstance(e.value, x509.OCSPNonce)), None
        )
        if nonce is not None and not 1 <= len(nonce) <= 32:
            assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        elif response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
            assert response.serial_number == parsed.serial_number
            echoed = [
                e.value.nonce for e in response.extensions if isinstance(e.value, x509.OCSPNonce)
            ]
            assert echoed == ([] if nonce is None else [nonce])


async def _echo_servicekit(request: web.Request) -> web.Response:
    return web.json_response(await servicekit_read_json_object(request))


async def _echo_issuer(request: web.Request) -> web.Response:
    return web.json_response(await issuer_read_json_object(request))


@pytest.fixture(scope="module")
def body_readers() -> Iterator[_LiveApp]:
    """Both JSON body readers behind the services' own error middleware."""
    app = web.Application(
        middlewares=[make_error_middleware("fuzz")], client_max_size=MAX_BODY_BYTES
    )
    app.router.add_post("/servicekit", _echo_servicekit)
    app.router.add_post("/issuer", _echo_issuer)
    live = _LiveApp.start(app)
    yield live
    live.stop()


_BODY_CODES = {"unsupported_media_type", "payload_too_large", "request_malformed"}


def _chunks(body: bytes, cuts: list[int]) -> Iterator[bytes]:
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    for start, end in itertools.pairwise(points):
        if end > start:
            yield body[start:end]


@_fuzz(60, share=0.1)
@given(
    body=json_document_mutations([*_CHECKOUT_BODIES, _ENROLLMENT])
    | st.binary(max_size=100)
    | st.integers(MAX_BODY_BYTES - 20, MAX_BODY_BYTES + 20).map(
        lambda n: b'{"a":"' + b"x" * max(0, n - 8) + b'"}'
    ),
    path=st.sampled_from(["/servicekit", "/issuer"]),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "APPLICATION/JSON",
            "",
        ]
    ),
    cuts=st.none() | st.lists(st.integers(0, 2**16), max_size=6),
)
def test_json_request_bodies_over_http(
    body_readers: _LiveApp, body: bytes, path: str, content_type: str, cuts: list[int] | None
) -> None:
    """servicekit.json_body and issuer.request_body, as the merchant's checkout/verify and
    the issuer's enrollment handlers read bodies (whole, or chunked in pieces): never a
    5xx; a rejection is 4xx with one of their codes; an accepted body is returned exactly
    as load_json_object reads it."""
    headers = {"Content-Type": content_type} if content_type else {}
    payload: bytes | Iterator[bytes] = body if cuts is None else _chunks(body, cuts)
    outcome = attempt(
        "JSON request bodies (HTTP)", lambda: body_readers.request("POST", path, payload, headers)
    )
    assert outcome.value is not None
    status, _, answer = outcome.value
    document = json.loads(answer)
    if status == 200:
        assert document == load_json_object(body, error=MalformedPresentation, what="body")
        assert len(body) <= MAX_BODY_BYTES
        return
    assert 400 <= status < 500, (status, document)
    assert document["error"]["code"] in _BODY_CODES
