"""The Service Worker's modules, run in Chromium and checked against the Python core.

Each test imports the real ES modules into a page on the (stub) issuer origin and compares
their output with ``certs``: the transaction bytes with ``TransactionDescription.build``,
signatures with ``verify_raw_signature``, origins with ``origin_of_url``, amounts with
``is_canonical_amount``, the presentation with ``Presentation.parse``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from playwright.async_api import BrowserContext, Page

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.keys import load_p256_spki, verify_raw_signature
from certs.money import is_canonical_amount
from certs.origin import origin_of_url
from certs.presentation import Presentation
from certs.proof_of_possession import PopPurpose, pop_message
from certs.transaction import Confirmation, TransactionDescription
from certs.wire import b64url_decode, b64url_encode
from tests.browser.conftest import StubWorld

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.browser]


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext, stub_world: StubWorld) -> AsyncIterator[Page]:
    page = await context.new_page()
    await page.goto(f"{stub_world.issuer_origin}/blank")
    yield page


MODULES = [
    "base64url",
    "origin",
    "money",
    "request",
    "signing",
    "der",
    "certificate",
    "pages",
    "policy",
    "jcs",
]


async def run(page: Page, body: str, arg: Any = None) -> Any:
    """Evaluate an async function body with the modules imported as `m` (CSP stays on)."""
    imports = "".join(f'm["{name}"] = await import("/static/{name}.js");' for name in MODULES)
    return await page.evaluate(f"async (arg) => {{ const m = {{}}; {imports} {body} }}", arg)


FIELDS = {
    "merchantOrigin": "http://shop.localhost:8002",
    "merchantName": 'Caf\u00e9 "Zo\u00eb" <&> \U0001f600 \u4e2d',
    "amount": "1234.50",
    "currency": "EUR",
    "checkoutId": "co_abc-DEF_123",
    "nonce": b64url_encode(b"\x01" * 16),
    "certificateFingerprint": b64url_encode(b"\x02" * 32),
}


@pytest.mark.parametrize("confirmation", list(Confirmation))
async def test_transaction_bytes_equal_the_python_build(
    page: Page, confirmation: Confirmation
) -> None:
    signed_at = datetime(2026, 11, 23, 9, 32, 10, 123000, tzinfo=UTC)
    js = await run(
        page,
        """const f = {...arg, signedAt: new Date(arg.signedAt)};
           return m.base64url.encode(m.signing.transactionBytes(f));""",
        {**FIELDS, "signedAt": signed_at.isoformat(), "confirmation": str(confirmation)},
    )
    python = TransactionDescription.build(
        merchant_origin=FIELDS["merchantOrigin"],
        merchant_name=FIELDS["merchantName"],
        amount=FIELDS["amount"],
        currency=FIELDS["currency"],
        checkout_id=FIELDS["checkoutId"],
        nonce=FIELDS["nonce"],
        signed_at=signed_at,
        certificate_fingerprint=FIELDS["certificateFingerprint"],
        confirmation=confirmation,
    )
    assert b64url_decode(js, error=ValueError, what="js") == python.raw


async def test_signatures_and_proof_of_possession_verify_in_python(page: Page) -> None:
    out = await run(
        page,
        """const pair = await m.signing.generateCredentialKey();
           const spki = m.base64url.encode(await crypto.subtle.exportKey("spki", pair.publicKey));
           let exportError = null;
           try { await crypto.subtle.exportKey("pkcs8", pair.privateKey); }
           catch (e) { exportError = e.name; }
           const pop = m.signing.popMessage({purpose: "enrollment", origin: location.origin,
                                             challenge: arg});
           const sig = await m.signing.signRaw(pair.privateKey, pop);
           return {spki, exportError, extractable: pair.privateKey.extractable,
                   pop: m.base64url.encode(pop), sig: m.base64url.encode(sig)};""",
        "Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMzI",
    )
    assert out["exportError"] == "InvalidAccessError"
    assert out["extractable"] is False
    key = load_p256_spki(b64url_decode(out["spki"], error=ValueError, what="spki"))
    origin = page.url.rsplit("/", 1)[0]
    expected = pop_message(
        purpose=PopPurpose.ENROLLMENT,
        origin=origin,
        challenge="Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtMzI",
    )
    assert b64url_decode(out["pop"], error=ValueError, what="pop") == expected
    signature = b64url_decode(out["sig"], error=ValueError, what="sig")
    assert len(signature) == 64
    verify_raw_signature(key, signature, expected)


async def test_presentation_parses_and_verifies_in_python(page: Page) -> None:
    now = datetime.now(UTC)
    card = CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123")
    from certs.dev_pki import DevPki

    pki = DevPki.create(now=now)
    reference = CardholderCredential.issue(
        pki, card, now=now, crl_url="http://x.localhost/crl", ocsp_url="http://x.localhost/ocsp"
    )
    # Import the reference key into WebCrypto (as a non-extractable signing key), so the
    # browser and Python sign for the same certificate.
    pkcs8 = reference.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    request = {
        "version": 1,
        "merchantName": "Demo Shop",
        "amount": "12.30",
        "currency": "EUR",
        "checkoutId": "co_1",
        "nonce": b64url_encode(b"\x03" * 16),
        "returnUrl": "http://shop.localhost:8002/checkout/return",
        "cardHint": {"bin": "411111", "last4": "1111"},
        "display": "redirect",
    }
    out = await run(
        page,
        """const key = await crypto.subtle.importKey("pkcs8", m.base64url.decode(arg.pkcs8),
               {name: "ECDSA", namedCurve: "P-256"}, false, ["sign"]);
           const request = m.request.parseTransactionRequest(JSON.stringify(arg.request));
           const credential = {privateKey: key, certificateChain: arg.chain, status: null,
               cardDataSecret: m.base64url.decode(arg.secret),
               fingerprint: await m.signing.fingerprint(m.base64url.decode(arg.chain[0]))};
           const out = await m.signing.present(credential, request, {confirmation: "explicit"});
           return {presentation: out.presentation, fingerprint: credential.fingerprint};""",
        {
            "pkcs8": b64url_encode(pkcs8),
            "request": request,
            "chain": [b64url_encode(c) for c in reference.certificate_chain],
            "secret": b64url_encode(reference.card_data_secret),
        },
    )
    assert out["fingerprint"] == reference.fingerprint
    presentation = Presentation.parse(out["presentation"])
    transaction = presentation.transaction
    assert transaction.merchant_origin == "http://shop.localhost:8002"
    assert (transaction.amount, transaction.currency, transaction.nonce) == (
        "12.30",
        "EUR",
        request["nonce"],
    )
    assert abs(transaction.signed_at - datetime.now(UTC)) < timedelta(seconds=30)
    assert presentation.card_data_secret == reference.card_data_secret
    assert presentation.certificate_chain == reference.certificate_chain
    verify_raw_signature(
        reference.private_key.public_key(), presentation.signature, transaction.raw
    )
    # Byte-identical to the Python cardholder for the same signing time.
    python, _ = reference.sign_transaction(
        merchant_origin=transaction.merchant_origin,
        merchant_name="Demo Shop",
        amount="12.30",
        currency="EUR",
        checkout_id="co_1",
        nonce=request["nonce"],
        signed_at=transaction.signed_at,
    )
    assert python.raw == transaction.raw


URLS = [
    "https://shop.example/checkout/return",
    "https://SHOP.Example:443/x?y#z",
    "https://shop.example:8443/",
    "https://shop.example:08443/",
    "http://shop.localhost:8002/checkout/return",
    "http://localhost/",
    "http://127.0.0.1:80/r",
    "http://LOCALHOST:3000",
    "HTTPS://shop.example",
    "  https://shop.example/leading-space",
    "https://shop.example\t/tab",
    "https://sh\top.example/",
    "http://shop.example/",  # http on a public host
    "http://127.0.0.2/",
    "ftp://shop.example/",
    "https://user@shop.example/",
    "https://user:pw@shop.example/",
    "https://@shop.example/",
    "https://evil.example\\@shop.example/",
    "https://shop.example:/",
    "https://shop.example:0/",
    "https://shop.example:80:90/",
    "https://shop.example: 80/",
    "https://shop.example:\uff18\uff10/",
    "https://shop.example:99999/",
    "https://shop.example:+80/",
    "https://[::1]/",
    "https:///shop.example",
    "https:shop.example",
    "//shop.example/",
    "https://shop_example.com/",
    "https://-shop.example/",
    "https://shop.example./",
    "https://xn--caf-dma.example/",
    "https://caf\u00e9.example/",
    "https://shop.exampl\u212a/",
    "https://127.1/",
    "https://999.1.1.1/",
    "https://shop.example%2f.evil/",
    "https://shop.example#@evil.example/",
    "https://shop.example?@evil.example/",
    "https://shop.example/" + "a" * 2100,
    "javascript:alert(1)",
    "",
]


async def test_origin_derivation_agrees_with_python(page: Page) -> None:
    js = await run(
        page,
        "return arg.map((u) => [m.origin.originOfUrl(u), m.origin.pythonOriginOfUrl(u)]);",
        URLS,
    )
    accepted = 0
    for url, (browser_origin, transcribed) in zip(URLS, js, strict=True):
        python = origin_of_url(url)
        # The transcription matches Python, except that it refuses any "@".
        assert transcribed == python or (transcribed is None and "@" in url), url
        # What the worker signs is Python's origin or nothing, never something else.
        assert browser_origin in (None, python), url
        accepted += browser_origin is not None
    assert js[0][0] == "https://shop.example"
    assert js[1][0] == "https://shop.example"
    assert js[4][0] == "http://shop.localhost:8002"
    assert accepted >= 8


AMOUNTS = [
    ("12.30", "EUR"),
    ("12.3", "EUR"),
    ("012.30", "EUR"),
    ("0.00", "EUR"),
    ("1000", "JPY"),
    ("1000.0", "JPY"),
    ("1.234", "KWD"),
    ("1.23", "KWD"),
    ("-1.00", "EUR"),
    ("1e3", "JPY"),
    ("12.30", "eur"),
    ("12.30", "XXX"),
    ("999999999999999999.99", "EUR"),
    ("1000000000000000000.00", "EUR"),
    (" 12.30", "EUR"),
    ("\uff11.00", "EUR"),
]


async def test_amounts_agree_with_python(page: Page) -> None:
    js = await run(page, "return arg.map(([a, c]) => m.money.isCanonicalAmount(a, c));", AMOUNTS)
    assert js == [is_canonical_amount(a, c) for a, c in AMOUNTS]


def _request(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 1,
        "merchantName": "Demo Shop",
        "amount": "12.30",
        "currency": "EUR",
        "checkoutId": "co_1",
        "nonce": b64url_encode(b"\x03" * 16),
        "returnUrl": "http://shop.localhost:8002/checkout/return",
        "cardHint": {"bin": "411111", "last4": "1111"},
        "display": "redirect",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


REQUESTS = [
    ("valid", _request(), None),
    ("no hint, default display", _request(cardHint=None, display=None), None),
    ("popup", _request(display="popup"), None),
    ("version 2", _request(version=2), "request_malformed"),
    ("version string", _request(version="1"), "request_malformed"),
    ("amount float", _request(amount=12.3), "request_malformed"),
    ("amount precision", _request(amount="12.3"), "request_malformed"),
    ("currency", _request(currency="ZZZ"), "request_malformed"),
    ("short nonce", _request(nonce="abc"), "request_malformed"),
    ("checkout id", _request(checkoutId="co 1"), "request_malformed"),
    ("control in name", _request(merchantName="Shop\u0000"), "request_malformed"),
    ("name too long", _request(merchantName="x" * 101), "request_malformed"),
    ("empty name", _request(merchantName=""), "request_malformed"),
    ("no-break space in name", _request(merchantName="Shop\u00a0A"), "request_malformed"),
    ("format char in name", _request(merchantName="Shop\u202eA"), "request_malformed"),
    ("emoji name", _request(merchantName="Shop \U0001f600"), None),
    ("http public return", _request(returnUrl="http://shop.example/r"), "return_url_invalid"),
    ("userinfo", _request(returnUrl="https://a@shop.example/r"), "return_url_invalid"),
    ("bad bin", _request(cardHint={"bin": "4111", "last4": "1111"}), "request_malformed"),
    ("display", _request(display="iframe"), "request_malformed"),
]


async def test_request_parsing(page: Page) -> None:
    js = await run(
        page,
        """return arg.map((r) => {
             try {
               const p = m.request.parseTransactionRequest(JSON.stringify(r));
               return {ok: p, decoded: m.request.decodeRequestParameter(p.encoded).checkoutId};
             } catch (e) { return {code: e.code ?? e.name}; }
           });""",
        [r for _, r, _ in REQUESTS],
    )
    for (name, request, code), result in zip(REQUESTS, js, strict=True):
        if code is None:
            assert "ok" in result, name
            assert result["ok"]["merchantOrigin"] == "http://shop.localhost:8002", name
            assert result["decoded"] == request["checkoutId"]
            assert result["ok"]["display"] in ("redirect", "popup")
        else:
            assert result == {"code": code}, name
    bad = await run(
        page,
        """return ["", "!!", "e30", "bm90IGpzb24", "_w"].map((e) => {
             try { m.request.decodeRequestParameter(e); return null; }
             catch (x) { return x.code; } });""",
    )
    assert bad == [
        "request_missing",
        "request_malformed",
        "request_malformed",
        "request_malformed",
        "request_malformed",
    ]


async def test_certificate_and_ocsp_dates(page: Page, stub_world: StubWorld) -> None:
    now = datetime.now(UTC)
    card = CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123")
    pki = stub_world.issuer.pki
    reference = CardholderCredential.issue(
        pki, card, now=now, crl_url="http://x.localhost/crl", ocsp_url="http://x.localhost/ocsp"
    )
    from tests.browser.stub_issuer import _Certificate

    ocsp_der = stub_world.issuer.ocsp_response(
        _Certificate(reference.certificate_chain[0], "cred_x", b"", card, b"")
    )
    out = await run(
        page,
        """const c = m.certificate.certificateInfo(m.base64url.decode(arg.cert));
           const o = m.certificate.ocspInfo(m.base64url.decode(arg.ocsp));
           return {nb: c.notBefore.getTime(), na: c.notAfter.getTime(), serial: c.serial,
                   status: o.certStatus, ou: o.serial, tu: o.thisUpdate.getTime(),
                   nu: o.nextUpdate.getTime()};""",
        {"cert": b64url_encode(reference.certificate_chain[0]), "ocsp": b64url_encode(ocsp_der)},
    )
    cert = reference.certificate
    assert out["nb"] == int(cert.not_valid_before_utc.timestamp() * 1000)
    assert out["na"] == int(cert.not_valid_after_utc.timestamp() * 1000)
    assert int(out["serial"], 16) == cert.serial_number
    assert out["ou"] == out["serial"]
    assert out["status"] == "good"
    assert out["nu"] - out["tu"] == stub_world.issuer.status_freshness * 1000


async def test_pages_escape_everything(page: Page) -> None:
    evil = "<script>alert(1)</script>\"'&"
    out = await run(
        page,
        """const request = m.request.parseTransactionRequest(JSON.stringify(arg.request));
           const credentials = [{credentialId: arg.evil, issuerName: arg.evil, last4: "1111",
                                 notAfter: 0}, {credentialId: "b", issuerName: "B", last4: "2222",
                                 notAfter: 0}];
           const confirm = m.pages.confirmationPage({request, credentials, token: arg.evil,
                                                     issuerName: arg.evil}).text;
           const result = m.pages.resultPage({request, result: "presented",
                                              presentation: arg.evil}).text;
           return {confirm, result, csp: m.pages.contentSecurityPolicy(["'self'"])};""",
        {"request": _request(merchantName=evil), "evil": evil},
    )
    for html in (out["confirm"], out["result"]):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;" in html
    assert out["confirm"].count('name="credentialId"') == 2
    assert "script-src 'self'" in out["csp"]
    assert "frame-ancestors 'none'" in out["csp"]


async def test_the_result_script_is_inlined_under_its_own_hash(page: Page) -> None:
    """The result page carries /static/result.js inline, allowed by a CSP hash source of
    exactly that text (CSP3 section 8.3); text that could end the element is refused."""
    text = (ROOT / "service_worker" / "static" / "result.js").read_text()
    out = await run(
        page,
        """const request = m.request.parseTransactionRequest(JSON.stringify(arg.request));
           const script = await m.pages.inlineScript(arg.text);
           const result = m.pages.resultPage({request, result: "presented",
                                              presentation: "p", script}).text;
           const plain = m.pages.resultPage({request, result: "presented",
                                             presentation: "p"}).text;
           const refused = [];
           for (const bad of ["a</script>b", "a</SCRIPT >b", "<!-- x"]) {
             try { await m.pages.inlineScript(bad); refused.push(false); }
             catch { refused.push(true); }
           }
           return {hash: script.hash, result, plain, refused,
                   csp: m.pages.contentSecurityPolicy(["'self'"], [script.hash])};""",
        {"request": _request(), "text": text},
    )
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert out["hash"] == f"'sha256-{digest}'"
    assert f"<script>{text}</script>" in out["result"]
    assert 'src="/static/result.js"' not in out["result"]
    assert '<script src="/static/result.js" async></script>' in out["plain"]
    assert f"script-src 'self' 'sha256-{digest}';" in out["csp"]
    assert out["refused"] == [True, True, True]


async def test_frictionless_policy(page: Page) -> None:
    cases = [
        ({"frictionless": {"EUR": "30.00"}}, "12.30", True, "good", True),
        ({"frictionless": {"EUR": "30.00"}}, "30.00", True, "good", True),
        ({"frictionless": {"EUR": "30.00"}}, "30.01", True, "good", False),
        ({"frictionless": {"USD": "30.00"}}, "12.30", True, "good", False),
        ({"frictionless": {"EUR": "30"}}, "12.30", True, "good", False),
        ({}, "12.30", True, "good", False),
        (None, "12.30", True, "good", False),
        ({"frictionless": {"EUR": "30.00"}}, "12.30", False, "good", False),
        ({"frictionless": {"EUR": "30.00"}}, "12.30", True, "revoked", False),
    ]
    out = await run(
        page,
        """return arg.map(([metadata, amount, hint, status]) => {
             const request = {amount, currency: "EUR",
                              cardHint: hint ? {bin: "411111", last4: "1111"} : null};
             return m.policy.frictionlessAllowed({request, metadata,
               candidates: [{statusInfo: {certStatus: status}}]});
           });""",
        [list(c[:4]) for c in cases],
    )
    assert out == [c[4] for c in cases]


async def test_jcs_module_is_the_given_one(page: Page) -> None:
    out = await run(page, 'return m.jcs.canonicalize({b: [1, "\\u00e9"], a: null});')
    assert out == json.dumps(
        {"a": None, "b": [1, "\u00e9"]}, separators=(",", ":"), ensure_ascii=False
    )
