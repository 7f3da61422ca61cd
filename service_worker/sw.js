// cardcert Service Worker: registered by the enrollment page on the issuer origin with
// scope /pay (a module worker). It answers the merchant's top-level navigation to the pay
// URL from the browser's own key store, so a checkout needs no request to the issuer:
//
//   GET /pay?request=<b64url JSON> or POST /pay (form field `request`)
//     -> confirmation page (or chooser), or straight to the result under frictionless
//        policy; no credential for the card -> the issuer's own /pay page (enrollment).
//   POST /pay/confirm (token, action, credentialId)
//     -> result page that auto-POSTs the presentation (or `cancelled`) to the return URL,
//        or hands it to the opener in popup mode.
//
// Upkeep (stapled status, renewal, metadata) runs in the background: after activation,
// after each checkout and when the enrollment page asks.

import { encode } from "./static/base64url.js";
import { findCredentials, getCredential, putPending, takePending } from "./static/keystore.js";
import { loadMetadata, maintain } from "./static/maintenance.js";
import {
  CONFIRM_ACTION,
  RESULT_SCRIPT,
  STYLESHEET,
  confirmationPage,
  errorPage,
  htmlResponse,
  inlineScript,
  resultPage,
} from "./static/pages.js";
import { frictionlessAllowed } from "./static/policy.js";
import { decodeRequestParameter, readTransactionRequest, RequestError } from "./static/request.js";
import { Confirmation, present } from "./static/signing.js";

const VERSION = "cardcert-sw-2";
const STATIC_CACHE = `${VERSION}-static`;
const PRECACHE = [STYLESHEET, RESULT_SCRIPT];
const PAY_PATH = "/pay";
const PENDING_LIFETIME_MS = 10 * 60 * 1000;

// Precached files, also kept in this worker's memory once read: the result page's
// auto-submit script is on the checkout's critical path, and a Cache Storage read costs
// more than the rest of the worker's answer.
const inMemory = new Map();

async function precached(path, request) {
  let entry = inMemory.get(path);
  if (entry === undefined) {
    const hit = await caches.match(path, { cacheName: STATIC_CACHE });
    if (!hit) {
      return fetch(request);
    }
    entry = { body: await hit.arrayBuffer(), headers: [...hit.headers] };
    inMemory.set(path, entry);
  }
  return new Response(entry.body, { status: 200, headers: entry.headers });
}

// The result page's script, inlined (pages.js inlineScript): read once from the precache.
let resultScript;

async function inlineResultScript() {
  if (resultScript === undefined) {
    const hit = await caches.match(RESULT_SCRIPT, { cacheName: STATIC_CACHE });
    if (!hit) {
      return null; // not precached (yet): the page loads it instead
    }
    resultScript = await inlineScript(await hit.text());
  }
  return resultScript;
}

/** A result page, its script inline when the precache has it. */
async function resultResponse(request, fields) {
  const script = await inlineResultScript();
  return htmlResponse(resultPage({ request, ...fields, script: script ?? undefined }), {
    formAction: [request.merchantOrigin],
    scriptHashes: script ? [script.hash] : [],
  });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(STATIC_CACHE);
      await cache.addAll(PRECACHE.map((path) => new Request(path, { cache: "reload" })));
      inMemory.clear();
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("cardcert-") && name !== STATIC_CACHE) {
          await caches.delete(name);
        }
      }
      await self.clients.claim();
    })(),
  );
  // Upkeep starts after activation, not inside it: activation must not wait for the
  // network, or a checkout arriving now would. Warm the in-memory copies of the
  // precached files meanwhile.
  setTimeout(() => {
    maintain().catch(() => {});
    for (const path of PRECACHE) {
      precached(path, new Request(path)).catch(() => {});
    }
  }, 0);
});

self.addEventListener("message", (event) => {
  const data = event.data;
  if (!data || data.type !== "cardcert.maintain" || event.origin !== self.location.origin) {
    return;
  }
  // The answer goes back on the port the page sent, so concurrent requests do not mix.
  const reply = (message) => {
    const port = event.ports[0] ?? event.source;
    if (port) {
      port.postMessage({ type: "cardcert.maintained", ...message });
    }
  };
  event.waitUntil(
    maintain({ force: Boolean(data.force) }).then(
      (report) => reply({ report }),
      (error) => reply({ error: String(error) }),
    ),
  );
});

self.addEventListener("periodicsync", (event) => {
  if (event.tag === "cardcert-upkeep") {
    event.waitUntil(maintain());
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    if (url.pathname === PAY_PATH) {
      event.respondWith(guarded(handlePay(event)));
    } else if (url.pathname === CONFIRM_ACTION && request.method === "POST") {
      event.respondWith(guarded(handleConfirm(event)));
    }
    return;
  }
  if (request.method === "GET" && PRECACHE.includes(url.pathname)) {
    // The pages above load these; serve them from the precache, not from the issuer.
    event.respondWith(precached(url.pathname, request));
  }
});

/** Never let an exception become a browser error page without explanation. */
async function guarded(promise) {
  try {
    return await promise;
  } catch (error) {
    return failure(
      "Something went wrong",
      "Your bank's payment confirmation could not be completed. Return to the shop and try again.",
      error && error.code ? error.code : "internal_error",
      500,
    );
  }
}

function failure(title, message, code, status = 400, issuerName = "") {
  return htmlResponse(errorPage({ title, message, code, issuerName }), { status });
}

function requestFailure(error) {
  if (error instanceof RequestError) {
    return failure(
      "This payment request is not valid",
      "The shop sent your bank a payment request it cannot accept. Return to the shop and try again.",
      error.code,
    );
  }
  throw error;
}

function notExpired(credential, now) {
  return credential.notAfter > now;
}

async function handlePay(event) {
  let request;
  try {
    request = await readTransactionRequest(event.request);
  } catch (error) {
    return requestFailure(error);
  }
  const now = Date.now();
  const candidates = (await findCredentials(request.cardHint))
    .filter((credential) => notExpired(credential, now))
    .sort((a, b) => a.enrolledAt - b.enrolledAt);
  if (candidates.length === 0) {
    // Not enrolled here: the issuer's own pay page explains and offers enrollment, then
    // resumes with the same request. A POSTed request is moved into the URL first.
    if (event.request.method === "GET") {
      return fetch(event.request);
    }
    return Response.redirect(new URL(`${PAY_PATH}?request=${request.encoded}`, self.location.origin), 303);
  }
  const metadata = await loadMetadata();
  const issuerName = candidates[0].issuerName || (metadata && metadata.issuerName) || "";
  if (frictionlessAllowed({ request, metadata, candidates })) {
    return answer(event, request, candidates[0], Confirmation.FRICTIONLESS);
  }
  const token = encode(crypto.getRandomValues(new Uint8Array(32)));
  await putPending({
    token,
    encoded: request.encoded,
    candidates: candidates.map((credential) => credential.credentialId),
    expiresAt: now + PENDING_LIFETIME_MS,
  });
  return htmlResponse(confirmationPage({ request, credentials: candidates, token, issuerName }), {
    formAction: ["'self'"],
  });
}

async function handleConfirm(event) {
  let form;
  try {
    form = await event.request.formData();
  } catch {
    return failure("This confirmation is not valid", "Return to the shop and try again.", "confirmation_malformed");
  }
  const pending = await takePending(form.get("token"));
  if (pending === null) {
    return failure(
      "This confirmation has expired",
      "It was already used or is too old. Return to the shop and start the payment again.",
      "confirmation_expired",
    );
  }
  let request;
  try {
    request = decodeRequestParameter(pending.encoded);
  } catch (error) {
    return requestFailure(error);
  }
  const action = form.get("action");
  if (action === "cancel") {
    return resultResponse(request, { result: "cancelled" });
  }
  const chosen = pending.candidates.length === 1 ? pending.candidates[0] : form.get("credentialId");
  if (action !== "confirm" || !pending.candidates.includes(chosen)) {
    return failure("This confirmation is not valid", "Return to the shop and try again.", "confirmation_malformed");
  }
  const credential = await getCredential(chosen);
  if (!credential) {
    return failure(
      "This card is no longer in this browser",
      "Return to the shop and start the payment again.",
      "credential_missing",
    );
  }
  return answer(event, request, credential, Confirmation.EXPLICIT);
}

async function answer(event, request, credential, confirmation) {
  const { presentation } = await present(credential, request, { confirmation });
  // Upkeep after the checkout, without holding up the answer.
  event.waitUntil(
    new Promise((resolve) => setTimeout(resolve, 1000)).then(() => maintain()).catch(() => {}),
  );
  return resultResponse(request, {
    result: "presented",
    presentation,
    issuerName: credential.issuerName,
  });
}
