"""End to end in Chromium: the real issuer, the real merchant and its demo shop.

A card is registered in the issuer's back office, enrolled in the browser with its
activation code, then used in the demo shop; the shop's verdict page and the merchant API
tell what the merchant decided. The issuer's request log shows that a checkout makes no
request to the issuer: the Service Worker answers it from the browser's key store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, Request, Route

from certs.presentation import Presentation
from certs.wire import b64url_decode, b64url_encode
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.conftest import StubWorld
from tests.browser.flows import (
    card_records,
    enroll,
    new_pan,
    screenshot,
    transaction_request,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.browser]

try:
    import issuer.app  # noqa: F401
    import merchant.app  # noqa: F401
    from tests.browser.stack import Stack, running_stack
except ImportError as exc:  # the services are not there yet
    pytest.skip(f"issuer/merchant services unavailable: {exc}", allow_module_level=True)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def frictionless_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The real services, the issuer publishing a frictionless policy (30.00 EUR), as
    ``ISSUER_FRICTIONLESS_LIMITS=EUR:30.00`` would configure it."""
    from issuer.settings import parse_frictionless_limits

    limits = parse_frictionless_limits("EUR:30.00")
    async with running_stack(
        tmp_path_factory.mktemp("frictionless-stack"),
        issuer_changes={"frictionless_limits": limits},
    ) as running:
        yield running


# --- steps ----------------------------------------------------------------------------


async def enrolled_card(
    stack: Stack, page: Page, *, prefix: str = "411111", go: bool = True
) -> tuple[str, str]:
    """Register a new card at the issuer and enroll it in this browser: (pan, credentialId)."""
    pan = new_pan(prefix)
    card = await stack.register_card(pan)
    credential_id = await enroll(page, stack.issuer_origin, card["activationCode"], go=go)
    return pan, credential_id


async def start_shop_checkout(
    stack: Stack,
    page: Page,
    pan: str,
    *,
    security_code: str = "123",
    item: str = "cup",
    popup: bool = False,
) -> None:
    """Fill in the demo shop's checkout form and submit it (the shop redirects to the bank,
    or, with ``popup``, shows its page with the button that opens the bank in a popup)."""
    await page.goto(f"{stack.shop_origin}/shop/checkout?item={item}")
    await page.fill("input[name=pan]", pan)
    await page.fill("input[name=expiry]", "12/30")
    await page.fill("input[name=securityCode]", security_code)
    if popup:
        await page.check("input[name=display][value=popup]")
    await page.click("button[data-once]")


async def verdict(page: Page) -> dict[str, str]:
    """What the shop's verdict page says."""
    await page.wait_for_selector("section.result")
    values = await page.locator("dl.details dd").all_text_contents()
    return {
        "heading": (await page.text_content("section.result h1") or "").strip(),
        "checkoutId": values[1].strip(),
        "code": values[2].strip(),
        "liabilityShift": values[3].strip(),
    }


def capture_presentations(page: Page) -> list[dict[str, str]]:
    """The form fields of every POST to the shop's return endpoint, as the browser sent them."""
    sent: list[dict[str, str]] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/checkout/return"):
            fields = parse_qs(request.post_data or "")
            sent.append({k: v[0] for k, v in fields.items()})

    page.on("request", on_request)
    return sent


async def tamper_redirect(
    stack: Stack, page: Page, change: Callable[[dict[str, Any]], None]
) -> None:
    """Change the transaction request in the shop's redirect to the bank, as an attacker
    sitting between shop and browser (an extension, a proxy) would. The form POST is
    forwarded from Python (Playwright's own fetch cannot resolve ``*.localhost``)."""

    async def handler(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{stack.merchant_url}/shop/checkout",
                data=route.request.post_data_buffer,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": stack.shop_origin,
                },
                allow_redirects=False,
            ) as response,
        ):
            assert response.status == 303, await response.text()
            location = response.headers["Location"]
        parts = urlsplit(location)
        request = json.loads(
            b64url_decode(parse_qs(parts.query)["request"][0], error=ValueError, what="request")
        )
        change(request)
        encoded = b64url_encode(json.dumps(request).encode())
        await route.fulfill(
            status=303,
            headers={"location": f"{parts.scheme}://{parts.netloc}{parts.path}?request={encoded}"},
        )

    await page.route("**/shop/checkout", handler)


async def open_shop_popup(
    stack: Stack, page: Page, pan: str, *, item: str
) -> tuple[Page, str, asyncio.Future[Any]]:
    """Check out in the demo shop with *Pay in a pop-up window*, then click the shop's
    button that opens the bank in a popup (merchant/static/popup.js).

    Returns the popup, the checkout id the shop page waits for, and a future for the
    popup's closing."""
    await start_shop_checkout(stack, page, pan, item=item, popup=True)
    await page.wait_for_selector("#pay-popup")
    assert await page.get_attribute("#pay-popup", "data-issuer-origin") == stack.issuer_origin
    checkout_id = str(await page.get_attribute("#pay-popup", "data-checkout-id"))
    async with page.expect_popup() as popup_info:
        await page.click("#pay-popup")
    popup = await popup_info.value
    closed = asyncio.ensure_future(popup.wait_for_event("close"))
    assert await page.get_attribute("#popup-status", "data-state") == "open"
    return popup, checkout_id, closed


# --- tests ------------------------------------------------------------------------------


async def test_enroll_and_buy_without_a_request_to_the_issuer(
    context: BrowserContext, stack: Stack
) -> None:
    page = await context.new_page()
    pan = new_pan()
    card = await stack.register_card(pan)
    await page.goto(f"{stack.issuer_origin}/enroll")
    await page.wait_for_selector("body[data-state='ready']")
    await page.fill("#activation-code", card["activationCode"])
    await screenshot(page, "enrollment")
    await enroll(page, stack.issuer_origin, card["activationCode"], go=False)
    assert await page.locator("li.enrolled-card").count() == 1
    await screenshot(page, "enrollment-done")
    await start_shop_checkout(stack, page, pan)
    await page.wait_for_selector("body[data-page='confirm']")
    assert await page.text_content("#merchant-origin") == stack.shop_origin
    assert await page.text_content("#amount") == "12.30 EUR"
    assert await page.text_content("#merchant-name") == "Demo Shop"
    await screenshot(page, "confirmation")
    mark = stack.issuer_log.mark()
    await page.click("#confirm")
    result = await verdict(page)
    await screenshot(page, "verdict")
    assert result["heading"] == "Payment authenticated"
    assert result["code"] == "authenticated"
    assert result["liabilityShift"] == "yes"
    assert stack.issuer_log.since(mark) == [], stack.issuer_log.paths(mark)
    described = await stack.checkout(result["checkoutId"])
    assert described["state"] == "authenticated"
    assert described["verdict"]["confirmation"] == "explicit"
    assert described["verdict"]["revocationSource"] == "stapled"


async def test_tampered_amount(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)

    def cheaper(request: dict[str, Any]) -> None:
        request["amount"] = "1.00"

    await tamper_redirect(stack, page, cheaper)
    await start_shop_checkout(stack, page, pan)
    await page.wait_for_selector("body[data-page='confirm']")
    assert await page.text_content("#amount") == "1.00 EUR"  # what the cardholder is shown
    await page.click("#confirm")
    result = await verdict(page)
    assert (result["heading"], result["code"]) == ("Payment not authenticated", "amount_mismatch")


async def test_presentation_for_another_origin(
    context: BrowserContext, stack: Stack, stub_world: StubWorld
) -> None:
    """A look-alike site gets a presentation for its own origin; replayed at the real
    shop, it fails ``origin_mismatch``."""
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)

    def elsewhere(request: dict[str, Any]) -> None:
        request["returnUrl"] = f"{stub_world.shop_origin}/checkout/return"

    await tamper_redirect(stack, page, elsewhere)
    before = len(stub_world.merchant.received)
    await start_shop_checkout(stack, page, pan)
    await page.wait_for_selector("body[data-page='confirm']")
    assert await page.text_content("#merchant-origin") == stub_world.shop_origin
    await page.click("#confirm")
    await page.wait_for_selector("#received")
    stolen = stub_world.merchant.received[before].fields
    # The look-alike forwards it to the real shop's return endpoint.
    await page.evaluate(
        """([action, fields]) => {
             const form = document.createElement("form");
             form.method = "post"; form.action = action;
             for (const [name, value] of Object.entries(fields)) {
               const input = document.createElement("input");
               input.type = "hidden"; input.name = name; input.value = value; form.append(input);
             }
             document.body.append(form); form.submit();
           }""",
        [f"{stack.shop_origin}/checkout/return", stolen],
    )
    result = await verdict(page)
    assert result["code"] == "origin_mismatch"


async def test_replayed_presentation(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    sent = capture_presentations(page)
    pan, _ = await enrolled_card(stack, page)
    await start_shop_checkout(stack, page, pan)
    await page.click("#confirm")
    first = await verdict(page)
    assert first["code"] == "authenticated"
    presentation = json.loads(sent[-1]["presentation"])
    # The same presentation again, for the same checkout: the nonce was used.
    replay = await stack.merchant_verify(first["checkoutId"], presentation)
    assert replay["verdict"]["result"] == "failed"
    assert replay["verdict"]["code"] == "nonce_replayed"
    # ... and for another checkout: it is bound to the first one.
    await start_shop_checkout(stack, page, pan)
    await page.wait_for_selector("body[data-page='confirm']")
    other = parse_qs(urlsplit(page.url).query)["request"][0]
    other_id = json.loads(b64url_decode(other, error=ValueError, what="request"))["checkoutId"]
    replay = await stack.merchant_verify(other_id, presentation)
    assert replay["verdict"]["code"] in ("checkout_id_mismatch", "nonce_mismatch")


async def test_wrong_security_code(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)
    await start_shop_checkout(stack, page, pan, security_code="999")
    await page.click("#confirm")
    result = await verdict(page)
    assert (result["heading"], result["code"]) == (
        "Payment not authenticated",
        "card_data_mismatch",
    )


async def test_revoked_credential(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    pan, credential_id = await enrolled_card(stack, page)
    await stack.revoke_credential(credential_id)
    # The browser learns it in its background status refresh (forced here).
    report = await page.evaluate(
        """async () => {
             const e = await import("/static/enrollment.js");
             const registration = await navigator.serviceWorker.getRegistration("/pay");
             return await e.requestUpkeep(registration, {force: true});
           }"""
    )
    assert {"credentialId": credential_id, "certStatus": "revoked"} in report["report"]["statuses"]
    await start_shop_checkout(stack, page, pan)
    await page.click("#confirm")
    result = await verdict(page)
    assert (result["heading"], result["code"]) == ("Payment not authenticated", "cert_revoked")


async def test_background_renewal(context: BrowserContext, stack: Stack) -> None:
    """Less than a third of the validity left: the worker renews with proof of possession
    (same key), staples the new status, and the next checkout uses the new certificate."""
    page = await context.new_page()
    sent = capture_presentations(page)
    pan, credential_id = await enrolled_card(stack, page)
    [before] = await card_records(page)
    await page.evaluate(
        """async (id) => {
             const ks = await import("/static/keystore.js");
             await ks.updateCredential(id, (r) => ({...r, notBefore: r.notBefore - 80 * 86400000,
                                                    notAfter: Date.now() + 5 * 86400000}));
             const e = await import("/static/enrollment.js");
             const registration = await navigator.serviceWorker.getRegistration("/pay");
             return await e.requestUpkeep(registration);
           }""",
        credential_id,
    )
    [after] = await card_records(page)
    assert after["credentialId"] == credential_id
    assert after["fingerprint"] != before["fingerprint"]
    assert after["certStatus"] == "good"
    await start_shop_checkout(stack, page, pan)
    await page.click("#confirm")
    assert (await verdict(page))["code"] == "authenticated"
    presentation = Presentation.parse(sent[-1]["presentation"])
    assert presentation.transaction.certificate_fingerprint == after["fingerprint"]


async def test_cancelled_confirmation(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)
    await start_shop_checkout(stack, page, pan)
    await page.click("#cancel")
    result = await verdict(page)
    assert (result["heading"], result["code"]) == ("Payment cancelled", "cancelled")
    assert (await stack.checkout(result["checkoutId"]))["state"] == "cancelled"


async def test_popup_flow(context: BrowserContext, stack: Stack) -> None:
    """The shop's own popup option: the bank's confirmation in a popup, the result handed
    back to the shop window by postMessage, the verdict shown there."""
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)
    popup, checkout_id, closed = await open_shop_popup(stack, page, pan, item="beans")
    await popup.wait_for_selector("body[data-page='confirm']")
    assert await popup.text_content("#amount") == "24.90 EUR"
    # A result from anyone but the bank's popup is ignored (here: the shop's own origin).
    await page.evaluate(
        """(id) => window.postMessage(
             {type: "cardcert.result", checkoutId: id, result: "cancelled"}, "*")""",
        checkout_id,
    )
    await page.wait_for_timeout(200)
    assert await page.get_attribute("#popup-status", "data-state") == "open"
    mark = stack.issuer_log.mark()
    await popup.click("#confirm")
    result = await verdict(page)  # in the shop window
    await closed
    assert (result["code"], result["checkoutId"]) == ("authenticated", checkout_id)
    assert stack.issuer_log.since(mark) == [], stack.issuer_log.paths(mark)
    described = await stack.checkout(checkout_id)
    assert described["state"] == "authenticated"
    assert described["verdict"]["confirmation"] == "explicit"


async def test_popup_cancelled(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()
    pan, _ = await enrolled_card(stack, page)
    popup, checkout_id, closed = await open_shop_popup(stack, page, pan, item="cup")
    await popup.wait_for_selector("body[data-page='confirm']")
    await popup.click("#cancel")
    result = await verdict(page)
    await closed
    assert (result["heading"], result["checkoutId"]) == ("Payment cancelled", checkout_id)
    assert (await stack.checkout(checkout_id))["state"] == "cancelled"


async def test_fallback_page_then_enrollment_resumes(context: BrowserContext, stack: Stack) -> None:
    page = await context.new_page()  # a fresh browser: no worker, no credential
    pan = new_pan()
    card = await stack.register_card(pan)
    await start_shop_checkout(stack, page, pan)
    await page.wait_for_selector("body[data-page='pay-fallback'][data-request='valid']")
    assert "Demo Shop" in (await page.text_content("#summary") or "")
    await screenshot(page, "fallback")
    await page.click("#enroll-link")
    await page.wait_for_selector("#resume-note:not([hidden])")
    await page.wait_for_selector("body[data-state='ready']")
    await page.fill("#activation-code", card["activationCode"])
    await page.click("#enroll-submit")
    await page.wait_for_selector("body[data-page='confirm']")  # back at /pay, now answered
    await page.click("#confirm")
    result = await verdict(page)
    assert result["code"] == "authenticated"


async def test_two_cards_each_with_its_own_credential(
    context: BrowserContext, stack: Stack
) -> None:
    page = await context.new_page()
    sent = capture_presentations(page)
    visa, visa_id = await enrolled_card(stack, page, prefix="411111")
    master, master_id = await enrolled_card(stack, page, prefix="555555", go=False)
    records = {r["credentialId"]: r for r in await card_records(page)}
    assert set(records) == {visa_id, master_id}
    for pan, credential_id in ((visa, visa_id), (master, master_id)):
        await start_shop_checkout(stack, page, pan, item="beans")
        await page.click("#confirm")
        result = await verdict(page)
        assert result["code"] == "authenticated"
        presentation = Presentation.parse(sent[-1]["presentation"])
        assert (
            presentation.transaction.certificate_fingerprint
            == records[credential_id]["fingerprint"]
        )


async def test_key_is_not_extractable_and_survives_a_restart(stack: Stack, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    profile = tmp_path / "profile"
    async with async_playwright() as playwright:
        launch: Callable[[], Awaitable[BrowserContext]] = lambda: (  # noqa: E731
            playwright.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, args=CHROMIUM_FLAGS
            )
        )
        ctx = await launch()
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        pan, credential_id = await enrolled_card(stack, page)
        outcome = await page.evaluate(
            """async (id) => {
                 const ks = await import("/static/keystore.js");
                 const r = await ks.getCredential(id);
                 const tries = [];
                 for (const format of ["pkcs8", "jwk"]) {
                   try {
                     await crypto.subtle.exportKey(format, r.privateKey);
                     tries.push("exported");
                   } catch (e) { tries.push(e.name); }
                 }
                 return {tries, extractable: r.privateKey.extractable, type: r.privateKey.type};
               }""",
            credential_id,
        )
        assert outcome == {
            "tries": ["InvalidAccessError", "InvalidAccessError"],
            "extractable": False,
            "type": "private",
        }
        await ctx.close()
        ctx = await launch()  # the same profile, after a restart
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        await start_shop_checkout(stack, page, pan)
        await page.click("#confirm")
        assert (await verdict(page))["code"] == "authenticated"
        await ctx.close()


async def test_posted_request_in_a_fresh_browser_reaches_the_fallback(
    context: BrowserContext, stack: Stack
) -> None:
    """A merchant may auto-POST the request (docs/interfaces.md, section 4); a browser
    without the worker then reaches the issuer's server, whose page must still see it."""
    page = await context.new_page()
    pan = new_pan()
    await stack.register_card(pan)
    request = transaction_request(shop_origin=stack.shop_origin, card=(pan[:6], pan[-4:]))
    await page.goto(f"{stack.shop_origin}/shop")
    await page.evaluate(
        """([action, text]) => {
             const form = document.createElement("form");
             form.method = "post"; form.action = action;
             const field = document.createElement("input");
             field.type = "hidden"; field.name = "request"; field.value = text;
             form.append(field); document.body.append(form); form.submit();
           }""",
        [f"{stack.issuer_origin}/pay", json.dumps(request)],
    )
    await page.wait_for_selector("body[data-page='pay-fallback'][data-request]")
    assert await page.get_attribute("body", "data-request") == "valid"


async def test_popup_through_the_fallback_page_keeps_its_opener(
    context: BrowserContext, stack: Stack
) -> None:
    """A fresh browser, popup mode: the popup shows the issuer's fallback page, enrolls,
    resumes, and still hands the result to the shop window (the issuer's pages must not
    cut the opener with Cross-Origin-Opener-Policy)."""
    page = await context.new_page()
    pan = new_pan()
    card = await stack.register_card(pan)
    popup, checkout_id, closed = await open_shop_popup(stack, page, pan, item="cup")
    await popup.wait_for_selector("body[data-page='pay-fallback'][data-request='valid']")
    assert await popup.evaluate("window.opener !== null")
    await popup.click("#enroll-link")
    await popup.wait_for_selector("body[data-state='ready']")
    await popup.fill("#activation-code", card["activationCode"])
    await popup.click("#enroll-submit")
    await popup.wait_for_selector("body[data-page='confirm']")
    await popup.click("#confirm")
    result = await verdict(page)
    await closed
    assert (result["code"], result["checkoutId"]) == ("authenticated", checkout_id)


async def test_frictionless_policy_of_the_real_issuer(
    context: BrowserContext, frictionless_stack: Stack
) -> None:
    """The issuer publishes ``frictionless: {"EUR": "30.00"}``: a 12.30 EUR checkout is
    signed without the confirmation page (``confirmation: "frictionless"``, authenticated,
    with liability shift since the demo merchant accepts frictionless); 89.00 EUR still
    shows the confirmation page."""
    stack = frictionless_stack
    page = await context.new_page()
    sent = capture_presentations(page)
    visited: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: visited.append(frame.url) if frame == page.main_frame else None,
    )
    pan, _ = await enrolled_card(stack, page)
    metadata = await page.evaluate(
        """async () => (await (await fetch("/.well-known/cardcert-issuer")).json()).frictionless"""
    )
    assert metadata == {"EUR": "30.00"}

    mark, first = stack.issuer_log.mark(), len(visited)
    await start_shop_checkout(stack, page, pan, item="cup")  # 12.30 EUR
    result = await verdict(page)
    assert (result["code"], result["liabilityShift"]) == ("authenticated", "yes")
    assert not [url for url in visited[first:] if "/pay/confirm" in url], visited[first:]
    presentation = Presentation.parse(sent[-1]["presentation"])
    assert presentation.transaction.confirmation == "frictionless"
    assert stack.issuer_log.since(mark) == [], stack.issuer_log.paths(mark)
    described = await stack.checkout(result["checkoutId"])
    assert described["verdict"]["confirmation"] == "frictionless"

    await start_shop_checkout(stack, page, pan, item="grinder")  # 89.00 EUR: above
    await page.wait_for_selector("body[data-page='confirm']")
    assert await page.text_content("#amount") == "89.00 EUR"
    await page.click("#confirm")
    result = await verdict(page)
    assert result["code"] == "authenticated"
    assert Presentation.parse(sent[-1]["presentation"]).transaction.confirmation == "explicit"
    assert (await stack.checkout(result["checkoutId"]))["verdict"]["confirmation"] == "explicit"
