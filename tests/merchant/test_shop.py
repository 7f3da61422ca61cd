"""The demo shop and the browser return endpoint (docs/interfaces.md, sections 4 and 5)."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import timedelta
from typing import Any

from merchant.app import DEMO_KEY_FILE
from merchant.app_keys import DEMO_MERCHANT, STORE
from tests.merchant.conftest import (
    SHOP_ORIGIN,
    TEST_CVC,
    TEST_PAN,
    card_json,
    decode_redirect,
    expiry_text,
    present,
)


async def _buy(
    merchant: Any, *, security_code: str = TEST_CVC, pan: str = TEST_PAN, popup: bool = False
) -> Any:
    data = {
        "item": "cup",
        "pan": pan,
        "expiry": expiry_text(),
        "securityCode": security_code,
        "name": "Ada Lovelace",
    }
    if popup:
        data["display"] = "popup"
    return await merchant.client.post("/shop/checkout", data=data, allow_redirects=False)


def _checkout_from_redirect(location: str) -> dict[str, Any]:
    request = decode_redirect(location)
    return {"checkoutId": request["checkoutId"], "transactionRequest": request}


async def _return(merchant: Any, fields: dict[str, str]) -> tuple[int, str]:
    response = await merchant.client.post("/checkout/return", data=fields)
    return response.status, await response.text()


async def test_pages_render(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.get("/shop")
    html = await response.text()
    assert response.status == 200
    assert "Espresso cup" in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline scripts
    assert " style=" not in html
    form = await (await merchant.client.get("/shop/checkout?item=cup")).text()
    assert 'name="pan"' in form
    assert 'name="securityCode"' in form
    assert (await merchant.client.get("/shop/checkout?item=nothing")).status == 404
    assert (await merchant.client.get("/static/shop.js")).status == 200
    assert (await merchant.client.get("/static/shop.css")).status == 200
    root = await merchant.client.get("/", allow_redirects=False)
    assert root.headers["Location"] == "/shop"
    assert 'name="display" value="popup"' in form  # the "Pay in a pop-up window" option
    assert (await merchant.client.get("/static/popup.js")).status == 200
    favicon = await merchant.client.get("/favicon.ico")
    assert favicon.status == 204
    assert "max-age" in favicon.headers["Cache-Control"]


async def test_shop_flow_authenticated(make_merchant, database_url, credential):
    merchant = await make_merchant(database_url)
    response = await _buy(merchant)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("http://issuer.localhost:8001/pay?request=")
    checkout = _checkout_from_redirect(location)
    request = checkout["transactionRequest"]
    assert request["merchantName"] == "Demo Shop"
    assert request["amount"] == "12.30"
    assert request["returnUrl"] == f"{SHOP_ORIGIN}/checkout/return"
    assert request["cardHint"] == {"bin": "411111", "last4": "1111"}
    presentation = present(credential, checkout)
    status, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(presentation.to_json()),
        },
    )
    assert status == 200
    assert "Payment authenticated" in html
    assert TEST_PAN.replace(" ", "") not in html
    # Resubmitting the same form shows the settled result, not a second authentication.
    _, again = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(presentation.to_json()),
        },
    )
    assert "already completed" in again
    row = await merchant.app[STORE].checkout(checkout["checkoutId"])
    assert row.state == "authenticated"
    assert row.card_data is None


def _popup_page(html: str) -> dict[str, str]:
    """The data the popup page hands to /static/popup.js, unescaped."""
    button = re.search(r'<a [^>]*id="pay-popup"[^>]*>', html, re.DOTALL)
    assert button is not None
    return {
        name: htmllib.unescape(value)
        for name, value in re.findall(r'(href|data-[a-z-]+)="([^"]*)"', button.group(0))
    }


async def test_shop_popup_option(make_merchant, database_url, credential):
    """Popup mode: no redirect; a page whose button opens the pay URL (request with
    ``display: "popup"``) and whose script takes the result from the issuer origin only,
    then posts the same fields to the return endpoint."""
    merchant = await make_merchant(database_url)
    response = await _buy(merchant, popup=True)
    assert response.status == 200
    html = await response.text()
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline scripts
    assert '<script src="/static/popup.js" defer></script>' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # The popup must keep its opener: the shop allows the popups it opens to talk back.
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    data = _popup_page(html)
    assert data["href"] == data["data-pay-url"]
    assert data["data-pay-url"].startswith("http://issuer.localhost:8001/pay?request=")
    assert data["data-issuer-origin"] == "http://issuer.localhost:8001"
    request = decode_redirect(data["data-pay-url"])
    assert request["display"] == "popup"
    assert request["returnUrl"] == f"{SHOP_ORIGIN}/checkout/return"
    assert data["data-checkout-id"] == request["checkoutId"]
    assert 'action="/checkout/return"' in html
    assert f'name="checkoutId" value="{request["checkoutId"]}"' in html
    row = await merchant.app[STORE].checkout(request["checkoutId"])
    assert row.state == "pending"
    # The fields the page submits once the popup answers: the usual verdict page.
    checkout = {"checkoutId": request["checkoutId"], "transactionRequest": request}
    status, verdict_html = await _return(
        merchant,
        {
            "checkoutId": request["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert status == 200
    assert "Payment authenticated" in verdict_html


async def test_shop_popup_option_survives_a_form_error(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await _buy(merchant, pan="4111 1111 1111 1112", popup=True)
    assert response.status == 422
    assert 'name="display" value="popup" checked' in await response.text()
    response = await _buy(merchant, pan="4111 1111 1111 1112")
    assert 'value="popup" checked' not in await response.text()


async def test_shop_flow_wrong_card_typed(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    response = await _buy(merchant, security_code="1234")
    checkout = _checkout_from_redirect(response.headers["Location"])
    status, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert status == 200
    assert "Payment not authenticated" in html
    assert "do not match the card saved in this browser" in html
    assert "card_data_mismatch" in html


async def test_shop_flow_cancelled(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = _checkout_from_redirect((await _buy(merchant)).headers["Location"])
    _, html = await _return(merchant, {"checkoutId": checkout["checkoutId"], "result": "cancelled"})
    assert "Payment cancelled" in html
    row = await merchant.app[STORE].checkout(checkout["checkoutId"])
    assert row.state == "cancelled"
    assert row.card_data is None
    # A presentation after cancelling is not accepted.
    _, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert "Payment cancelled" in html


async def test_shop_flow_garbage_then_genuine(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = _checkout_from_redirect((await _buy(merchant)).headers["Location"])
    _, html = await _return(
        merchant,
        {"checkoutId": checkout["checkoutId"], "result": "presented", "presentation": "{}"},
    )
    assert "could not be read" in html
    _, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert "Payment authenticated" in html


async def test_shop_expired_checkout(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = _checkout_from_redirect((await _buy(merchant)).headers["Location"])
    merchant.clock.advance(timedelta(minutes=11))
    _, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert "Checkout expired" in html
    row = await merchant.app[STORE].checkout(checkout["checkoutId"])
    assert row.state == "expired"
    assert row.card_data is None


async def test_shop_form_errors(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await _buy(merchant, pan="4111 1111 1111 1112")
    assert response.status == 422
    html = await response.text()
    assert "card number is not valid" in html
    assert "pan_invalid" in html
    assert "4111 1111 1111 1112" not in html  # the number is not echoed back
    response = await _buy(merchant, pan="5555 5555 5555 4444")
    assert "does not take part" in await response.text()


async def test_shop_refuses_cross_site_posts(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    response = await merchant.client.post(
        "/shop/checkout",
        data={"item": "cup", "pan": TEST_PAN, "expiry": "12/30", "securityCode": TEST_CVC},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403
    response = await merchant.client.post(
        "/shop/checkout",
        data={"item": "cup", "pan": TEST_PAN, "expiry": "12/30", "securityCode": TEST_CVC},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        allow_redirects=False,
    )
    assert response.status == 403


async def test_return_unknown_checkout(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url)
    status, _ = await _return(merchant, {"checkoutId": "co_unknown", "result": "cancelled"})
    assert status == 404
    status, _ = await _return(merchant, {"checkoutId": "<script>", "result": "cancelled"})
    assert status == 404


async def test_return_without_stored_card_data(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()  # API checkout, no cardData
    _, html = await _return(
        merchant,
        {
            "checkoutId": checkout["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, checkout).to_json()),
        },
    )
    assert "card_data_unavailable" in html
    # The merchant's server can still verify with the card data it holds.
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    assert result["verdict"]["result"] == "authenticated"


async def test_demo_merchant_and_key_file(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url, dev=True)
    demo = merchant.app[DEMO_MERCHANT]
    assert demo.name == "Demo Shop"
    assert demo.allowed_origins == (SHOP_ORIGIN,)
    key_file = merchant.settings.data_dir / DEMO_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    response = await merchant.client.post(
        "/v1/checkouts",
        json={
            "amount": "1.00",
            "currency": "EUR",
            "returnUrl": f"{SHOP_ORIGIN}/checkout/return",
            "card": {"bin": "411111", "last4": "1111"},
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status == 201
    assert (await response.json())["transactionRequest"]["merchantName"] == "Demo Shop"


async def test_shop_disabled(make_merchant, sqlite_url):
    merchant = await make_merchant(sqlite_url, shop_enabled=False)
    assert (await merchant.client.get("/shop")).status == 404
    status, _ = await _return(merchant, {"checkoutId": "co_unknown", "result": "cancelled"})
    assert status == 404  # the return endpoint is always served
