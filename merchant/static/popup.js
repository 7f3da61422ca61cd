// cardcert demo shop, popup mode (docs/interfaces.md, sections 4 and 5).
//
// The button opens the bank's pay URL in a popup, synchronously in the click handler (a
// popup opened later, after an await, would be blocked). The issuer's Service Worker answers
// there and, when the cardholder has paid or cancelled, calls
//   opener.postMessage({type: "cardcert.result", checkoutId, result, presentation}, <shop origin>)
// and closes the popup. This page accepts only a message from the issuer origin of this
// checkout, from the popup it opened, for this checkout id, and submits the fields to
// /checkout/return as a form, so the shop's usual verdict page follows.
//
// Without JavaScript the button is a plain link: the browser goes to the bank in this tab,
// and the bank's result page posts the result itself (no opener: it submits its form).
"use strict";

(() => {
  const button = document.getElementById("pay-popup");
  const form = document.getElementById("popup-result");
  const status = document.getElementById("popup-status");
  if (!button || !form || !status) {
    return;
  }
  const payUrl = button.dataset.payUrl;
  const issuerOrigin = button.dataset.issuerOrigin;
  const checkoutId = button.dataset.checkoutId;
  let popup = null;
  let done = false;
  let watch = null;

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function watchClosed() {
    clearInterval(watch);
    watch = setInterval(() => {
      if (done || popup === null || !popup.closed) {
        return;
      }
      clearInterval(watch);
      say("closed", "The bank's window was closed before the payment was finished. Open it again to pay.");
    }, 500);
  }

  button.addEventListener("click", (event) => {
    if (done) {
      event.preventDefault();
      return;
    }
    // Synchronously, in the click: popup blockers allow only this.
    const opened = window.open(payUrl, "cardcert-pay", "popup,width=480,height=680");
    if (!opened) {
      // Blocked: let the link take this tab to the bank (redirect-like fallback).
      return;
    }
    event.preventDefault();
    popup = opened;
    popup.focus();
    say("open", "Confirm the payment in your bank's window.");
    watchClosed();
  });

  window.addEventListener("message", (event) => {
    if (done || event.origin !== issuerOrigin) {
      return;
    }
    if (popup === null || event.source !== popup) {
      return;
    }
    const data = event.data;
    if (!data || typeof data !== "object" || data.type !== "cardcert.result") {
      return;
    }
    if (data.checkoutId !== checkoutId) {
      return;
    }
    if (data.result !== "presented" && data.result !== "cancelled") {
      return;
    }
    done = true;
    clearInterval(watch);
    const fields = form.elements;
    fields.result.value = data.result;
    if (data.result === "presented" && typeof data.presentation === "string") {
      fields.presentation.value = data.presentation;
    } else {
      fields.presentation.remove();
    }
    say("returning", "Your bank answered. Checking the payment…");
    button.setAttribute("aria-disabled", "true");
    form.submit();
  });
})();
