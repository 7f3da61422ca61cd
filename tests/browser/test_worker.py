"""The Service Worker in Chromium, against the stub issuer and a recording merchant.

These tests check the browser side on its own: what the worker signs and POSTs is parsed
and fully verified here with ``certs.verification.verify_presentation``. The end-to-end
tests with the real issuer and merchant services are in test_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from playwright.async_api import BrowserContext, Page

from certs.card_data import CardData
from certs.chain import ChainVerifier
from certs.presentation import Presentation
from certs.revocation import StatusSource, read_ocsp_response
from certs.transaction import Confirmation
from certs.verification import verify_presentation
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.conftest import StubWorld
from tests.browser.flows import (
    card_records,
    confirm,
    enroll,
    new_pan,
    pay_url,
    transaction_request,
)
from tests.browser.stub_merchant import Received

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.browser]


def verify(world: StubWorld, received: Received, request: dict, pan: str) -> Presentation:
    """Verify a received presentation as a merchant would, with the certs core."""
    assert received.fields["checkoutId"] == request["checkoutId"]
    assert received.fields["result"] == "presented"
    presentation = Presentation.parse(received.fields["presentation"])
    now = datetime.now(UTC)
    leaf = x509.load_der_x509_certificate(presentation.certificate_chain[0])
    assert presentation.status is not None
    status = read_ocsp_response(
        presentation.status,
        certificate=leaf,
        issuer_ca=world.issuer.pki.issuer_ca,
        now=now,
        max_age=timedelta(days=1),
        source=StatusSource.STAPLED,
    )
    verify_presentation(
        presentation=presentation,
        expected_origin=world.shop_origin,
        expected_amount=request["amount"],
        expected_currency=request["currency"],
        expected_checkout_id=request["checkoutId"],
        expected_nonce=request["nonce"],
        expected_merchant_name=request["merchantName"],
        card_data=CardData.parse(pan=pan, expiry="12/30", security_code="123"),
        chain_verifier=ChainVerifier([world.issuer.pki.root]),
        revocation=status,
        nonce_unused=True,
        now=now,
    )
    return presentation


async def wait_received(world: StubWorld, count: int, page: Page) -> Received:
    await page.wait_for_selector("#received")
    assert len(world.merchant.received) == count
    return world.merchant.received[-1]


async def test_enroll_then_pay_without_contacting_the_issuer(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    pan = new_pan()
    page = await context.new_page()
    await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
    records = await card_records(page)
    assert [(r["bin"], r["last4"], r["certStatus"]) for r in records] == [
        (pan[:6], pan[-4:], "good")
    ]
    assert records[0]["extractable"] is False
    assert records[0]["keyType"] == "private"
    request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
    before = len(world.merchant.received)
    mark = world.issuer_log.mark()
    await page.goto(pay_url(world.issuer_origin, request))
    assert await page.text_content("#amount") == "12.30 EUR"
    assert await page.text_content("#merchant-origin") == world.shop_origin
    assert await page.text_content("#merchant-name") == "Demo Shop"
    await confirm(page)
    received = await wait_received(world, before + 1, page)
    presentation = verify(world, received, request, pan)
    assert presentation.transaction.confirmation is Confirmation.EXPLICIT
    assert world.issuer_log.since(mark) == [], world.issuer_log.paths(mark)
    # The auto-POST says it comes from the issuer, and does not leak the pay URL.
    assert received.origin == world.issuer_origin
    assert received.referer in (None, f"{world.issuer_origin}/")


async def test_posted_request_cancel_and_one_time_token(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    pan = new_pan()
    page = await context.new_page()
    await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
    request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
    # The shop auto-POSTs the request as a form (docs/interfaces.md, section 4).
    await page.goto(f"{world.shop_origin}/popup")
    await page.evaluate(
        """([action, text]) => {
             const form = document.createElement("form");
             form.method = "post"; form.action = action;
             const field = document.createElement("input");
             field.type = "hidden"; field.name = "request"; field.value = text;
             form.append(field); document.body.append(form); form.submit();
           }""",
        [f"{world.issuer_origin}/pay", json.dumps(request)],
    )
    await page.wait_for_selector("body[data-page='confirm']")
    token = await page.get_attribute("input[name='token']", "value")
    before = len(world.merchant.received)
    await page.click("#cancel")
    received = await wait_received(world, before + 1, page)
    assert received.fields == {"checkoutId": request["checkoutId"], "result": "cancelled"}
    # The token was used: answering the same confirmation again is refused.
    other = await context.new_page()
    await other.goto(f"{world.issuer_origin}/blank")
    await other.evaluate(
        """(token) => {
             const form = document.createElement("form");
             form.method = "post"; form.action = "/pay/confirm";
             for (const [name, value] of [["token", token], ["action", "confirm"]]) {
               const field = document.createElement("input");
               field.type = "hidden"; field.name = name; field.value = value; form.append(field);
             }
             document.body.append(form); form.submit();
           }""",
        token,
    )
    await other.wait_for_selector("body[data-page='error']")
    assert await other.get_attribute("#error", "data-code") == "confirmation_expired"
    assert len(world.merchant.received) == before + 1


async def test_invalid_request_gets_an_error_page(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    page = await context.new_page()
    await enroll(page, world.issuer_origin, world.issuer.add_card(new_pan()))
    request = transaction_request(shop_origin="http://shop.example")  # http, public host
    await page.goto(pay_url(world.issuer_origin, request))
    await page.wait_for_selector("body[data-page='error']")
    assert await page.get_attribute("#error", "data-code") == "return_url_invalid"


async def test_two_cards_chooser_and_reenrollment(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    first, second = new_pan("411111"), new_pan("555555")
    page = await context.new_page()
    first_id = await enroll(page, world.issuer_origin, world.issuer.add_card(first))
    second_id = await enroll(page, world.issuer_origin, world.issuer.add_card(second), go=False)
    # Re-enrolling the first card replaces its credential.
    replaced_id = await enroll(page, world.issuer_origin, world.issuer.add_card(first), go=False)
    records = {r["credentialId"]: r for r in await card_records(page)}
    assert set(records) == {second_id, replaced_id}
    assert first_id not in records
    assert await page.locator("li.enrolled-card").count() == 2
    # Each card by its hint, with its own credential.
    for pan, credential_id in ((first, replaced_id), (second, second_id)):
        request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
        before = len(world.merchant.received)
        await page.goto(pay_url(world.issuer_origin, request))
        await confirm(page)
        presentation = verify(world, await wait_received(world, before + 1, page), request, pan)
        assert (
            presentation.transaction.certificate_fingerprint
            == records[credential_id]["fingerprint"]
        )
    # No hint: the chooser lists both; the chosen one signs.
    request = transaction_request(shop_origin=world.shop_origin, card=None)
    await page.goto(pay_url(world.issuer_origin, request))
    await page.wait_for_selector("body[data-page='confirm']")
    assert await page.locator("input[name='credentialId']").count() == 2
    before = len(world.merchant.received)
    await confirm(page, choose=second_id)
    presentation = verify(world, await wait_received(world, before + 1, page), request, second)
    assert presentation.transaction.certificate_fingerprint == records[second_id]["fingerprint"]


async def test_fallback_enrollment_resumes_the_checkout(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    pan = new_pan()
    code = world.issuer.add_card(pan)
    page = await context.new_page()
    request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
    await page.goto(pay_url(world.issuer_origin, request))  # fresh browser: no worker
    await page.wait_for_selector("body[data-page='pay-fallback'][data-request='valid']")
    assert "Demo Shop" in (await page.text_content("#summary") or "")
    await page.click("#enroll-link")
    await page.wait_for_selector("#resume-note:not([hidden])")
    await page.wait_for_selector("body[data-state='ready']")
    await page.fill("#activation-code", code)
    await page.click("#enroll-submit")
    before = len(world.merchant.received)
    await confirm(page)  # back on /pay, now answered by the worker
    verify(world, await wait_received(world, before + 1, page), request, pan)


async def test_popup_flow(context: BrowserContext, stub_world: StubWorld) -> None:
    world = stub_world
    pan = new_pan()
    page = await context.new_page()
    await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
    request = transaction_request(
        shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]), display="popup"
    )
    from urllib.parse import quote

    await page.goto(f"{world.shop_origin}/popup?pay={quote(pay_url(world.issuer_origin, request))}")
    before = len(world.merchant.received)
    async with page.expect_popup() as popup_info:
        await page.click("#pay")
    popup = await popup_info.value
    closed = asyncio.ensure_future(popup.wait_for_event("close"))
    await confirm(popup)
    await page.wait_for_selector("#outcome[data-done='1']")
    assert await page.text_content("#outcome") == "presented"
    await closed
    assert len(world.merchant.received) == before + 1
    verify(world, world.merchant.received[-1], request, pan)


async def test_frictionless_policy_signs_without_a_page(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    world.issuer.frictionless = {"EUR": "30.00"}
    try:
        pan = new_pan()
        page = await context.new_page()
        await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
        request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
        before = len(world.merchant.received)
        await page.goto(pay_url(world.issuer_origin, request))
        presentation = verify(world, await wait_received(world, before + 1, page), request, pan)
        assert presentation.transaction.confirmation is Confirmation.FRICTIONLESS
        # Above the ceiling the cardholder confirms.
        request = transaction_request(
            shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]), amount="30.01"
        )
        await page.goto(pay_url(world.issuer_origin, request))
        await page.wait_for_selector("body[data-page='confirm']")
    finally:
        world.issuer.frictionless = None


async def test_status_refresh_and_renewal_in_the_background(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    world = stub_world
    pan = new_pan()
    page = await context.new_page()
    credential_id = await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
    [record] = await card_records(page)
    # Make the certificate look two-thirds through its life: the upkeep renews it.
    await page.evaluate(
        """async (id) => {
             const ks = await import("/static/keystore.js");
             await ks.updateCredential(id, (r) => ({...r, notBefore: r.notBefore - 80 * 86400000,
                                                    notAfter: Date.now() + 5 * 86400000}));
           }""",
        credential_id,
    )
    report = await page.evaluate(
        """async () => {
             const e = await import("/static/enrollment.js");
             const registration = await navigator.serviceWorker.getRegistration("/pay");
             return await e.requestUpkeep(registration);
           }"""
    )
    assert report["report"]["renewed"] == [{"from": credential_id, "to": credential_id}]
    [renewed] = await card_records(page)
    assert renewed["fingerprint"] != record["fingerprint"]
    assert renewed["certStatus"] == "good"
    # The renewed certificate works (same key, same card-data secret).
    request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
    before = len(world.merchant.received)
    await page.goto(pay_url(world.issuer_origin, request))
    await confirm(page)
    presentation = verify(world, await wait_received(world, before + 1, page), request, pan)
    assert presentation.transaction.certificate_fingerprint == renewed["fingerprint"]
    # Revoked at the issuer: a forced upkeep staples the revoked status.
    world.issuer.revoke(renewed["fingerprint"])
    await page.goto(f"{world.issuer_origin}/blank")
    report = await page.evaluate(
        """async () => {
             const e = await import("/static/enrollment.js");
             const registration = await navigator.serviceWorker.getRegistration("/pay");
             return await e.requestUpkeep(registration, {force: true});
           }"""
    )
    assert report["report"]["statuses"] == [
        {"credentialId": credential_id, "certStatus": "revoked"}
    ]


async def test_key_is_not_extractable_and_survives_a_restart(
    stub_world: StubWorld, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    world = stub_world
    pan = new_pan()
    profile = tmp_path / "profile"
    async with async_playwright() as playwright:
        ctx = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        credential_id = await enroll(page, world.issuer_origin, world.issuer.add_card(pan))
        outcome = await page.evaluate(
            """async (id) => {
                 const ks = await import("/static/keystore.js");
                 const r = await ks.getCredential(id);
                 const tries = [];
                 for (const format of ["pkcs8", "jwk", "raw"]) {
                   try {
                     await crypto.subtle.exportKey(format, r.privateKey);
                     tries.push("exported");
                   } catch (e) { tries.push(e.name); }
                 }
                 return {tries, extractable: r.privateKey.extractable};
               }""",
            credential_id,
        )
        assert outcome == {"tries": ["InvalidAccessError"] * 3, "extractable": False}
        await ctx.close()
        ctx = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        request = transaction_request(shop_origin=world.shop_origin, card=(pan[:6], pan[-4:]))
        before = len(world.merchant.received)
        await page.goto(pay_url(world.issuer_origin, request))
        await confirm(page)
        verify(world, await wait_received(world, before + 1, page), request, pan)
        await ctx.close()


async def test_unknown_card_passes_through_to_the_fallback_page(
    context: BrowserContext, stub_world: StubWorld
) -> None:
    """With the worker installed but no credential for the card: GET goes to the issuer's
    page; a POSTed request is first moved into the URL (303) so that page can read it."""
    world = stub_world
    page = await context.new_page()
    await enroll(page, world.issuer_origin, world.issuer.add_card(new_pan()))
    other = new_pan("555555")
    request = transaction_request(shop_origin=world.shop_origin, card=(other[:6], other[-4:]))
    mark = world.issuer_log.mark()
    await page.goto(pay_url(world.issuer_origin, request))
    await page.wait_for_selector("body[data-page='pay-fallback'][data-request='valid']")
    assert world.issuer_log.paths(mark)[0].startswith("GET /pay?request=")
    await page.goto(f"{world.shop_origin}/popup")
    mark = world.issuer_log.mark()
    await page.evaluate(
        """([action, text]) => {
             const form = document.createElement("form");
             form.method = "post"; form.action = action;
             const field = document.createElement("input");
             field.type = "hidden"; field.name = "request"; field.value = text;
             form.append(field); document.body.append(form); form.submit();
           }""",
        [f"{world.issuer_origin}/pay", json.dumps(request)],
    )
    await page.wait_for_selector("body[data-page='pay-fallback'][data-request='valid']")
    # The worker redirected: the server saw only the GET, never the POST.
    assert "POST /pay" not in world.issuer_log.paths(mark)
    assert world.issuer_log.paths(mark)[0].startswith("GET /pay?request=")
    assert "Demo Shop" in (await page.text_content("#summary") or "")
