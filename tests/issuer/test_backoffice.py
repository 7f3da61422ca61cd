"""Back-office API: authentication, cards, activation codes, credentials, revocation."""

from __future__ import annotations

import re

import pytest
from cryptography.x509 import ocsp
from sqlmodel import select

from issuer.models import ActivationCodeRecord, AuditEvent, CardRecord
from tests.issuer.helpers import Device, Issuer, TestCard, error_code

_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


_UNAUTHORIZED = (
    None,
    "Bearer ik_wrong",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "ik_x",
    "Bearer " + "x" * 500,
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/cards"),
        ("POST", "/v1/cards/card_x/activation-codes"),
        ("GET", "/v1/cards/card_x/credentials"),
        ("POST", "/v1/cards/card_x/revoke"),
        ("POST", "/v1/credentials/cred_x/revoke"),
    ],
)
async def test_back_office_needs_a_valid_api_key(issuer: Issuer, method: str, path: str) -> None:
    for authorization in _UNAUTHORIZED:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = await issuer.client.request(
            method, path, json=TestCard().json(), headers=headers
        )
        assert response.status == 401, authorization
        assert error_code(await response.json()) == "unauthorized"


async def test_register_card_returns_id_bin_last4_and_a_code(issuer: Issuer) -> None:
    card = TestCard()
    response = await issuer.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
    body = await response.json()
    assert response.status == 201
    assert set(body) == {"cardId", "bin", "last4", "activationCode", "activationCodeExpiresAt"}
    assert body["cardId"].startswith("card_")
    assert (body["bin"], body["last4"]) == (card.pan[:6], card.pan[-4:])
    assert _CODE.fullmatch(body["activationCode"])


async def test_card_data_is_stored_encrypted_and_found_by_keyed_hash(issuer: Issuer) -> None:
    card = TestCard()
    registered = await issuer.register(card)
    async with issuer.res.session() as session:
        row = await session.get(CardRecord, registered["cardId"])
        codes = (await session.exec(select(ActivationCodeRecord))).all()
    assert row is not None
    assert card.pan.encode() not in row.card_data
    assert card.pan not in row.pan_hash
    assert row.pan_hash == issuer.res.vault.pan_lookup_hash(card.pan)
    assert issuer.res.vault.open(row.card_data, card_id=row.id).pan == card.pan
    assert [c.code_hash for c in codes] != [registered["activationCode"]]
    assert all(registered["activationCode"].replace("-", "") not in c.code_hash for c in codes)


async def test_registering_the_same_card_again_gives_a_new_code(issuer: Issuer) -> None:
    card = TestCard()
    first = await issuer.register(card)
    response = await issuer.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
    second = await response.json()
    assert response.status == 200
    assert second["cardId"] == first["cardId"]
    assert second["activationCode"] != first["activationCode"]
    _status, body = await issuer.enroll(Device(), first["activationCode"])
    assert error_code(body) == "activation_code_expired"


async def test_same_pan_with_other_data_is_refused(issuer: Issuer) -> None:
    card = TestCard()
    await issuer.register(card)
    changed = TestCard(pan=card.pan, expiry="11/38", cvc=card.cvc)
    response = await issuer.client.post("/v1/cards", json=changed.json(), headers=issuer.auth)
    assert response.status == 409
    assert error_code(await response.json()) == "card_already_registered"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"pan": "4111111111111112"}, "pan_invalid"),
        ({"pan": "not a card"}, "pan_invalid"),
        ({"expiry": "13/30"}, "expiry_invalid"),
        ({"securityCode": "12"}, "security_code_invalid"),
        ({"pan": None}, "request_malformed"),
        ({"pan": "5105105105105100"}, "bin_not_issued"),
        ({"expiry": "01/20"}, "card_expired"),
    ],
)
async def test_invalid_cards_are_refused(
    issuer: Issuer, change: dict[str, object], code: str
) -> None:
    body = TestCard().json() | change
    response = await issuer.client.post("/v1/cards", json=body, headers=issuer.auth)
    assert response.status in (400, 422)
    assert error_code(await response.json()) == code


async def test_request_bodies_must_be_json(issuer: Issuer) -> None:
    response = await issuer.client.post(
        "/v1/cards", data="pan=4111111111111111", headers=issuer.auth
    )
    assert error_code(await response.json()) == "unsupported_media_type"
    response = await issuer.client.post(
        "/v1/cards",
        data='{"pan": "1", "pan": "2"}',
        headers={**issuer.auth, "Content-Type": "application/json"},
    )
    assert error_code(await response.json()) == "request_malformed"


async def test_unknown_cards_and_credentials(issuer: Issuer) -> None:
    for method, path, code in (
        ("POST", "/v1/cards/card_nope/activation-codes", "card_unknown"),
        ("GET", "/v1/cards/card_nope/credentials", "card_unknown"),
        ("POST", "/v1/cards/card_nope/revoke", "card_unknown"),
        ("POST", "/v1/credentials/cred_nope/revoke", "credential_unknown"),
    ):
        response = await issuer.client.request(method, path, json={}, headers=issuer.auth)
        assert response.status == 404
        assert error_code(await response.json()) == code


async def test_list_and_revoke_a_credential(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    card_id = issuer.last_card_id
    listing = await (
        await issuer.client.get(f"/v1/cards/{card_id}/credentials", headers=issuer.auth)
    ).json()
    assert listing["card"]["cardId"] == card_id
    (credential,) = listing["credentials"]
    assert credential["credentialId"] == enrolled["credentialId"]
    assert credential["status"] == "active"
    assert credential["certificates"][0]["fingerprint"] == enrolled["fingerprint"]
    assert credential["certificates"][0]["status"] == "good"

    revoked = await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")
    assert (revoked["status"], revoked["revocationReason"]) == ("revoked", "keyCompromise")
    assert revoked["revokedAt"] is not None
    # Idempotent: revoking again changes nothing.
    again = await issuer.revoke_credential(enrolled["credentialId"], "unspecified")
    assert (again["revocationReason"], again["revokedAt"]) == (
        "keyCompromise",
        revoked["revokedAt"],
    )


@pytest.mark.parametrize("reason", ["certificateHold", "cACompromise", "removeFromCRL", "nope", 3])
async def test_revocation_reasons_are_checked(issuer: Issuer, reason: object) -> None:
    _, _, enrolled = await issuer.enrolled()
    response = await issuer.client.post(
        f"/v1/credentials/{enrolled['credentialId']}/revoke",
        json={"reason": reason},
        headers=issuer.auth,
    )
    assert response.status == 400
    assert error_code(await response.json()) == "revocation_reason_invalid"


async def test_revoking_a_card_revokes_all_its_credentials(issuer: Issuer) -> None:
    card = TestCard()
    _, _, first = await issuer.enrolled(card)
    card_id = issuer.last_card_id
    second_code = await issuer.client.post(
        f"/v1/cards/{card_id}/activation-codes", headers=issuer.auth
    )
    code = (await second_code.json())["activationCode"]
    status, second = await issuer.enroll(Device(), code)
    assert status == 201
    outstanding = await (
        await issuer.client.post(f"/v1/cards/{card_id}/activation-codes", headers=issuer.auth)
    ).json()

    response = await issuer.client.post(
        f"/v1/cards/{card_id}/revoke", json={"reason": "cessationOfOperation"}, headers=issuer.auth
    )
    body = await response.json()
    assert response.status == 200
    assert body["card"]["status"] == "revoked"
    assert body["revokedCertificates"] == 2
    assert {c["status"] for c in body["credentials"]} == {"revoked"}
    for enrolled in (first, second):
        status_response = await issuer.client.get(f"/status/{enrolled['fingerprint']}")
        parsed = ocsp.load_der_ocsp_response(await status_response.read())
        assert parsed.certificate_status is ocsp.OCSPCertStatus.REVOKED
    # Outstanding codes are dead and no new ones are issued.
    status, refused = await issuer.enroll(Device(), outstanding["activationCode"])
    assert error_code(refused) == "card_revoked"
    response = await issuer.client.post(
        f"/v1/cards/{card_id}/activation-codes", headers=issuer.auth
    )
    assert error_code(await response.json()) == "card_revoked"
    response = await issuer.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
    assert error_code(await response.json()) == "card_revoked"


async def test_state_changes_are_audited_without_secrets(issuer: Issuer) -> None:
    card, _, enrolled = await issuer.enrolled()
    await issuer.revoke_credential(enrolled["credentialId"], "superseded")
    async with issuer.res.session() as session:
        events = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()  # type: ignore[arg-type]
    actions = [event.action for event in events]
    assert actions == [
        "api_key.created",
        "card.registered",
        "activation_code.issued",
        "credential.enrolled",
        "credential.revoked",
    ]
    assert events[1].actor.startswith("api-key:")
    for event in events:
        assert card.pan not in event.detail
