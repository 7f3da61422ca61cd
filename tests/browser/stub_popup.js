// Stub shop page: opens the pay URL (?pay=...) in a popup on click, takes the result from
// the popup's postMessage (checking the sender is the issuer origin) and POSTs the same
// fields to the return endpoint.
const payUrl = new URLSearchParams(location.search).get("pay");
const outcome = document.getElementById("outcome");
document.getElementById("pay").addEventListener("click", () => {
  window.open(payUrl, "cardcert", "popup,width=480,height=640");
});
window.addEventListener("message", async (event) => {
  if (event.origin !== new URL(payUrl).origin || !event.data || event.data.type !== "cardcert.result") {
    return;
  }
  const body = new URLSearchParams({ checkoutId: event.data.checkoutId, result: event.data.result });
  if (event.data.presentation) {
    body.set("presentation", event.data.presentation);
  }
  await fetch("/checkout/return", { method: "POST", body });
  outcome.textContent = event.data.result;
  outcome.dataset.done = "1";
});
