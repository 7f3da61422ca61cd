// Hands the result to the merchant (docs/interfaces.md, section 5). An external module,
// since the result page's Content Security Policy allows no inline script.
//
// Redirect mode: submit the form (POST to the return URL).
// Popup mode: postMessage to the opener, addressed to the merchant origin derived from the
// return URL (never "*"), then close; without an opener, fall back to the form.

// A classic script (loaded `async` after the form), so no module syntax.
(() => {
  "use strict";
  const form = document.getElementById("result");
  const fields = form.elements;
  const opener = window.opener;
  if (form.dataset.display === "popup" && opener && !opener.closed) {
    const message = {
      type: "cardcert.result",
      checkoutId: fields.checkoutId.value,
      result: fields.result.value,
    };
    if (fields.presentation) {
      message.presentation = fields.presentation.value;
    }
    opener.postMessage(message, form.dataset.targetOrigin);
    window.close();
  } else {
    form.submit();
  }
})();
