"""Property tests: untrusted input into the certs parsers raises only ``CardcertError``.

Random bytes, random JSON and single-byte mutations of the valid vectors go into every
function that reads untrusted input. Anything other than a ``CardcertError`` escaping is a
bug (a service would answer 500 instead of a stable error code). The examples are
derandomised so that the suite is reproducible; to explore, run with
``CARDCERT_FUZZ_EXAMPLES=5000`` (random seed, more examples).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.card_data import CardData, luhn_valid
from certs.chain import ChainVerifier, load_certificate
from certs.digest_extension import (
    CardDataDigestExtension,
    decode_digest_extension,
    decode_digest_extension_with_schema,
    encode_digest_extension,
)
from certs.errors import CardcertError
from certs.oids import ARC, CARD_DATA_DIGEST_EXTENSION, HMAC_SHA256
from certs.presentation import Presentation
from certs.revocation import StatusSource, read_ocsp_response
from certs.transaction import TransactionDescription
from certs.wire import b64url_encode
from tests import figures
from tests.certs.vectors import certificate_der, manifest, read
from tests.expected_codes import CARD_DATA_CODES, CHAIN_CODES

_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")
PROPERTY = settings(
    max_examples=int(_EXPLORE) if _EXPLORE else 200,
    deadline=None,
    derandomize=_EXPLORE is None,
    suppress_health_check=[HealthCheck.too_slow],
)

NOW = datetime.fromisoformat(manifest()["now"])
OK_PRESENTATION = read("presentations/ok.json")
OK_WIRE: dict[str, Any] = json.loads(OK_PRESENTATION)
OK_TRANSACTION = read("transactions/ok.json")
CARD_DER = certificate_der("certs/card.pem")
ISSUER_DER = certificate_der("pki/issuer-ca.pem")
GOOD_OCSP = read("ocsp/good.der")
CARD = x509.load_der_x509_certificate(CARD_DER)
ISSUER = x509.load_der_x509_certificate(ISSUER_DER)
ROOT = x509.load_pem_x509_certificate(read("pki/root-ca.pem"))

PRESENTATION_CODES = {"presentation_malformed", "transaction_malformed"}
TRANSACTION_CODES = {"transaction_malformed"}
CERTIFICATE_CODES = {"cert_malformed"}
DIGEST_CODES = {"cert_profile_violation", "digest_algorithm_unsupported"}
STATUS_CODES = {"status_invalid", "status_stale"}


@contextmanager
def _rejected_only_with(codes: set[str]) -> Iterator[None]:
    """Let a ``CardcertError`` with one of ``codes`` pass; anything else fails the test."""
    try:
        yield
    except CardcertError as exc:
        if exc.code not in codes:
            raise AssertionError(f"unexpected error code {exc.code}") from exc


@contextmanager
def _zero_serials_warn_only() -> Iterator[None]:
    # cryptography warns (CryptographyDeprecationWarning) on a non-positive serial and
    # chain.py then rejects it; the test config turns warnings into errors.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Parsed a serial number which wasn't positive",
            category=CryptographyDeprecationWarning,
        )
        yield


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """One byte replaced, inserted or removed, or the data cut short."""
    positions = st.integers(min_value=0, max_value=len(data) - 1)
    byte = st.integers(min_value=0, max_value=255)

    def replace(args: tuple[int, int]) -> bytes:
        at, value = args
        return data[:at] + bytes([value]) + data[at + 1 :]

    return st.one_of(
        st.tuples(positions, byte).map(replace),
        st.tuples(positions, byte).map(lambda a: data[: a[0]] + bytes([a[1]]) + data[a[0] :]),
        positions.map(lambda at: data[:at] + data[at + 1 :]),
        positions.map(lambda at: data[:at]),
    )


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
b64url_bytes = st.binary(max_size=200).map(b64url_encode)


# --- Presentation.parse --------------------------------------------------------------

presentation_fields = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 2, "1", True, 1.0, None]),
        "transaction": st.sampled_from([OK_WIRE["transaction"]]) | b64url_bytes | json_values,
        "signature": b64url_bytes | json_values,
        "certificateChain": st.lists(
            st.sampled_from(OK_WIRE["certificateChain"]) | b64url_bytes | json_scalars,
            max_size=4,
        )
        | json_values,
        "status": st.none() | b64url_bytes | json_values,
        "cardDataSecret": b64url_bytes | json_values,
        "extra": json_values,
    },
)


@PROPERTY
@given(
    data=st.binary(max_size=1024)
    | json_values.map(lambda v: json.dumps(v).encode())
    | presentation_fields.map(lambda v: json.dumps(v).encode())
    | mutations(OK_PRESENTATION)
)
def test_presentation_parse_bytes(data: bytes) -> None:
    figures.add("fuzz examples", "presentation_parse_bytes (certs properties)")
    with _rejected_only_with(PRESENTATION_CODES):
        presentation = Presentation.parse(data)
        assert presentation.signature
        assert 1 <= len(presentation.certificate_chain) <= 3


@PROPERTY
@given(obj=presentation_fields | st.dictionaries(st.text(max_size=12), json_values))
def test_presentation_parse_decoded_object(obj: dict[str, Any]) -> None:
    figures.add("fuzz examples", "presentation_parse_decoded_object (certs properties)")
    with _rejected_only_with(PRESENTATION_CODES):
        Presentation.parse(obj)


# --- TransactionDescription.parse ----------------------------------------------------

_TRANSACTION: dict[str, Any] = json.loads(OK_TRANSACTION)
transaction_objects = st.fixed_dictionaries(
    {},
    optional={
        name: st.sampled_from([value]) | json_scalars | st.text(max_size=90)
        for name, value in _TRANSACTION.items()
    },
)


@PROPERTY
@given(
    data=st.binary(max_size=1024)
    | json_values.map(lambda v: json.dumps(v).encode())
    | transaction_objects.map(
        lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")).encode()
    )
    | mutations(OK_TRANSACTION)
)
def test_transaction_parse(data: bytes) -> None:
    figures.add("fuzz examples", "transaction_parse (certs properties)")
    with _rejected_only_with(TRANSACTION_CODES):
        transaction = TransactionDescription.parse(data)
        assert transaction.raw == data
        assert transaction.signed_at.tzinfo is not None


# --- CardData.parse ------------------------------------------------------------------

typed = (
    st.text(max_size=30)
    | st.text(st.characters(categories=["Cs", "Nd", "Zs", "Cc"]), max_size=25)
    | st.from_regex(r"[0-9 .\-/]{0,24}", fullmatch=True)
)
not_text = st.none() | st.integers() | st.binary(max_size=8) | st.lists(st.integers(), max_size=2)


@PROPERTY
@given(
    pan=typed | not_text,
    expiry=typed | not_text,
    security_code=typed | not_text,
    name=st.none() | typed,
)
def test_card_data_parse(pan: Any, expiry: Any, security_code: Any, name: Any) -> None:
    figures.add("fuzz examples", "card_data_parse (certs properties)")
    with _rejected_only_with(CARD_DATA_CODES):
        card = CardData.parse(pan=pan, expiry=expiry, security_code=security_code, name=name)
        assert card.pan.isascii()
        assert card.pan.isdigit()
        assert 12 <= len(card.pan) <= 19
        assert luhn_valid(card.pan)
        assert 1 <= card.expiry.month <= 12
        assert card.security_code.isascii()
        assert card.security_code.isdigit()
        assert 3 <= len(card.security_code) <= 4
        assert card.name is None or (card.name.isprintable() and len(card.name) <= 64)
        assert card.pan not in repr(card)


# --- certificates --------------------------------------------------------------------


@PROPERTY
@given(data=st.binary(max_size=1200) | mutations(CARD_DER) | mutations(ISSUER_DER))
def test_load_certificate(data: bytes) -> None:
    figures.add("fuzz examples", "load_certificate (certs properties)")
    with _zero_serials_warn_only(), _rejected_only_with(CERTIFICATE_CODES):
        certificate = load_certificate(data)
        assert certificate.version is x509.Version.v3


@PROPERTY
@given(
    chain=st.one_of(
        mutations(CARD_DER).map(lambda leaf: [leaf, ISSUER_DER]),
        mutations(ISSUER_DER).map(lambda issuer: [CARD_DER, issuer]),
    )
)
def test_chain_verifier(chain: list[bytes]) -> None:
    figures.add("fuzz examples", "chain_verifier (certs properties)")
    verifier = ChainVerifier([ROOT])
    with _zero_serials_warn_only(), _rejected_only_with(CHAIN_CODES):
        verified = verifier.verify(chain, now=NOW)
        assert verified.leaf_der == chain[0]


_EXTENSION_KEY = ec.derive_private_key(0xCA4DCE27, ec.SECP256R1())
_EXTENSION_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digest extension")])


def _with_extension(value: bytes, critical: bool) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_EXTENSION_NAME)
        .issuer_name(_EXTENSION_NAME)
        .public_key(_EXTENSION_KEY.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(CARD_DATA_DIGEST_EXTENSION, value), critical)
    )
    return builder.sign(_EXTENSION_KEY, hashes.SHA256())


class _DigestShape(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """CardDataDigest's outline with any parameters: right shape, arbitrary contents."""

    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("version", core.Integer),
        ("digest_algorithm", core.Sequence),
        ("digest", core.OctetString),
    ]


class _AnyAlgorithm(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


def _digest_value(version: int, algorithm: str, parameters: bytes | None, digest: bytes) -> bytes:
    algorithm_identifier = _AnyAlgorithm({"algorithm": algorithm})
    if parameters is not None:
        algorithm_identifier["parameters"] = core.Any.load(parameters)
    value = _DigestShape(
        {
            "version": version,
            "digest_algorithm": core.Sequence.load(algorithm_identifier.dump()),
            "digest": digest,
        }
    )
    return bytes(value.dump())


digest_values = st.builds(
    _digest_value,
    st.integers(min_value=-2, max_value=2**70),
    st.sampled_from(
        [HMAC_SHA256.dotted_string, f"{ARC}.4.1", "1.2.840.113549.2.11", "2.5.29.99999"]
    ),
    # absent, NULL, and well-formed TLVs that are not NULL
    st.sampled_from([None, b"\x05\x00", b"\x04\x00", b"\x02\x01\x00", b"\x30\x00"]),
    st.binary(min_size=0, max_size=40) | st.binary(min_size=32, max_size=32),
)


CANONICAL_DIGEST_VALUE = encode_digest_extension(bytes(range(32)))


@PROPERTY
@given(
    value=st.binary(max_size=120) | digest_values | mutations(CANONICAL_DIGEST_VALUE),
    critical=st.booleans(),
)
def test_decode_digest_extension(value: bytes, critical: bool) -> None:
    figures.add("fuzz examples", "decode_digest_extension (certs properties)")
    certificate = _with_extension(value, critical)
    with _rejected_only_with(DIGEST_CODES):
        extension = decode_digest_extension(certificate)
        assert not critical
        assert extension.algorithm == HMAC_SHA256
        assert len(extension.digest) == 32
        assert extension.raw == value


# --- OCSP ----------------------------------------------------------------------------


@PROPERTY
@given(data=st.binary(max_size=600) | mutations(GOOD_OCSP))
def test_read_ocsp_response(data: bytes) -> None:
    figures.add("fuzz examples", "read_ocsp_response (certs properties)")
    with _rejected_only_with(STATUS_CODES):
        status = read_ocsp_response(
            data,
            certificate=CARD,
            issuer_ca=ISSUER,
            now=NOW,
            max_age=timedelta(days=1),
            source=StatusSource.STAPLED,
        )
        assert status.serial_number == CARD.serial_number


@PROPERTY
@given(value=st.binary(max_size=120) | digest_values | mutations(CANONICAL_DIGEST_VALUE))
def test_fast_digest_decoder_agrees_with_the_schema(value: bytes) -> None:
    """decode_digest_extension (DER comparisons) against the asn1crypto reference decoder."""
    figures.add("fuzz examples", "fast_digest_decoder_agrees_with_the_schema (certs properties)")
    try:
        fast: CardDataDigestExtension | str = decode_digest_extension(_with_extension(value, False))
    except CardcertError as exc:
        fast = exc.code
    try:
        schema: tuple[str, int, bytes] | None = decode_digest_extension_with_schema(value)
    except (ValueError, TypeError, KeyError):
        schema = None
    if isinstance(fast, CardDataDigestExtension):
        assert schema == (fast.algorithm.dotted_string, 1, fast.digest)
    elif fast == "digest_algorithm_unsupported":
        assert schema is not None
        assert schema[0] != HMAC_SHA256.dotted_string
    else:
        assert fast == "cert_profile_violation"
    if (
        schema is not None
        and schema[:2] == (HMAC_SHA256.dotted_string, 1)
        and len(schema[2]) == 32
        and value == encode_digest_extension(schema[2])
    ):
        assert isinstance(fast, CardDataDigestExtension)  # canonical DER is always accepted
