"""Enrollment end to end (docs/interfaces.md section 2) and its refusals, on both databases."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func
from sqlmodel import select

from certs.card_digest import check_card_data
from certs.chain import ChainVerifier
from certs.errors import CardDataMismatch
from certs.keys import der_fingerprint
from certs.proof_of_possession import PopPurpose
from certs.revocation import CertStatus, StatusSource, read_ocsp_response
from certs.wire import b64url_decode, b64url_encode
from issuer import cardholder_api
from issuer.activation_codes import ALPHABET, ActivationCode
from issuer.client_limits import record_failure
from issuer.models import EnrollmentFailure
from issuer.resources import IssuerResources
from issuer.settings import IssuerSettings
from tests.issuer.conftest import issuer_settings, start_issuer
from tests.issuer.helpers import Device, FakeClock, Issuer, TestCard, chain_of, error_code, leaf_of

OPENSSL = shutil.which("openssl")


async def test_enrollment_mints_a_chain_that_verifies_and_binds_the_card(
    issuer: Issuer, tmp_path: Path
) -> None:
    card = TestCard()
    registered = await issuer.register(card)
    assert registered["bin"] == card.pan[:6]
    assert registered["last4"] == card.pan[-4:]
    device = Device()

    status, body = await issuer.enroll(device, registered["activationCode"])

    assert status == 201, body
    assert set(body) == {
        "credentialId",
        "certificateChain",
        "fingerprint",
        "notAfter",
        "issuerName",
        "last4",
        "bin",
        "status",
    }
    assert body["issuerName"] == "Demo Bank"
    assert (body["bin"], body["last4"]) == (card.pan[:6], card.pan[-4:])
    chain = chain_of(body)
    assert body["fingerprint"] == der_fingerprint(chain[0])
    verified = ChainVerifier([issuer.root]).verify(chain, now=issuer.clock())
    assert verified.credential_id == body["credentialId"]
    assert verified.public_key.public_numbers() == device.key.public_key().public_numbers()
    # The digest is the one the merchant will recompute from typed data and the secret.
    check_card_data(card.data, device.secret, verified.card_data_digest)
    with pytest.raises(CardDataMismatch):
        check_card_data(TestCard().data, device.secret, verified.card_data_digest)
    leaf = leaf_of(body)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == body["credentialId"]
    assert body["notAfter"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The response staples a fresh "good" status for the new certificate.
    stapled = read_ocsp_response(
        b64url_decode(body["status"], error=ValueError, what="status"),
        certificate=leaf,
        issuer_ca=verified.issuer_ca,
        now=issuer.clock(),
        max_age=issuer.settings.status_freshness,
        source=StatusSource.STAPLED,
    )
    assert stapled.status is CertStatus.GOOD

    if OPENSSL is not None:
        card_pem = tmp_path / "card.pem"
        card_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        process = await asyncio.create_subprocess_exec(
            OPENSSL,
            "verify",
            "-x509_strict",
            "-CAfile",
            str(issuer.root_pem),
            "-untrusted",
            str(issuer.issuer_pem),
            str(card_pem),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert out.decode().strip() == f"{card_pem}: OK"


async def test_an_identical_retry_returns_the_same_credential(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    device = Device()
    challenge = await issuer.challenge()
    first_status, first = await issuer.enroll(
        device, registered["activationCode"], challenge=challenge
    )
    again_status, again = await issuer.enroll(
        device, registered["activationCode"], challenge=challenge
    )
    # A retry with a fresh challenge is the same enrollment, too.
    fresh_status, fresh = await issuer.enroll(device, registered["activationCode"])

    assert (first_status, again_status, fresh_status) == (201, 200, 200)
    assert first["certificateChain"] == again["certificateChain"] == fresh["certificateChain"]
    assert first["credentialId"] == again["credentialId"] == fresh["credentialId"]
    listing = await issuer.client.get(
        f"/v1/cards/{registered['cardId']}/credentials", headers=issuer.auth
    )
    assert len((await listing.json())["credentials"]) == 1


async def test_the_code_is_typed_forgivingly(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    typed = registered["activationCode"].replace("-", " ").lower()
    typed = typed.replace("0", "o").replace("1", "l")
    status, body = await issuer.enroll(Device(), typed)
    assert status == 201, body


async def test_another_key_with_a_used_code_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    status, _ = await issuer.enroll(Device(), registered["activationCode"])
    assert status == 201
    status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert (status, error_code(body)) == (409, "activation_code_used")


async def test_the_same_key_with_another_secret_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    device = Device()
    status, _ = await issuer.enroll(device, registered["activationCode"])
    assert status == 201
    device.secret = secrets.token_bytes(32)
    status, body = await issuer.enroll(device, registered["activationCode"])
    assert error_code(body) == "activation_code_used"


async def test_a_wrong_code_is_refused(issuer: Issuer) -> None:
    await issuer.register(TestCard())
    status, body = await issuer.enroll(Device(), ActivationCode.generate().display())
    assert (status, error_code(body)) == (400, "activation_code_invalid")


@pytest.mark.parametrize("code", ["", "ABCD-EFGH", "UUUU-UUUU-UUUU-UUUU", "A" * 80, 1234])
async def test_a_malformed_code_is_refused(issuer: Issuer, code: object) -> None:
    status, body = await issuer.enroll(Device(), code)  # type: ignore[arg-type]
    assert (status, error_code(body)) == (400, "activation_code_invalid")


async def test_an_expired_code_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    issuer.clock.advance(seconds=issuer.settings.activation_code_ttl.total_seconds() + 1)
    status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert (status, error_code(body)) == (410, "activation_code_expired")


async def test_a_replaced_code_is_expired(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    response = await issuer.client.post(
        f"/v1/cards/{registered['cardId']}/activation-codes", headers=issuer.auth
    )
    assert response.status == 201
    _status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert error_code(body) == "activation_code_expired"


async def test_a_code_locks_after_n_wrong_guesses_at_it(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    code = ActivationCode.parse(registered["activationCode"])
    attempts = issuer.settings.activation_max_attempts
    for _ in range(attempts):
        # Same locator (first group), wrong secret: attributed to this code.
        wrong = code.locator + "".join(secrets.choice(ALPHABET) for _ in range(12))
        status, body = await issuer.enroll(Device(), wrong)
        assert error_code(body) == "activation_code_invalid"
    status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert (status, error_code(body)) == (423, "activation_code_locked")
    # A new code from the back office works again.
    response = await issuer.client.post(
        f"/v1/cards/{registered['cardId']}/activation-codes", headers=issuer.auth
    )
    fresh = (await response.json())["activationCode"]
    status, body = await issuer.enroll(Device(), fresh)
    assert status == 201, body


async def test_wrong_guesses_at_other_locators_do_not_lock_a_code(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    code = ActivationCode.parse(registered["activationCode"])
    for _ in range(issuer.settings.activation_max_attempts + 1):
        other = ActivationCode.generate()
        if other.locator == code.locator:
            continue
        await issuer.enroll(Device(), other.display())
    status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert status == 201, body


async def test_a_client_that_keeps_failing_is_rate_limited(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock
) -> None:
    issuer = await start_issuer(aiohttp_client, settings.with_changes(enroll_max_failures=3), clock)
    registered = await issuer.register(TestCard())
    for _ in range(3):
        _, body = await issuer.enroll(Device(), ActivationCode.generate().display())
        assert error_code(body) == "activation_code_invalid"
    # Even the right code is not looked at any more from this address...
    challenge = await issuer.challenge()
    device = Device()
    response = await issuer.client.post(
        "/v1/enrollment",
        json=device.enrollment_body(registered["activationCode"], issuer.origin, challenge),
    )
    assert response.status == 429
    assert error_code(await response.json()) == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    # ...until the window has passed.
    clock.advance(seconds=settings.enroll_failure_window.total_seconds() + 1)
    _status, body = await issuer.enroll(device, registered["activationCode"])
    assert error_code(body) == "activation_code_expired"


async def test_a_bad_proof_of_possession_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    device = Device()
    challenge = await issuer.challenge()
    forged = Device().sign(PopPurpose.ENROLLMENT, issuer.origin, challenge)
    status, body = await issuer.enroll(
        device, registered["activationCode"], challenge=challenge, signature=forged
    )
    assert (status, error_code(body)) == (400, "signature_invalid")
    # Signed for renewal, or for another origin: also invalid.
    for purpose, origin in (
        (PopPurpose.RENEWAL, issuer.origin),
        (PopPurpose.ENROLLMENT, "https://evil.example"),
    ):
        status, body = await issuer.enroll(
            device,
            registered["activationCode"],
            challenge=challenge,
            signature=device.sign(purpose, origin, challenge),
        )
        assert error_code(body) == "signature_invalid"
    status, body = await issuer.enroll(
        device, registered["activationCode"], signature=b64url_encode(b"\x01" * 63)
    )
    assert error_code(body) == "signature_malformed"
    # The code is still usable: a bad proof does not consume it.
    status, body = await issuer.enroll(device, registered["activationCode"])
    assert status == 201, body


async def test_a_malformed_public_key_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    status, body = await issuer.enroll(
        Device(), registered["activationCode"], publicKey=b64url_encode(secrets.token_bytes(91))
    )
    assert (status, error_code(body)) == (400, "public_key_malformed")


async def test_a_p384_key_is_refused(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    p384 = ec.generate_private_key(ec.SECP384R1())
    spki = p384.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    status, body = await issuer.enroll(
        Device(), registered["activationCode"], publicKey=b64url_encode(spki)
    )
    assert (status, error_code(body)) == (400, "unsupported_key")


async def test_challenges_are_single_use_and_expire(issuer: Issuer) -> None:
    first = await issuer.register(TestCard())
    second = await issuer.register(TestCard())
    challenge = await issuer.challenge()
    status, _ = await issuer.enroll(Device(), first["activationCode"], challenge=challenge)
    assert status == 201
    status, body = await issuer.enroll(Device(), second["activationCode"], challenge=challenge)
    assert error_code(body) == "challenge_invalid"
    stale = await issuer.challenge()
    issuer.clock.advance(seconds=issuer.settings.challenge_ttl.total_seconds() + 1)
    status, body = await issuer.enroll(Device(), second["activationCode"], challenge=stale)
    assert error_code(body) == "challenge_invalid"
    unknown = b64url_encode(secrets.token_bytes(32))
    status, body = await issuer.enroll(Device(), second["activationCode"], challenge=unknown)
    assert error_code(body) == "challenge_invalid"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("cardDataSecret", b64url_encode(b"short"), "request_malformed"),
        ("cardDataSecret", "not base64url!", "request_malformed"),
        ("publicKey", None, "request_malformed"),
        ("challenge", 7, "request_malformed"),
    ],
)
async def test_malformed_fields_are_refused(
    issuer: Issuer, field: str, value: object, code: str
) -> None:
    registered = await issuer.register(TestCard())
    extra: dict[str, Any] = {field: value}
    status, body = await issuer.enroll(Device(), registered["activationCode"], **extra)
    assert (status, error_code(body)) == (400, code)


async def test_a_revoked_card_cannot_enroll(issuer: Issuer) -> None:
    registered = await issuer.register(TestCard())
    response = await issuer.client.post(
        f"/v1/cards/{registered['cardId']}/revoke",
        json={"reason": "cessationOfOperation"},
        headers=issuer.auth,
    )
    assert response.status == 200
    status, body = await issuer.enroll(Device(), registered["activationCode"])
    assert (status, error_code(body)) == (409, "card_revoked")


async def test_enrollment_status_is_good_over_ocsp(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    response = await issuer.client.get(f"/status/{enrolled['fingerprint']}")
    assert response.status == 200
    parsed = ocsp.load_der_ocsp_response(await response.read())
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD


async def test_a_locked_database_is_unavailable_and_not_the_clients_failure(
    aiohttp_client: AiohttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite held by another process past the lock timeout: 503 service_unavailable, and
    nothing is counted against the client's failure budget (the server's trouble)."""
    path = tmp_path / "issuer.sqlite3"
    issuer = await start_issuer(
        aiohttp_client,
        issuer_settings(tmp_path / "issuer", f"sqlite+aiosqlite:///{path}"),
        FakeClock(),
    )
    assert issuer.res.sql.inline is not None
    issuer.res.sql.inline._lock_timeout = 0.05  # seconds, not the default 10
    charged: list[str] = []

    async def spy(res: IssuerResources, client: str, code: str, *, now: datetime) -> None:
        charged.append(code)
        await record_failure(res, client, code, now=now)

    monkeypatch.setattr(cardholder_api, "record_failure", spy)
    registered = await issuer.register(TestCard())
    device = Device()
    challenge = await issuer.challenge()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        response = await issuer.client.post(
            "/v1/enrollment",
            json=device.enrollment_body(registered["activationCode"], issuer.origin, challenge),
        )
        assert response.status == 503
        assert error_code(await response.json()) == "service_unavailable"
    finally:
        other.rollback()
        other.close()
    assert charged == []
    async with issuer.res.session() as session:
        failures = (await session.exec(select(func.count()).select_from(EnrollmentFailure))).one()
    assert failures == 0
    # The lock gone, the same request succeeds: nothing was consumed.
    status, body = await issuer.enroll(device, registered["activationCode"], challenge=challenge)
    assert status == 201, body
    # A refusal for cause is still charged.
    _, body = await issuer.enroll(Device(), ActivationCode.generate().display())
    assert charged == ["activation_code_invalid"]
