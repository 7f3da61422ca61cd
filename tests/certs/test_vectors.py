"""Every case of tests/vectors/manifest.json: one test per vector, asserting on codes only."""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certs.chain import ChainVerifier
from certs.errors import CardcertError, all_error_classes
from certs.keys import der_fingerprint
from certs.presentation import Presentation
from certs.revocation import CertStatus, StatusSource
from certs.transaction import TransactionDescription
from certs.verification import VerifiedPresentation
from tests.certs.vectors import (
    VECTORS,
    Case,
    cases,
    certificate_der,
    generator_check,
    manifest,
    read,
    run_case,
)

# The reject paths the certs core documents; each needs at least one negative vector.
REQUIRED_CODES = frozenset(
    {
        "cert_expired",
        "cert_not_yet_valid",
        "untrusted_root",
        "wrong_eku",
        "cert_signature_invalid",
        "cert_malformed",
        "signature_invalid",
        "signature_malformed",
        "origin_mismatch",
        "merchant_name_mismatch",
        "amount_mismatch",
        "currency_mismatch",
        "nonce_mismatch",
        "checkout_id_mismatch",
        "certificate_fingerprint_mismatch",
        "signing_time_out_of_window",
        "card_data_mismatch",
        "presentation_malformed",
        "transaction_malformed",
        "unsupported_key",
        "unknown_critical_extension",
        "cert_profile_violation",
        "digest_algorithm_unsupported",
        "nonce_replayed",
        "cert_revoked",
        "status_stale",
        "status_invalid",
        "status_unavailable",
        "confirmation_not_accepted",
        "no_trust_anchors",
    }
)


def _ids(case: Case) -> str:
    return str(case["name"])


REJECTED = [case for case in cases() if case["expected"] != "ok"]
ACCEPTED = [case for case in cases() if case["expected"] == "ok"]


@pytest.mark.parametrize("case", REJECTED, ids=_ids)
def test_vector_rejected(case: Case) -> None:
    with pytest.raises(CardcertError) as excinfo:
        run_case(case)
    assert excinfo.value.code == case["expected"]


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids)
def test_vector_accepted(case: Case) -> None:
    result = run_case(case)
    match case["kind"]:
        case "verify":
            assert isinstance(result, VerifiedPresentation)
            merchant = case["merchant"]
            transaction = result.transaction
            assert transaction.merchant_origin == merchant["origin"]
            assert transaction.amount == merchant["amount"]
            assert transaction.currency == merchant["currency"]
            assert transaction.checkout_id == merchant["checkout_id"]
            assert transaction.nonce == merchant["nonce"]
            assert transaction.certificate_fingerprint == result.chain.fingerprint
            assert result.chain.credential_id.startswith("cred_")
            assert result.verified_at == datetime.fromisoformat(case["now"])
            assert result.checks[0] == "certificate_path"
            assert result.checks[-1] == "card_data"
        case "parse_presentation":
            assert isinstance(result, Presentation)
            assert Presentation.parse(result.to_json()).to_json() == result.to_json()
        case "parse_transaction":
            assert isinstance(result, TransactionDescription)
            assert result.raw == read(case["files"]["transaction"])
        case "load_certificate":
            assert isinstance(result, x509.Certificate)
            assert result.version is x509.Version.v3
        case "trust_store":
            assert isinstance(result, ChainVerifier)
            assert len(result.roots) == len(case["files"]["trust_anchors"])
        case kind:
            pytest.fail(f"unknown kind {kind}")


def _case(name: str) -> Case:
    (case,) = [c for c in cases() if c["name"] == name]
    return case


def test_ok_vector_result() -> None:
    case = _case("ok")
    result = run_case(case)
    assert isinstance(result, VerifiedPresentation)
    leaf_der = certificate_der(case["files"]["certificate"])
    leaf = x509.load_der_x509_certificate(leaf_der)
    assert result.chain.leaf_der == leaf_der
    assert result.chain.fingerprint == der_fingerprint(leaf_der)
    (common_name,) = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert result.chain.credential_id == common_name.value
    assert result.revocation.status is CertStatus.GOOD
    assert result.revocation.source is StatusSource.STAPLED
    assert result.revocation_checked
    assert result.checks == (
        "certificate_path",
        "revocation",
        "certificate_binding",
        "signature",
        "transaction_fields",
        "signing_time",
        "nonce",
        "card_data",
    )


def test_soft_fail_records_that_revocation_was_skipped() -> None:
    result = run_case(_case("no_status_soft_fail"))
    assert isinstance(result, VerifiedPresentation)
    assert result.revocation.status is CertStatus.UNAVAILABLE
    assert not result.revocation_checked
    assert "revocation_skipped" in result.checks
    assert "revocation" not in result.checks


def test_live_status_is_recorded_as_live() -> None:
    result = run_case(_case("live_status_good"))
    assert isinstance(result, VerifiedPresentation)
    assert result.revocation.source is StatusSource.LIVE
    assert result.revocation_checked


def test_every_documented_reject_path_has_a_vector() -> None:
    expected = {case["expected"] for case in REJECTED}
    assert REQUIRED_CODES - expected == set()


def test_every_expected_code_exists() -> None:
    known = {cls.code for cls in all_error_classes()}
    assert {case["expected"] for case in REJECTED} - known == set()


def test_case_names_are_unique_and_files_exist() -> None:
    names = [case["name"] for case in cases()]
    assert len(names) == len(set(names))
    for case in cases():
        for value in case["files"].values():
            for path in value if isinstance(value, list) else [value]:
                assert (VECTORS / path).is_file(), (case["name"], path)


def test_validation_time_is_pinned() -> None:
    pinned = datetime.fromisoformat(manifest()["now"])
    for case in cases("verify"):
        now = datetime.fromisoformat(case["now"])
        assert now.tzinfo is not None
        assert abs((now - pinned).total_seconds()) <= 1, case["name"]


def test_vectors_are_current() -> None:
    """The checked-in vectors are what scripts/make_vectors.py writes today.

    Fails after a change to certs/ or to the script that changes any vector byte: rerun
    ``PYTHONPATH=. .venv/bin/python scripts/make_vectors.py`` and review the diff.
    """
    completed = generator_check("scripts/make_vectors.py")
    assert completed.returncode == 0, completed.stderr
