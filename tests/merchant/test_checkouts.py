"""Checkout API: authentication, tenancy, validation, idempotency, expiry; service endpoints."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from certs.canonical_json import canonical_json
from merchant.app_keys import CHECKOUTS, ENGINE, STORE
from merchant.card_vault import CardVault
from merchant.models import Checkout, IdempotencyRecord, table_of
from merchant.openapi import openapi_document
from servicekit.api_keys import generate_api_key, hash_api_key
from tests.merchant.conftest import RETURN_URL, card_json, decode_redirect, present

_IDEMPOTENCY = table_of(IdempotencyRecord)

_CHECKOUTS = table_of(Checkout)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/checkouts"),
        ("GET", "/v1/checkouts/co_x"),
        ("POST", "/v1/checkouts/co_x/verify"),
        ("GET", "/v1/evidence/ev_x"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer mk_wrong"}, {"Authorization": "Basic abc"}]
)
async def test_unauthorized(make_merchant, sqlite_url, method, path, headers):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.request(method, path, json={}, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_create_checkout_response(make_merchant, database_url):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    assert checkout["checkoutId"].startswith("co_")
    assert len(checkout["nonce"]) >= 22  # >= 128 bits, base64url
    request = checkout["transactionRequest"]
    assert request == {
        "version": 1,
        "merchantName": "Test Merchant",
        "amount": "12.30",
        "currency": "EUR",
        "checkoutId": checkout["checkoutId"],
        "nonce": checkout["nonce"],
        "returnUrl": RETURN_URL,
        "cardHint": {"bin": "411111", "last4": "1111"},
        "display": "redirect",
    }
    assert checkout["payUrl"] == "http://issuer.localhost:8001/pay"
    assert checkout["redirectUrl"].startswith("http://issuer.localhost:8001/pay?request=")
    assert decode_redirect(checkout["redirectUrl"]) == request
    assert checkout["issuer"]["name"] == "Demo Bank"
    status = await merchant.status(checkout["checkoutId"])
    assert status["state"] == "pending"
    assert status["verdict"] is None


async def test_nonces_are_unique(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    nonces = {(await merchant.create_checkout())["nonce"] for _ in range(5)}
    assert len(nonces) == 5


async def test_issuer_not_participating(make_merchant, database_url):
    merchant = await make_merchant(database_url)
    error = await merchant.create_checkout(card={"bin": "555555", "last4": "4444"}, expect=422)
    assert error["error"]["code"] == "issuer_not_participating"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"returnUrl": "https://elsewhere.example/return"}, "return_url_not_allowed"),
        ({"returnUrl": "http://shop.example/return"}, "return_url_not_allowed"),  # not https
        ({"returnUrl": "http://shop.localhost:8003/checkout/return"}, "return_url_not_allowed"),
        ({"returnUrl": "javascript:alert(1)"}, "return_url_not_allowed"),
        ({"amount": "12.3"}, "amount_invalid"),
        ({"amount": 12.30}, "amount_invalid"),
        ({"amount": "-1.00"}, "amount_invalid"),
        ({"currency": "EURO"}, "currency_invalid"),
        ({"card": {"bin": "4111", "last4": "1111"}}, "card_hint_invalid"),
        ({"card": None}, "card_hint_invalid"),
        ({"cardData": card_json(pan="4111 1111 1111 1112")}, "pan_invalid"),
        ({"cardData": {**card_json(), "expiry": "13/40"}}, "expiry_invalid"),
        ({"cardData": {**card_json(), "securityCode": "12"}}, "security_code_invalid"),
        (
            {"cardData": card_json(pan="5555 5555 5555 4444"), "card": None},
            "issuer_not_participating",
        ),
        (
            {"cardData": card_json(), "card": {"bin": "411111", "last4": "9999"}},
            "card_hint_invalid",
        ),
        ({"display": "iframe"}, "request_malformed"),
    ],
)
async def test_checkout_validation(make_merchant, sqlite_url, fields, code):
    merchant = await make_merchant(sqlite_url)
    error = await merchant.create_checkout(
        expect=400 if code == "request_malformed" else 422, **fields
    )
    assert error["error"]["code"] == code


async def test_malformed_bodies(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.post(
        "/v1/checkouts", data=b"{", headers={**merchant.auth, "Content-Type": "application/json"}
    )
    assert (await response.json())["error"]["code"] == "request_malformed"
    response = await merchant.client.post("/v1/checkouts", data=b"x", headers=merchant.auth)
    assert (await response.json())["error"]["code"] == "unsupported_media_type"


async def test_card_hint_derived_from_card_data(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout(card=None, cardData=card_json())
    assert checkout["transactionRequest"]["cardHint"] == {"bin": "411111", "last4": "1111"}


async def test_idempotency(make_merchant, database_url):
    merchant = await make_merchant(database_url)
    key = {"Idempotency-Key": "order-42-attempt-1"}
    first = await merchant.create_checkout(headers=key)
    response = await merchant.client.post(
        "/v1/checkouts",
        json={
            "amount": "12.30",
            "currency": "EUR",
            "orderReference": "order-1",
            "returnUrl": RETURN_URL,
            "card": {"bin": "411111", "last4": "1111"},
        },
        headers={**merchant.auth, **key},
    )
    assert response.status == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert await response.json() == first
    other = await merchant.create_checkout(headers=key, amount="99.00", expect=422)
    assert other["error"]["code"] == "idempotency_key_reused"
    # A reused key with an invalid body is still "reused", not a validation error.
    invalid = await merchant.create_checkout(headers=key, amount="bad", expect=422)
    assert invalid["error"]["code"] == "idempotency_key_reused"
    fresh = await merchant.create_checkout(headers={"Idempotency-Key": "another"})
    assert fresh["checkoutId"] != first["checkoutId"]


async def test_idempotency_concurrent(make_merchant, database_url):
    merchant = await make_merchant(database_url)
    key = {"Idempotency-Key": "same-time"}
    results = await asyncio.gather(*(merchant.create_checkout(headers=key) for _ in range(8)))
    assert len({r["checkoutId"] for r in results}) == 1


async def test_idempotency_is_per_merchant(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    other_key = generate_api_key("mk")
    await merchant.app[STORE].create_merchant(
        merchant_id="mer_other",
        name="Other",
        allowed_origins=("http://shop.localhost:8002",),
        key_hash=hash_api_key(other_key),
        now=merchant.clock(),
    )
    first = await merchant.create_checkout(headers={"Idempotency-Key": "k"})
    merchant.api_key = other_key
    second = await merchant.create_checkout(headers={"Idempotency-Key": "k"})
    assert first["checkoutId"] != second["checkoutId"]


async def test_tenancy(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    evidence_id = result["verdict"]["evidenceId"]
    other_key = generate_api_key("mk")
    await merchant.app[STORE].create_merchant(
        merchant_id="mer_other",
        name="Other",
        allowed_origins=("https://other.example",),
        key_hash=hash_api_key(other_key),
        now=merchant.clock(),
    )
    headers = {"Authorization": f"Bearer {other_key}"}
    for method, path in (
        ("GET", f"/v1/checkouts/{checkout['checkoutId']}"),
        ("POST", f"/v1/checkouts/{checkout['checkoutId']}/verify"),
        ("GET", f"/v1/evidence/{evidence_id}"),
    ):
        response = await merchant.client.request(
            method, path, json={"presentation": None}, headers=headers
        )
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] == "not_found"


async def test_unknown_checkout(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.get("/v1/checkouts/co_nothere", headers=merchant.auth)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def _stored_card_data(merchant: Any, checkout_id: str) -> bytes | None:
    async with merchant.app[ENGINE].connect() as conn:
        return (
            await conn.execute(select(_CHECKOUTS.c.card_data).where(_CHECKOUTS.c.id == checkout_id))
        ).scalar_one()


async def test_lazy_expiry_erases_card_data(make_merchant, database_url):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout(cardData=card_json())
    assert await _stored_card_data(merchant, checkout["checkoutId"]) is not None
    merchant.clock.advance(timedelta(minutes=10, seconds=1))
    status = await merchant.status(checkout["checkoutId"])
    assert status["state"] == "expired"
    assert await _stored_card_data(merchant, checkout["checkoutId"]) is None


async def test_sweep_expires_and_erases(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url, sweep_interval=0.05)
    checkout = await merchant.create_checkout(cardData=card_json())
    merchant.clock.advance(timedelta(minutes=11))
    for _ in range(100):
        if await _stored_card_data(merchant, checkout["checkoutId"]) is None:
            break
        await asyncio.sleep(0.02)
    assert await _stored_card_data(merchant, checkout["checkoutId"]) is None
    row = await merchant.app[STORE].checkout(checkout["checkoutId"])
    assert row is not None
    assert row.state == "expired"


async def test_sweep_leaves_live_checkouts_alone(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout(cardData=card_json())
    assert await merchant.app[CHECKOUTS].sweep() == 0
    assert await _stored_card_data(merchant, checkout["checkoutId"]) is not None


async def test_health_metrics_openapi(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.get("/health")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    checkout = await merchant.create_checkout()
    await merchant.verify(checkout["checkoutId"], {"version": 1}, card=card_json())
    await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    text = await (await merchant.client.get("/metrics")).text()
    assert 'merchant_verifications_total{result="authenticated",code=""} 1' in text
    assert 'merchant_verifications_total{result="failed",code="presentation_malformed"} 1' in text
    assert "merchant_verification_duration_seconds_bucket" in text
    assert 'http_request_duration_seconds_count{route="/v1/checkouts/{checkout_id}/verify"' in text
    document = await (await merchant.client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert document == openapi_document()


def test_openapi_covers_every_json_route():
    from merchant.app import create_app
    from merchant.settings import Settings

    app = create_app(Settings(shop_enabled=False))
    documented = set(openapi_document()["paths"])
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path is None or route.method == "HEAD":
            continue
        normalised = path.replace("{checkout_id}", "{checkoutId}").replace(
            "{evidence_id}", "{evidenceId}"
        )
        assert normalised in documented, path
        assert route.method.lower() in openapi_document()["paths"][normalised]


async def test_security_headers(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_idempotency_fingerprint_of_a_body_with_card_data_is_keyed(
    make_merchant, sqlite_url
):
    """A request body may hold card data (PAN, security code: little entropy). Its stored
    fingerprint is an HMAC under the merchant's card-data key, so a breached database does
    not let anyone test guesses against it; the unkeyed SHA-256 is not what is stored."""
    merchant = await make_merchant(sqlite_url)
    body = {
        "amount": "12.30",
        "currency": "EUR",
        "orderReference": "order-1",
        "returnUrl": RETURN_URL,
        "cardData": card_json(),
    }
    response = await merchant.client.post(
        "/v1/checkouts", json=body, headers={**merchant.auth, "Idempotency-Key": "k-1"}
    )
    assert response.status == 201
    async with merchant.app[ENGINE].connect() as conn:
        stored = (await conn.execute(select(_IDEMPOTENCY.c.request_hash))).scalar_one()
    canonical = canonical_json(body)
    assert stored == merchant.app[CHECKOUTS].vault.keyed_hash(canonical)
    assert stored != hashlib.sha256(canonical).hexdigest()
    assert CardVault(bytes(32)).keyed_hash(canonical) != stored  # the key matters
