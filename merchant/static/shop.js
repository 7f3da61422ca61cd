// cardcert demo shop: small progressive enhancements; the pages work without JavaScript.
"use strict";

function groupCardNumber(input) {
  const digits = input.value.replace(/\D/g, "").slice(0, 19);
  const grouped = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  if (grouped !== input.value) {
    input.value = grouped;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-card-number]")) {
    input.addEventListener("input", () => groupCardNumber(input));
  }
  // Submit once: a second click would create a second checkout.
  for (const button of document.querySelectorAll("button[data-once]")) {
    button.form.addEventListener("submit", () => {
      const popup = button.form.elements.display;
      button.disabled = true;
      button.textContent = popup && popup.checked ? "Preparing the payment…" : "Redirecting to your bank…";
    });
  }
});
