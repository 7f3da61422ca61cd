"""What a cardholder does in the browser, as reusable steps for the browser tests.

Works against any issuer that serves ``service_worker/`` (the stub or the real one).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from playwright.async_api import Page

from certs.wire import b64url_encode
from tests.browser.chromium import SCREENSHOTS

__all__ = [
    "card_records",
    "confirm",
    "enroll",
    "new_pan",
    "pay_url",
    "screenshot",
    "transaction_request",
]


def new_pan(prefix: str = "411111") -> str:
    """A Luhn-valid 16-digit PAN with a random middle."""
    body = prefix + "".join(secrets.choice("0123456789") for _ in range(9))
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def transaction_request(
    *,
    shop_origin: str,
    amount: str = "12.30",
    currency: str = "EUR",
    card: tuple[str, str] | None = ("411111", "1111"),
    display: str = "redirect",
    merchant_name: str = "Demo Shop",
    checkout_id: str | None = None,
    nonce: str | None = None,
    return_path: str = "/checkout/return",
) -> dict[str, Any]:
    """A transaction request (docs/interfaces.md, section 4)."""
    request: dict[str, Any] = {
        "version": 1,
        "merchantName": merchant_name,
        "amount": amount,
        "currency": currency,
        "checkoutId": checkout_id or "co_" + secrets.token_hex(8),
        "nonce": nonce or b64url_encode(secrets.token_bytes(16)),
        "returnUrl": f"{shop_origin}{return_path}",
        "display": display,
    }
    if card is not None:
        request["cardHint"] = {"bin": card[0], "last4": card[1]}
    return request


def pay_url(issuer_origin: str, request: dict[str, Any]) -> str:
    text = json.dumps(request, separators=(",", ":"))
    return f"{issuer_origin}/pay?request={quote(b64url_encode(text.encode()))}"


async def enroll(page: Page, issuer_origin: str, activation_code: str, *, go: bool = True) -> str:
    """Enroll on /enroll; returns the new credential id. Waits for the worker to be active."""
    if go:
        await page.goto(f"{issuer_origin}/enroll")
    await page.wait_for_selector("body[data-state='ready'], body[data-state='enrolled']")
    await page.fill("#activation-code", activation_code)
    await page.click("#enroll-submit")
    await page.wait_for_selector("body[data-state='enrolled'], body[data-state='error']")
    state = await page.get_attribute("body", "data-state")
    if state != "enrolled":
        code = await page.get_attribute("body", "data-error-code")
        message = await page.text_content("#message")
        raise AssertionError(f"enrollment failed: {code}: {message}")
    await page.wait_for_selector("body[data-service-worker='active']")
    return str(await page.get_attribute("body", "data-credential-id"))


async def card_records(page: Page) -> list[dict[str, Any]]:
    """The keystore records (without key material), read on an issuer page."""
    return list(
        await page.evaluate(
            """async () => {
              const ks = await import("/static/keystore.js");
              return (await ks.listCredentials()).map((r) => ({
                credentialId: r.credentialId, bin: r.bin, last4: r.last4,
                fingerprint: r.fingerprint, notBefore: r.notBefore, notAfter: r.notAfter,
                certStatus: r.statusInfo ? r.statusInfo.certStatus : null,
                status: r.status, extractable: r.privateKey.extractable,
                keyType: r.privateKey.type, usages: r.privateKey.usages}));
            }"""
        )
    )


async def confirm(page: Page, *, choose: str | None = None) -> None:
    """On the confirmation page: optionally pick a credential, then click Pay."""
    await page.wait_for_selector("body[data-page='confirm']")
    if choose is not None:
        await page.check(f"input[name='credentialId'][value='{choose}']")
    await page.click("#confirm")


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
