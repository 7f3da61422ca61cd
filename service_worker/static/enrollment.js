// Enrollment of this browser (docs/interfaces.md, section 2), used by the enrollment page.
//
// The key pair is generated here, non-extractable: the private key can sign but can never
// be exported, not even by this page (the public key is exported as SPKI for the
// certificate). The card-data secret is 32 random bytes. Both are kept in IndexedDB with
// the certificate chain the issuer returns; a retry of the same activation code reuses the
// same key and secret, so the issuer's idempotent answer applies.

import { encode } from "./base64url.js";
import { credentialRecord, postJson, proofOfPossession } from "./issuer.js";
import { putCredential, putMeta } from "./keystore.js";
import { fetchMetadata } from "./issuer.js";
import { METADATA } from "./maintenance.js";
import { generateCredentialKey, newCardDataSecret, PopPurpose } from "./signing.js";

export const SERVICE_WORKER_URL = "/sw.js";
export const SERVICE_WORKER_SCOPE = "/pay";

const attempts = new Map(); // activation code -> {keyPair, publicKey, cardDataSecret}

async function keysFor(activationCode) {
  let keys = attempts.get(activationCode);
  if (keys === undefined) {
    const keyPair = await generateCredentialKey();
    const spki = await crypto.subtle.exportKey("spki", keyPair.publicKey);
    keys = { keyPair, publicKey: encode(spki), cardDataSecret: newCardDataSecret() };
    attempts.set(activationCode, keys);
  }
  return keys;
}

/**
 * Enroll a card with its activation code and store the credential.
 *
 * @param {string} activationCode as typed (surrounding spaces removed).
 * @returns {Promise<{record: object, replaced: string[]}>}
 * @throws {IssuerError} with the issuer's code (e.g. activation_code_invalid).
 */
export async function enroll(activationCode) {
  const code = activationCode.trim();
  const keys = await keysFor(code);
  const { challenge, signature } = await proofOfPossession(
    keys.keyPair.privateKey,
    PopPurpose.ENROLLMENT,
  );
  const body = await postJson("/v1/enrollment", {
    activationCode: code,
    publicKey: keys.publicKey,
    cardDataSecret: encode(keys.cardDataSecret),
    challenge,
    signature,
  });
  const record = await credentialRecord(body, {
    privateKey: keys.keyPair.privateKey,
    publicKey: keys.publicKey,
    cardDataSecret: keys.cardDataSecret,
  });
  const replaced = await putCredential(record);
  attempts.delete(code);
  return { record, replaced };
}

/** Fetch and store the issuer metadata (the worker reads it from the store). */
export async function storeMetadata() {
  const metadata = await fetchMetadata();
  await putMeta(METADATA, metadata);
  return metadata;
}

/**
 * Register the Service Worker (module, scope /pay) and wait until it is active, so that
 * the next navigation to /pay is answered by it.
 */
export async function ensureServiceWorker() {
  const registration = await navigator.serviceWorker.register(SERVICE_WORKER_URL, {
    scope: SERVICE_WORKER_SCOPE,
    type: "module",
  });
  const worker = registration.installing ?? registration.waiting ?? registration.active;
  if (worker && worker.state !== "activated") {
    await new Promise((resolve, reject) => {
      const check = () => {
        if (worker.state === "activated") {
          resolve();
        } else if (worker.state === "redundant") {
          // Replaced by a newer worker or failed to install: settle on what is active.
          registration.active ? resolve() : reject(new Error("the Service Worker failed to install"));
        }
      };
      worker.addEventListener("statechange", check);
      check();
    });
  }
  return registration;
}

/**
 * Ask the active worker to run its upkeep; resolves to its report.
 *
 * @param {ServiceWorkerRegistration} registration
 * @param {{force?: boolean}} [options]
 */
export function requestUpkeep(registration, { force = false } = {}) {
  const worker = registration.active;
  if (!worker) {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      channel.port1.close();
      resolve(event.data);
    };
    worker.postMessage({ type: "cardcert.maintain", force }, [channel.port2]);
  });
}
