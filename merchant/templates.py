"""Small server-side HTML templates for the demo shop (no inline scripts or styles).

Values are HTML-escaped when substituted unless they are :class:`Html` (already safe
markup built by these functions). Pages load ``/static/shop.css`` and ``/static/shop.js``
only, so the service's CSP (``script-src 'self'``) holds.
"""

from __future__ import annotations

import html
from string import Template

__all__ = ["Html", "escape", "render"]


class Html(str):
    """A string of markup that is safe to insert as is."""

    __slots__ = ()


def escape(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def render(template: str, **values: object) -> Html:
    """Substitute ``$name`` placeholders, escaping everything that is not :class:`Html`."""
    return Html(Template(template).substitute({k: escape(v) for k, v in values.items()}))


LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · $shop</title>
<link rel="stylesheet" href="/static/shop.css">
<script src="/static/shop.js" defer></script>
</head>
<body>
<header class="bar">
  <a class="brand" href="/shop">$shop</a>
  <span class="tag">cardcert demo shop · test cards only</span>
</header>
<main>
$body
</main>
<footer>Card details are used once to check them against the card certificate in your
browser, kept encrypted until then, and erased afterwards.</footer>
</body>
</html>
"""

PRODUCTS = """<h1>Today in the shop</h1>
<ul class="products">
$items
</ul>
"""

PRODUCT = """<li class="product">
  <h2>$name</h2>
  <p>$description</p>
  <p class="price">$price</p>
  <form method="get" action="/shop/checkout">
    <input type="hidden" name="item" value="$id">
    <button type="submit">Buy</button>
  </form>
</li>"""

CHECKOUT_FORM = """<h1>Checkout</h1>
<section class="summary">
  <p><strong>$name</strong></p>
  <p class="price">$price</p>
</section>
$error
<form class="card" method="post" action="/shop/checkout" autocomplete="on">
  <input type="hidden" name="item" value="$id">
  <label>Card number
    <input name="pan" inputmode="numeric" autocomplete="cc-number" required
           maxlength="23" placeholder="4111 1111 1111 1111" data-card-number>
  </label>
  <div class="row">
    <label>Expiry (MM/YY)
      <input name="expiry" autocomplete="cc-exp" required maxlength="7" placeholder="12/29"
             value="$expiry">
    </label>
    <label>Security code
      <input name="securityCode" inputmode="numeric" autocomplete="cc-csc" required
             maxlength="4" placeholder="123">
    </label>
  </div>
  <label>Name on card
    <input name="name" autocomplete="cc-name" maxlength="64" value="$cardholder">
  </label>
  <label class="check">
    <input type="checkbox" name="display" value="popup"$popup_checked>
    Pay in a pop-up window
  </label>
  <button type="submit" data-once>Pay $price</button>
  <p class="hint">You will confirm the payment with your bank's card certificate in this
  browser, then come back here.</p>
</form>
"""

# Popup mode (docs/interfaces.md, sections 4 and 5): /static/popup.js opens the bank's pay
# URL in a popup on the click, takes the result from the popup's postMessage (issuer origin
# and checkout id checked) and submits the hidden form to the return endpoint. Without
# JavaScript the link is an ordinary redirect to the bank, which then posts the result
# itself (a popup-mode result page without an opener falls back to its form).
POPUP_PAY = """<h1>Pay at your bank</h1>
<section class="summary">
  <p><strong>$name</strong></p>
  <p class="price">$price</p>
</section>
<p id="popup-status" class="hint" role="status" data-state="ready">Your bank opens in a
pop-up window. Confirm the payment there; the result comes back to this page.</p>
<p><a class="button" id="pay-popup" href="$pay_url" data-pay-url="$pay_url"
      data-issuer-origin="$issuer_origin"
      data-checkout-id="$checkout_id">Pay with $issuer_name</a></p>
<form id="popup-result" method="post" action="/checkout/return" hidden>
  <input type="hidden" name="checkoutId" value="$checkout_id">
  <input type="hidden" name="result" value="">
  <input type="hidden" name="presentation" value="">
</form>
<script src="/static/popup.js" defer></script>
"""

ERROR_BOX = """<p class="error" role="alert">$message <code>$code</code></p>"""

RESULT = """<section class="result $css">
  <h1>$heading</h1>
  <p>$explanation</p>
  $details
</section>
<p><a class="button" href="/shop">Back to the shop</a></p>
"""

DETAILS = """<dl class="details">
  <dt>Order</dt><dd>$amount $currency</dd>
  <dt>Checkout</dt><dd><code>$checkout_id</code></dd>
  <dt>Result code</dt><dd><code>$code</code></dd>
  <dt>Liability shift</dt><dd>$liability</dd>
  <dt>Evidence</dt><dd><code>$evidence_id</code></dd>
</dl>"""
