"""The demo shop and the browser return endpoint.

``/shop`` lists products; ``/shop/checkout`` takes card details and creates the checkout
through the same code path as ``POST /v1/checkouts`` (with ``cardData``, kept encrypted),
then sends the browser to the issuer's pay URL with a 303 redirect carrying the transaction
request (docs/interfaces.md, section 4). The issuer's Service Worker auto-POSTs the result
to ``/checkout/return`` (section 5), which verifies it like ``POST /v1/checkouts/{id}/verify``
(with the stored card data) and shows the verdict in plain words.

With *Pay in a pop-up window* ticked, the checkout is created with ``display: "popup"`` and
the shop answers a page whose button opens the pay URL in a popup (``static/popup.js``);
the Service Worker hands the result back with ``postMessage`` and the page submits it to
``/checkout/return`` as a form, so the same verdict page follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from certs.errors import CardcertError
from certs.money import CURRENCY_EXPONENTS
from merchant.app_keys import (
    CHECKOUT_LIMITER,
    CHECKOUTS,
    CLOCK,
    DEMO_MERCHANT,
    RETURN_LIMITER,
    SETTINGS,
    STORE,
)
from merchant.checkouts import CheckoutRequest, parse_card_data
from merchant.client import client_of
from merchant.errors import CardDataUnavailable
from merchant.models import CheckoutState
from merchant.store import CheckoutView
from merchant.templates import (
    CHECKOUT_FORM,
    DETAILS,
    ERROR_BOX,
    LAYOUT,
    POPUP_PAY,
    PRODUCT,
    PRODUCTS,
    RESULT,
    Html,
    render,
)
from merchant.verifier import Outcome
from servicekit.errors import Forbidden
from servicekit.form_body import read_form

__all__ = ["CODE_WORDS", "PRODUCTS_ON_SALE", "Product", "return_routes", "routes"]

routes = web.RouteTableDef()  # the demo shop (dev, or MERCHANT_SHOP=1)
return_routes = web.RouteTableDef()  # the browser return endpoint (always served)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    id: str
    name: str
    description: str
    amount: str
    currency: str

    @property
    def price(self) -> str:
        symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(self.currency)
        return f"{symbol}{self.amount}" if symbol else f"{self.amount} {self.currency}"


PRODUCTS_ON_SALE = (
    Product(
        id="cup",
        name="Espresso cup",
        description="Hand-glazed stoneware, 80 ml.",
        amount="12.30",
        currency="EUR",
    ),
    Product(
        id="beans",
        name="Coffee beans, 1 kg",
        description="Washed Arabica from a single farm.",
        amount="24.90",
        currency="EUR",
    ),
    Product(
        id="grinder",
        name="Hand grinder",
        description="Conical steel burrs, 40 settings.",
        amount="89.00",
        currency="EUR",
    ),
)
_BY_ID = {p.id: p for p in PRODUCTS_ON_SALE}
assert all(p.currency in CURRENCY_EXPONENTS for p in PRODUCTS_ON_SALE)  # noqa: S101

# Verdict codes in plain words for the shopper.
CODE_WORDS: dict[str, str] = {
    "card_data_mismatch": "The card details you typed do not match the card saved in this browser.",
    "cert_revoked": "Your bank has withdrawn this browser's card certificate.",
    "cert_expired": "The card certificate in this browser has expired; renew it with your bank.",
    "cert_not_yet_valid": "The card certificate in this browser is not valid yet (check the "
    "device clock).",
    "untrusted_root": "The card certificate was not issued by a bank this shop trusts.",
    "cert_signature_invalid": "The card certificate is damaged or forged.",
    "cert_malformed": "The card certificate could not be read.",
    "signature_invalid": "The payment confirmation's signature is not valid.",
    "signature_malformed": "The payment confirmation's signature could not be read.",
    "certificate_fingerprint_mismatch": "The confirmation was signed for another card certificate.",
    "origin_mismatch": "The confirmation was made for another website.",
    "merchant_name_mismatch": "The confirmation names another shop.",
    "amount_mismatch": "The confirmed amount differs from this order.",
    "currency_mismatch": "The confirmed currency differs from this order.",
    "checkout_id_mismatch": "The confirmation belongs to another checkout.",
    "nonce_mismatch": "The confirmation belongs to another checkout.",
    "nonce_replayed": "This confirmation was already used, or the checkout has expired.",
    "signing_time_out_of_window": "The confirmation is too old, or the device clock is wrong.",
    "confirmation_not_accepted": "This shop needs you to confirm the payment explicitly.",
    "presentation_malformed": "Your bank's answer could not be read.",
    "transaction_malformed": "Your bank's answer could not be read.",
    "status_invalid": "Your bank's certificate status answer could not be checked.",
    "status_unavailable": "We could not check with your bank that the card certificate is "
    "still valid. Please try again later.",
    "card_data_unavailable": "This checkout's card details are no longer held here.",
    "pan_invalid": "The card number is not valid.",
    "expiry_invalid": "The expiry date is not valid (use MM/YY).",
    "security_code_invalid": "The security code must be 3 or 4 digits.",
    "name_invalid": "The name is too long or contains unusual characters.",
    "issuer_not_participating": "This card's bank does not take part in card-certificate "
    "authentication yet.",
}


def _page(
    request: web.Request, title: str, body: Html, status: int = 200, shop: str | None = None
) -> web.Response:
    shop = shop or request.app[SETTINGS].demo_merchant_name
    return web.Response(
        text=render(LAYOUT, title=title, shop=shop, body=body),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/", name="root")
async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/shop")


@routes.get("/shop", name="shop")
async def shop(request: web.Request) -> web.Response:
    items = Html(
        "\n".join(
            render(PRODUCT, id=p.id, name=p.name, description=p.description, price=p.price)
            for p in PRODUCTS_ON_SALE
        )
    )
    return _page(request, "Shop", render(PRODUCTS, items=items))


def _product(item: object) -> Product:
    product = _BY_ID.get(item) if isinstance(item, str) else None
    if product is None:
        raise web.HTTPNotFound()
    return product


def _checkout_form(
    request: web.Request,
    product: Product,
    *,
    error: CardcertError | None = None,
    expiry: str = "",
    cardholder: str = "",
    popup: bool = False,
) -> web.Response:
    error_box = (
        Html("")
        if error is None
        else render(ERROR_BOX, message=CODE_WORDS.get(error.code, error.message), code=error.code)
    )
    body = render(
        CHECKOUT_FORM,
        id=product.id,
        name=product.name,
        price=product.price,
        error=error_box,
        expiry=expiry,
        cardholder=cardholder,
        popup_checked=Html(" checked" if popup else ""),
    )
    return _page(request, "Checkout", body, status=200 if error is None else 422)


@routes.get("/shop/checkout", name="shop_checkout_form")
async def checkout_form(request: web.Request) -> web.Response:
    return _checkout_form(request, _product(request.query.get("item")))


def _same_origin(request: web.Request) -> None:
    """Refuse cross-site form posts.

    Browsers send ``Sec-Fetch-Site`` (Fetch Metadata) on every request; older ones send
    ``Origin`` on POST, which is ``null`` under ``Referrer-Policy: no-referrer``, so only a
    concrete foreign Origin is refused.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("cross-site form submission")
    origin = request.headers.get("Origin")
    if origin not in (
        None,
        "null",
        f"{request.scheme}://{request.host}",
        request.app[SETTINGS].public_origin,
    ):
        raise Forbidden("cross-site form submission")


@routes.post("/shop/checkout", name="shop_checkout")
async def checkout_submit(request: web.Request) -> web.Response:
    _same_origin(request)
    # The same limits as POST /v1/checkouts: per client address and per (demo) merchant.
    limiter = request.app[CHECKOUT_LIMITER]
    limiter.check("client:" + client_of(request))
    limiter.check("merchant:" + request.app[DEMO_MERCHANT].id)
    form = await read_form(request)
    product = _product(form.get("item"))
    expiry = str(form.get("expiry", ""))[:16]
    cardholder = str(form.get("name", ""))[:64]
    popup = form.get("display") == "popup"
    settings = request.app[SETTINGS]
    try:
        card = parse_card_data(
            {
                "pan": str(form.get("pan", "")),
                "expiry": expiry,
                "securityCode": str(form.get("securityCode", "")),
                "name": cardholder or None,
            }
        )
        checkout_request = CheckoutRequest(
            amount=product.amount,
            currency=product.currency,
            order_reference=f"shop-{product.id}",
            return_url=f"{settings.public_origin}/checkout/return",
            origin=settings.public_origin,
            card_bin=card.bin,
            card_last4=card.last4,
            card_data=card,
            display="popup" if popup else "redirect",
        )
        _, created, _ = await request.app[CHECKOUTS].create(
            request.app[DEMO_MERCHANT], checkout_request
        )
    except CardcertError as error:
        return _checkout_form(
            request, product, error=error, expiry=expiry, cardholder=cardholder, popup=popup
        )
    if not popup:
        raise web.HTTPSeeOther(created["redirectUrl"])
    body = render(
        POPUP_PAY,
        name=product.name,
        price=product.price,
        pay_url=created["redirectUrl"],
        issuer_origin=created["issuer"]["origin"],
        issuer_name=created["issuer"]["name"],
        checkout_id=created["checkoutId"],
    )
    return _page(request, "Pay at your bank", body)


@routes.get("/favicon.ico", name="favicon")
async def favicon(request: web.Request) -> web.Response:
    """No icon: an empty answer the browser may cache (instead of a 404 on every page)."""
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


def _result_page(
    request: web.Request,
    checkout: CheckoutView,
    *,
    result: str,
    code: str | None,
    liability: bool,
    evidence_id: str | None,
    note: str = "",
) -> web.Response:
    headings = {
        "authenticated": ("Payment authenticated", "ok"),
        "failed": ("Payment not authenticated", "bad"),
        "unavailable": ("Bank unavailable", "warn"),
        "cancelled": ("Payment cancelled", "warn"),
        "expired": ("Checkout expired", "warn"),
        "pending": ("Payment pending", "warn"),
    }
    heading, css = headings.get(result, ("Payment not authenticated", "bad"))
    if result == "authenticated":
        explanation = (
            "Your bank's card certificate in this browser confirmed the payment. "
            "Thank you for your order."
        )
    elif result == "cancelled":
        explanation = "You cancelled the payment at your bank. Nothing was charged."
    elif result == "expired":
        explanation = "This checkout timed out. Please start again from the shop."
    else:
        explanation = CODE_WORDS.get(code or "", "The payment could not be authenticated.")
    if note:
        explanation = f"{explanation} {note}"
    details = render(
        DETAILS,
        amount=checkout.amount,
        currency=checkout.currency,
        checkout_id=checkout.id,
        code=code or result,
        liability="yes" if liability else "no",
        evidence_id=evidence_id or "none",
    )
    body = render(RESULT, heading=heading, explanation=explanation, details=details, css=css)
    return _page(request, heading, body, shop=checkout.merchant_name)


def _stored_result(request: web.Request, checkout: CheckoutView, note: str) -> web.Response:
    state = checkout.current_state(request.app[CLOCK]())
    return _result_page(
        request,
        checkout,
        result=state if state in ("cancelled", "expired") else checkout.verdict_result or state,
        code=checkout.verdict_code,
        liability=bool(checkout.liability_shift),
        evidence_id=checkout.evidence_id,
        note=note,
    )


@return_routes.post("/checkout/return", name="checkout_return")
async def checkout_return(request: web.Request) -> web.Response:
    request.app[RETURN_LIMITER].check(client_of(request))
    form = await read_form(request)
    checkout_id = form.get("checkoutId")
    result = form.get("result")
    store = request.app[STORE]
    service = request.app[CHECKOUTS]
    checkout = (
        await store.checkout(checkout_id)
        if isinstance(checkout_id, str) and _ID.fullmatch(checkout_id)
        else None
    )
    if checkout is None:
        raise web.HTTPNotFound()
    now = request.app[CLOCK]()
    state = checkout.current_state(now)
    if state == CheckoutState.EXPIRED and checkout.state != CheckoutState.EXPIRED:
        await service.expire_one(checkout, now)
    if state not in (CheckoutState.PENDING, CheckoutState.UNAVAILABLE):
        return _stored_result(request, checkout, "This checkout was already completed.")
    if result == "cancelled":
        await service.cancel(checkout)
        return _result_page(
            request, checkout, result="cancelled", code=None, liability=False, evidence_id=None
        )
    if result != "presented":
        raise web.HTTPBadRequest(reason="result must be presented or cancelled")
    presentation = form.get("presentation")
    try:
        outcome: Outcome = await service.verify(
            checkout, presentation if isinstance(presentation, str) else "", None
        )
    except CardDataUnavailable as error:
        return _result_page(
            request, checkout, result="failed", code=error.code, liability=False, evidence_id=None
        )
    verdict = outcome.verdict
    return _result_page(
        request,
        checkout,
        result=str(verdict.result),
        code=verdict.code,
        liability=verdict.liability_shift,
        evidence_id=outcome.evidence_id,
    )
