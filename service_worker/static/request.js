// The transaction request (docs/interfaces.md, section 4), as the merchant sends it to
// the issuer's pay URL: GET `?request=<b64url JSON>` or a POSTed form field `request`
// holding the JSON text. The request is not signed; it is checked as strictly as the
// transaction description that will be built from it (certs/transaction.py), so that a
// request the Service Worker accepts always yields a description the merchant can parse.

import { decode, encode, fromUtf8, utf8 } from "./base64url.js";
import { isCanonicalAmount, isCurrency } from "./money.js";
import { originOfUrl } from "./origin.js";

export const REQUEST_VERSION = 1;
const MAX_REQUEST_BYTES = 6 * 1024;
const CHECKOUT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NONCE = /^[A-Za-z0-9_-]{22,86}$/; // 128 to 512 bits, as certs/transaction.py
const BIN = /^[0-9]{6}$/;
const LAST4 = /^[0-9]{4}$/;
const NAME_MAX = 100;
// Python's str.isprintable(): no "Other" (Cc, Cf, Cs, Co, Cn) or "Separator" (Zl, Zp, Zs)
// code points, except the ASCII space.
const NOT_PRINTABLE = /[\p{C}\p{Z}]/u;

export const Display = Object.freeze({ REDIRECT: "redirect", POPUP: "popup" });

/** A request the Service Worker refuses; `code` is stable (docs/browser.md). */
export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}

function check(condition, field) {
  if (!condition) {
    throw new RequestError("request_malformed", `request field ${field} is missing or malformed`);
  }
}

/** Python's `0 < len(name) <= 100 and name.isprintable()`, by code points. */
export function isPrintableName(name) {
  if (typeof name !== "string") {
    return false;
  }
  const codePoints = [...name];
  return (
    codePoints.length > 0 &&
    codePoints.length <= NAME_MAX &&
    codePoints.every((c) => c === " " || !NOT_PRINTABLE.test(c))
  );
}

/**
 * Parse and check the JSON text of a transaction request.
 *
 * @param {string} text the JSON text.
 * @returns {Readonly<{version: number, merchantName: string, amount: string,
 *   currency: string, checkoutId: string, nonce: string, returnUrl: string,
 *   merchantOrigin: string, cardHint: {bin: string, last4: string} | null,
 *   display: string, encoded: string}>} `encoded` is the b64url of the UTF-8 text,
 *   used to hand the same request on (fallback page, enrollment resume).
 * @throws {RequestError} `request_malformed`, `return_url_invalid`.
 */
export function parseTransactionRequest(text) {
  if (typeof text !== "string") {
    throw new RequestError("request_malformed", "the request is missing");
  }
  const bytes = utf8(text);
  if (bytes.length > MAX_REQUEST_BYTES) {
    throw new RequestError("request_malformed", "the request is too large");
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new RequestError("request_malformed", "the request is not JSON");
  }
  check(data !== null && typeof data === "object" && !Array.isArray(data), "request");
  check(data.version === REQUEST_VERSION, "version");
  check(isPrintableName(data.merchantName), "merchantName");
  check(isCurrency(data.currency), "currency");
  check(isCanonicalAmount(data.amount, data.currency), "amount");
  check(typeof data.checkoutId === "string" && CHECKOUT_ID.test(data.checkoutId), "checkoutId");
  check(typeof data.nonce === "string" && NONCE.test(data.nonce), "nonce");
  const merchantOrigin = originOfUrl(data.returnUrl);
  if (merchantOrigin === null) {
    throw new RequestError(
      "return_url_invalid",
      "the return URL is not an https URL (or http on localhost) both parsers agree on",
    );
  }
  let cardHint = null;
  if (data.cardHint !== undefined && data.cardHint !== null) {
    const hint = data.cardHint;
    check(typeof hint === "object" && !Array.isArray(hint), "cardHint");
    check(typeof hint.bin === "string" && BIN.test(hint.bin), "cardHint.bin");
    check(typeof hint.last4 === "string" && LAST4.test(hint.last4), "cardHint.last4");
    cardHint = Object.freeze({ bin: hint.bin, last4: hint.last4 });
  }
  const display = data.display ?? Display.REDIRECT;
  check(display === Display.REDIRECT || display === Display.POPUP, "display");
  return Object.freeze({
    version: REQUEST_VERSION,
    merchantName: data.merchantName,
    amount: data.amount,
    currency: data.currency,
    checkoutId: data.checkoutId,
    nonce: data.nonce,
    returnUrl: data.returnUrl,
    merchantOrigin,
    cardHint,
    display,
    encoded: encode(bytes),
  });
}

/**
 * The request carried by `?request=` (b64url of the JSON text).
 *
 * @param {string} encoded
 * @throws {RequestError}
 */
export function decodeRequestParameter(encoded) {
  if (typeof encoded !== "string" || encoded.length === 0) {
    throw new RequestError("request_missing", "no transaction request was given");
  }
  if (encoded.length > Math.ceil((MAX_REQUEST_BYTES * 4) / 3) + 4) {
    throw new RequestError("request_malformed", "the request is too large");
  }
  let text;
  try {
    text = fromUtf8(decode(encoded));
  } catch {
    throw new RequestError("request_malformed", "the request is not base64url UTF-8 JSON");
  }
  return parseTransactionRequest(text);
}

/**
 * Read the transaction request of a navigation to the pay URL (GET or POSTed form).
 *
 * @param {Request} request the navigation request (its body is read from a clone).
 * @throws {RequestError}
 */
export async function readTransactionRequest(request) {
  if (request.method === "GET") {
    return decodeRequestParameter(new URL(request.url).searchParams.get("request"));
  }
  if (request.method !== "POST") {
    throw new RequestError("request_malformed", "the pay URL takes GET or POST");
  }
  let form;
  try {
    form = await request.clone().formData();
  } catch {
    throw new RequestError("request_malformed", "the POSTed body is not a form");
  }
  const text = form.get("request");
  if (typeof text !== "string" || text.length === 0) {
    throw new RequestError("request_missing", "no transaction request was given");
  }
  return parseTransactionRequest(text);
}
