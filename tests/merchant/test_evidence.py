"""Evidence: export, offline re-verification, tampering, and the CLI."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from certs.canonical_json import canonical_json
from certs.wire import b64url_decode, b64url_encode
from merchant.evidence import verify_evidence
from merchant.evidence_cli import main as evidence_main
from merchant.settings import RevocationMode
from tests.merchant.conftest import (
    TEST_CVC,
    TEST_PAN_DIGITS,
    build_ocsp_response,
    card_json,
    closed_port,
    issue,
    present,
)


async def _export(merchant: Any, credential: Any, *, staple: bytes | None = None, **kw: Any) -> str:
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"],
        present(credential, checkout, staple=staple).to_json(),
        card=kw.pop("card", card_json()),
    )
    return await merchant.evidence(result["verdict"]["evidenceId"])


@pytest.fixture
async def exported(make_merchant, sqlite_url, pki, credential) -> str:
    """An authenticated verdict's evidence file (stapled status), server stopped after."""
    merchant = await make_merchant(sqlite_url)
    staple = build_ocsp_response(pki, credential.certificate)
    document = await _export(merchant, credential, staple=staple)
    await merchant.client.close()
    return document


async def test_evidence_round_trip(make_merchant, database_url, pki, credential):
    merchant = await make_merchant(database_url)
    document = await _export(merchant, credential)
    await merchant.client.close()  # nothing running from here on
    record = json.loads(document)
    assert record["verdict"]["result"] == "authenticated"
    assert record["revocation"]["source"] == "live"
    assert record["software"]["name"] == "cardcert-merchant"
    report = verify_evidence(document, roots=[pki.root])
    assert report.verified, report
    assert report.code is None
    assert {what for what, _ in report.not_rechecked} == {"card_data", "nonce"}
    assert all(check.ok for check in report.checks)


def test_evidence_holds_no_card_data(exported):
    assert TEST_PAN_DIGITS not in exported
    assert TEST_CVC not in exported
    assert "cardDataSecret" not in exported
    assert 'secret":' not in exported.replace('"secretRetained"', "")


def test_evidence_verifies_long_after(exported, pki):
    # The chain is re-validated at the recorded verification time, not today.
    report = verify_evidence(exported, roots=[pki.root])
    assert report.verified


def test_evidence_needs_the_right_root(exported, other_pki):
    report = verify_evidence(exported, roots=[other_pki.root])
    assert not report.verified
    assert report.code == "untrusted_root"
    assert verify_evidence(exported, roots=[]).code == "no_trust_anchors"


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in _leaves(child, (*path, key))]
    if isinstance(value, list):
        return [p for index, child in enumerate(value) for p in _leaves(child, (*path, index))]
    return [path]


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def _tamper(value: Any) -> Any:
    """Change one character (or flip a flag) of a leaf value."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    text = str(value)
    if not text:
        return "x"
    middle = len(text) // 2
    replacement = "B" if text[middle] != "B" else "C"
    return text[:middle] + replacement + text[middle + 1 :]


def _reseal(record: dict[str, Any]) -> str:
    import hashlib

    body = {k: v for k, v in record.items() if k != "integrity"}
    record["integrity"]["digest"] = b64url_encode(hashlib.sha256(canonical_json(body)).digest())
    return json.dumps(record)


def test_every_field_tampered_is_rejected(exported, pki):
    record = json.loads(exported)
    paths = _leaves(record)
    assert len(paths) > 30
    for path in paths:
        tampered = copy.deepcopy(record)
        _set(tampered, path, _tamper(_get(record, path)))
        report = verify_evidence(json.dumps(tampered), roots=[pki.root])
        assert not report.verified, path
        assert report.code, path


def _flip_byte(text: str, index: int | None = None) -> str:
    data = bytearray(b64url_decode(text, error=ValueError, what="x"))
    position = len(data) - 1 if index is None else index
    data[position] ^= 0x01
    return b64url_encode(bytes(data))


@pytest.mark.parametrize(
    ("field", "mutate", "code"),
    [
        ("presentation.signature", _flip_byte, "signature_invalid"),
        ("presentation.transaction", lambda v: _flip_byte(v, 20), "transaction_malformed"),
        ("presentation.certificateChain.0", _flip_byte, "cert_signature_invalid"),
        ("presentation.certificateChain.1", _flip_byte, "cert_signature_invalid"),
        ("expected.amount", lambda v: "12.31", "amount_mismatch"),
        ("expected.currency", lambda v: "USD", "currency_mismatch"),
        ("expected.origin", lambda v: "https://evil.example", "origin_mismatch"),
        ("expected.nonce", lambda v: "A" * 43, "nonce_mismatch"),
        ("expected.merchantName", lambda v: "Other", "merchant_name_mismatch"),
        ("verifiedAt", lambda v: "2020-01-01T00:00:00.000000Z", "cert_not_yet_valid"),
        ("revocation.response", _flip_byte, "status_invalid"),
        ("verdict.result", lambda v: "failed", "evidence_inconsistent"),
        (
            "verdict",
            lambda v: {**v, "result": "failed", "code": "amount_mismatch", "liabilityShift": False},
            "evidence_verdict_mismatch",
        ),
        ("verdict.liabilityShift", lambda v: False, "evidence_inconsistent"),
        ("verdict.confirmation", lambda v: "frictionless", "evidence_inconsistent"),
        ("revocation.status", lambda v: "revoked", "evidence_inconsistent"),
        ("checkoutId", lambda v: "co_other", "evidence_inconsistent"),
        ("policy.maxStatusAgeSeconds", lambda v: 1, "status_stale"),
        ("software.version", lambda v: "9.9.9", None),
    ],
)
def test_semantic_tampering_even_with_a_recomputed_digest(exported, pki, field, mutate, code):
    """Whoever recomputes the digest still cannot change what was signed or decided."""
    record = json.loads(exported)
    path: tuple[Any, ...] = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    _set(record, path, mutate(_get(record, path)))
    report = verify_evidence(_reseal(record), roots=[pki.root])
    if code is None:  # metadata only: the digest is the protection, and it was recomputed
        assert report.verified
    else:
        assert not report.verified
        assert report.code == code


def test_verify_evidence_signing_window_at_recorded_time(exported, pki):
    record = json.loads(exported)
    later = datetime.fromisoformat(record["verifiedAt"]) + timedelta(minutes=11)
    record["verifiedAt"] = later.isoformat(timespec="microseconds").replace("+00:00", "Z")
    report = verify_evidence(_reseal(record), roots=[pki.root])
    assert report.code == "signing_time_out_of_window"


@pytest.mark.parametrize("garbage", ["", "[]", "{}", '{"type":"cardcert.evidence","version":2}'])
def test_malformed_evidence(garbage, pki):
    assert verify_evidence(garbage, roots=[pki.root]).code == "evidence_malformed"


async def test_failed_verdict_evidence_is_reproduced(make_merchant, sqlite_url, pki, credential):
    merchant = await make_merchant(sqlite_url)
    document = await _export(merchant, credential, card=card_json("1234"))
    record = json.loads(document)
    assert record["verdict"]["code"] == "card_data_mismatch"
    assert record["cardData"]["checked"] is True
    report = verify_evidence(document, roots=[pki.root])
    assert report.verified, report
    # Turning it into "authenticated" is caught (the liability flag no longer follows) ...
    record["verdict"]["result"] = "authenticated"
    record["verdict"]["code"] = None
    assert verify_evidence(json.dumps(record), roots=[pki.root]).code == "evidence_inconsistent"
    # ... but a careful forger who also sets the flag and recomputes the digest is caught
    # only by what cannot be re-checked offline: the report says so.
    record["verdict"]["liabilityShift"] = True
    forged = verify_evidence(_reseal(record), roots=[pki.root])
    assert forged.verified
    assert "card_data" in {what for what, _ in forged.not_rechecked}


async def test_signature_failure_evidence_is_reproduced(make_merchant, sqlite_url, pki, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    wire = present(credential, checkout).to_json()
    wire["signature"] = _flip_byte(wire["signature"])
    result = await merchant.verify(checkout["checkoutId"], wire, card=card_json())
    document = await merchant.evidence(result["verdict"]["evidenceId"])
    report = verify_evidence(document, roots=[pki.root])
    assert report.verified
    assert report.recorded_code == "signature_invalid"
    assert report.recomputed_code == "signature_invalid"


async def test_malformed_presentation_evidence(make_merchant, sqlite_url, pki):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(checkout["checkoutId"], {"nope": 1}, card=card_json())
    document = await merchant.evidence(result["verdict"]["evidenceId"])
    assert json.loads(document)["presentation"] is None
    assert verify_evidence(document, roots=[pki.root]).verified


async def test_unavailable_and_soft_fail_evidence(make_merchant, sqlite_url, pki):
    credential = issue(pki, ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    hard = await make_merchant(sqlite_url)
    document = await _export(hard, credential)
    assert json.loads(document)["verdict"]["result"] == "unavailable"
    assert verify_evidence(document, roots=[pki.root]).verified
    soft = await make_merchant(
        sqlite_url.replace(".sqlite3", "-soft.sqlite3"), revocation_mode=RevocationMode.SOFT
    )
    document = await _export(soft, credential)
    record = json.loads(document)
    assert record["verdict"]["result"] == "authenticated"
    assert record["verdict"]["liabilityShift"] is False
    assert "revocation_skipped" in record["checks"]["passed"]
    assert verify_evidence(document, roots=[pki.root]).verified


async def test_revoked_evidence(make_merchant, sqlite_url, pki, credential):
    merchant = await make_merchant(sqlite_url)
    staple = build_ocsp_response(pki, credential.certificate, status=ocsp.OCSPCertStatus.REVOKED)
    document = await _export(merchant, credential, staple=staple)
    assert json.loads(document)["verdict"]["code"] == "cert_revoked"
    assert verify_evidence(document, roots=[pki.root]).verified


def test_evidence_cli(exported, pki, tmp_path: Path, capsys):
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    good = tmp_path / "evidence.json"
    good.write_text(exported)
    assert evidence_main(["verify", str(good), "--trust", str(root)]) == 0
    assert "verified" in capsys.readouterr().out

    record = json.loads(exported)
    record["presentation"]["signature"] = _flip_byte(record["presentation"]["signature"])
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(record))
    assert evidence_main(["verify", str(bad), "--trust", str(root)]) == 1
    assert "signature_invalid" in capsys.readouterr().out

    assert evidence_main(["verify", str(good), "--trust", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True

    assert evidence_main(["verify", str(good)]) == 2
    assert evidence_main(["frobnicate"]) == 2
    assert evidence_main(["verify", str(tmp_path / "missing.json"), "--trust", str(root)]) == 2
    capsys.readouterr()


def test_evidence_cli_as_module(exported, pki, tmp_path: Path):
    import subprocess
    import sys

    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    path = tmp_path / "evidence.json"
    path.write_text(exported)
    completed = subprocess.run(
        [sys.executable, "-m", "merchant.evidence_cli", "verify", str(path), "--trust", str(root)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert completed.returncode == 0, completed.stderr
