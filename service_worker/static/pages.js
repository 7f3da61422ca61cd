// The pages the Service Worker answers with: confirmation (with the card chooser when
// several credentials match), result (auto-POST or popup hand-back) and error.
//
// Every page is built from escaped strings and served with a strict Content Security
// Policy: no inline style, scripts and styles only from /static/ on the issuer origin
// (precached by the worker, so a checkout makes no request to the issuer) or, for the
// result page, the one inline script whose SHA-256 the policy names (CSP3 section 8.3:
// a hash source), forms only to the issuer itself (confirmation) or to the merchant
// origin derived from the return URL (result), never framed.

export const STYLESHEET = "/static/cardcert.css";
export const RESULT_SCRIPT = "/static/result.js";
export const CONFIRM_ACTION = "/pay/confirm";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML content and double-quoted attribute values. */
export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A template tag that escapes every interpolated value unless it is `raw(...)`. */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, index) => {
    out += value instanceof Raw ? value.text : escapeHtml(value);
    out += strings[index + 1];
  });
  return new Raw(out);
}

class Raw {
  constructor(text) {
    this.text = text;
  }
}

/** Mark already-escaped markup (built with `html`) for inclusion. */
export function join(parts) {
  return new Raw(parts.map((part) => (part instanceof Raw ? part.text : escapeHtml(part))).join(""));
}

/**
 * The Content-Security-Policy of a worker page.
 *
 * @param {string[]} formAction sources allowed as form targets.
 * @param {string[]} scriptHashes hash sources ('sha256-...') of inline scripts allowed.
 */
export function contentSecurityPolicy(formAction, scriptHashes = []) {
  return [
    "default-src 'none'",
    ["script-src 'self'", ...scriptHashes].join(" "),
    "style-src 'self'",
    "img-src 'self' data:",
    `form-action ${formAction.join(" ")}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** An HTML response with the security headers every worker page carries. */
export function htmlResponse(
  body,
  { formAction = ["'none'"], scriptHashes = [], status = 200 } = {},
) {
  return new Response(body.text, {
    status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": contentSecurityPolicy(formAction, scriptHashes),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "X-Frame-Options": "DENY",
      // The auto-POST to the merchant carries the issuer origin as Origin and Referer,
      // never the pay URL with its request.
      "Referrer-Policy": "strict-origin",
    },
  });
}

function layout({ title, page, body, issuerName, stylesheet = true }) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
<link rel="icon" href="data:,">
${stylesheet ? html`<link rel="stylesheet" href="${STYLESHEET}">` : html``}
</head>
<body data-page="${page}">
<main class="panel">
<p class="issuer">${issuerName || "Your bank"}</p>
${body}
</main>
</body>
</html>
`;
}

function formatDate(millis) {
  return new Date(millis).toISOString().slice(0, 10);
}

function cardLabel(credential) {
  return `${credential.issuerName || "Card"} \u2022\u2022\u2022\u2022 ${credential.last4}`;
}

/**
 * The confirmation page; with several credentials it is also the chooser.
 *
 * @param {{request: object, credentials: object[], token: string, issuerName: string}} input
 */
export function confirmationPage({ request, credentials, token, issuerName }) {
  const amount = `${request.amount} ${request.currency}`;
  const chooser =
    credentials.length === 1
      ? html`<div class="row"><dt>Card</dt><dd class="card-label">${cardLabel(credentials[0])}</dd></div>`
      : html``;
  const choices =
    credentials.length === 1
      ? html``
      : html`<fieldset class="chooser">
<legend>Choose the card to pay with</legend>
${join(
  credentials.map(
    (credential) => html`<label class="choice"><input type="radio" name="credentialId" value="${credential.credentialId}" required>
<span>${cardLabel(credential)}</span> <small>certificate valid until ${formatDate(credential.notAfter)}</small></label>
`,
  ),
)}</fieldset>`;
  const body = html`<h1>Confirm your payment</h1>
<dl class="transaction">
<div class="row"><dt>Amount</dt><dd class="amount" id="amount">${amount}</dd></div>
<div class="row"><dt>Merchant</dt><dd class="merchant" id="merchant-name">${request.merchantName}</dd></div>
<div class="row"><dt>Website</dt><dd class="origin" id="merchant-origin">${request.merchantOrigin}</dd></div>
${chooser}
</dl>
<p class="hint">Confirm only if you are paying on <strong>${request.merchantOrigin}</strong>. Your
confirmation is valid for this payment only: this amount, this website, this checkout.</p>
<form method="post" action="${CONFIRM_ACTION}" class="actions">
<input type="hidden" name="token" value="${token}">
${choices}
<button type="submit" name="action" value="confirm" id="confirm" class="primary">Pay ${amount}</button>
<button type="submit" name="action" value="cancel" id="cancel" formnovalidate>Cancel</button>
</form>`;
  return layout({ title: `Confirm ${amount} to ${request.merchantName}`, page: "confirm", body, issuerName });
}

/**
 * The text of /static/result.js as an inline script element, and the CSP hash source
 * that allows exactly that text. Refused (fail closed) if the text could end the element.
 *
 * @param {string} text the script, byte for byte as the hash is computed over it.
 * @returns {Promise<{element: Raw, hash: string}>}
 */
export async function inlineScript(text) {
  if (/<\/script|<!--/i.test(text)) {
    throw new Error("this text cannot be inlined in a script element");
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  const hash = `'sha256-${btoa(String.fromCharCode(...digest))}'`;
  return { element: new Raw(`<script>${text}</script>`), hash };
}

/**
 * The result page: a form to the return URL, submitted by /static/result.js (or, in popup
 * mode, handed to the opener with postMessage to the merchant origin). The script comes
 * inline when `script` (from {@link inlineScript}) is given: the page then needs no
 * further request, ~15 ms sooner at the merchant than loading it (measured with
 * tests/browser/bench.py); otherwise it is a classic `async` script after the form, which
 * runs as soon as it arrives, without waiting for the stylesheet or the end of parsing.
 *
 * @param {{request: object, result: "presented" | "cancelled", presentation?: string,
 *   issuerName?: string, script?: {element: Raw, hash: string}}} input
 */
export function resultPage({ request, result, presentation, issuerName, script }) {
  const presented = result === "presented";
  const fields = html`<input type="hidden" name="checkoutId" value="${request.checkoutId}">
<input type="hidden" name="result" value="${result}">
${presented ? html`<input type="hidden" name="presentation" value="${presentation}">` : html``}`;
  const body = html`<h1>${presented ? "Payment confirmed" : "Payment cancelled"}</h1>
<form id="result" method="post" action="${request.returnUrl}" data-display="${request.display}" data-target-origin="${request.merchantOrigin}">
${fields}
<p>Returning you to ${request.merchantName} (${request.merchantOrigin})\u2026</p>
<button type="submit" class="primary">Continue to ${request.merchantName}</button>
</form>
${script ? script.element : html`<script src="${RESULT_SCRIPT}" async></script>`}`;
  return layout({
    title: presented ? "Payment confirmed" : "Payment cancelled",
    page: "result",
    body,
    issuerName,
    // Shown for a few milliseconds: no stylesheet to fetch and apply before the script
    // runs (measured: about 10 ms of the navigation -> auto-POST time).
    stylesheet: false,
  });
}

/** A page for requests the worker cannot answer (no way back to a merchant is known). */
export function errorPage({ title, message, code, issuerName }) {
  const body = html`<h1>${title}</h1>
<p class="error" id="error" data-code="${code}">${message}</p>`;
  return layout({ title, page: "error", body, issuerName });
}
