// Issuer policy: when may the Service Worker sign without showing the confirmation page?
//
// Off by default. The issuer opts in through its metadata with a per-currency ceiling:
//   "frictionless": {"EUR": "30.00", "USD": "30.00"}
// A request is then signed silently (confirmation "frictionless", which the transaction
// description states, so the merchant knows and liability follows its rules) only when
// the amount is at or below the ceiling for its currency, the merchant named the card
// (cardHint) and exactly one stored credential matches it, with a good stapled status.
// Origin, amount, currency, checkout id and nonce are bound exactly as in an explicit
// confirmation.

import { isCanonicalAmount, minorUnits } from "./money.js";

/**
 * @param {{request: object, metadata: object | null, candidates: object[]}} input
 * @returns {boolean}
 */
export function frictionlessAllowed({ request, metadata, candidates }) {
  const ceilings = metadata && metadata.frictionless;
  if (!ceilings || typeof ceilings !== "object" || Array.isArray(ceilings)) {
    return false;
  }
  if (request.cardHint === null || candidates.length !== 1) {
    return false;
  }
  const credential = candidates[0];
  if (!credential.statusInfo || credential.statusInfo.certStatus !== "good") {
    return false;
  }
  const ceiling = Object.hasOwn(ceilings, request.currency) ? ceilings[request.currency] : null;
  if (!isCanonicalAmount(ceiling, request.currency)) {
    return false;
  }
  return minorUnits(request.amount, request.currency) <= minorUnits(ceiling, request.currency);
}
