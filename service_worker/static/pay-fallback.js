// The issuer's /pay page, shown when this browser has no credential for the card (no
// Service Worker yet, or the worker let the request through). It explains, and links to
// /enroll?resume=<the same request>, which comes back to /pay once enrolled.

import { decodeRequestParameter } from "./request.js";

const encoded = new URLSearchParams(location.search).get("request");
const summary = document.getElementById("summary");
const enrollLink = document.getElementById("enroll-link");

document.getElementById("back").addEventListener("click", () => history.back());

try {
  const request = decodeRequestParameter(encoded);
  const card = request.cardHint ? ` with the card ending ${request.cardHint.last4}` : "";
  summary.textContent =
    `${request.merchantName} (${request.merchantOrigin}) asked your bank to confirm a ` +
    `payment of ${request.amount} ${request.currency}${card}.`;
  enrollLink.href = `/enroll?resume=${request.encoded}`;
  document.body.dataset.request = "valid";
} catch {
  document.getElementById("invalid").hidden = false;
  document.body.dataset.request = "invalid";
}

fetch("/.well-known/cardcert-issuer", { headers: { Accept: "application/json" } })
  .then((response) => (response.ok ? response.json() : null))
  .then((metadata) => {
    if (metadata && typeof metadata.issuerName === "string") {
      for (const element of document.querySelectorAll("[data-issuer-name]")) {
        element.textContent = metadata.issuerName;
      }
    }
  })
  .catch(() => {});
