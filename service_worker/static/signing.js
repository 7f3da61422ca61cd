// Signing: the transaction description (certs/transaction.py), the presentation
// (certs/presentation.py) and the proof of possession (certs/proof_of_possession.py).
//
// The signed bytes are the UTF-8 of the RFC 8785 canonical JSON (jcs.js), and those exact
// bytes travel base64url-encoded in the presentation: nothing is re-serialised between
// signing and verifying. WebCrypto ECDSA signatures are raw r || s, 64 bytes for P-256
// (W3C WebCrypto, "ECDSA"), which is the wire form.

import { encode, toBytes, utf8 } from "./base64url.js";
import { canonicalize } from "./jcs.js";

export const TRANSACTION_TYPE = "cardcert.transaction";
export const TRANSACTION_VERSION = 1;
export const PRESENTATION_VERSION = 1;
export const POP_TYPE = "cardcert.proof-of-possession";
export const Confirmation = Object.freeze({ EXPLICIT: "explicit", FRICTIONLESS: "frictionless" });
export const PopPurpose = Object.freeze({ ENROLLMENT: "enrollment", RENEWAL: "renewal" });

const ECDSA_P256 = Object.freeze({ name: "ECDSA", namedCurve: "P-256" });
const ECDSA_SHA256 = Object.freeze({ name: "ECDSA", hash: "SHA-256" });

/** A new non-extractable P-256 signing key pair (the public key stays exportable). */
export function generateCredentialKey() {
  return crypto.subtle.generateKey(ECDSA_P256, false, ["sign", "verify"]);
}

/** 32 random bytes: the card-data secret (certs/card_digest.py). */
export function newCardDataSecret() {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** Raw r || s ECDSA P-256 SHA-256 signature over `bytes`. */
export async function signRaw(privateKey, bytes) {
  return new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, privateKey, bytes));
}

/** base64url(SHA-256(DER)): the certificate fingerprint on the wire. */
export async function fingerprint(der) {
  return encode(await crypto.subtle.digest("SHA-256", toBytes(der)));
}

/**
 * The canonical bytes of a transaction description, as
 * certs.transaction.TransactionDescription.build makes them.
 *
 * @param {{merchantOrigin: string, merchantName: string, amount: string, currency: string,
 *   checkoutId: string, nonce: string, signedAt: Date, certificateFingerprint: string,
 *   confirmation?: string}} fields
 * @returns {Uint8Array}
 */
export function transactionBytes(fields) {
  const confirmation = fields.confirmation ?? Confirmation.EXPLICIT;
  if (confirmation !== Confirmation.EXPLICIT && confirmation !== Confirmation.FRICTIONLESS) {
    throw new TypeError("unknown confirmation");
  }
  return utf8(
    canonicalize({
      type: TRANSACTION_TYPE,
      version: TRANSACTION_VERSION,
      merchantOrigin: fields.merchantOrigin,
      merchantName: fields.merchantName,
      amount: fields.amount,
      currency: fields.currency,
      checkoutId: fields.checkoutId,
      nonce: fields.nonce,
      // RFC 3339 UTC with milliseconds (certs.transaction.format_signing_time).
      signedAt: fields.signedAt.toISOString(),
      certificateFingerprint: fields.certificateFingerprint,
      confirmation,
    }),
  );
}

/**
 * Sign a transaction request with a stored credential and build the presentation.
 *
 * @param {object} credential a keystore record.
 * @param {object} request a parsed transaction request (request.js).
 * @param {{confirmation: string, now?: Date}} options
 * @returns {Promise<{presentation: string, transaction: Uint8Array}>} the presentation
 *   JSON text (wire form of certs.presentation.Presentation) and the signed bytes.
 */
export async function present(credential, request, { confirmation, now = new Date() }) {
  const transaction = transactionBytes({
    merchantOrigin: request.merchantOrigin,
    merchantName: request.merchantName,
    amount: request.amount,
    currency: request.currency,
    checkoutId: request.checkoutId,
    nonce: request.nonce,
    signedAt: now,
    certificateFingerprint: credential.fingerprint,
    confirmation,
  });
  const signature = await signRaw(credential.privateKey, transaction);
  const presentation = JSON.stringify({
    version: PRESENTATION_VERSION,
    transaction: encode(transaction),
    signature: encode(signature),
    certificateChain: credential.certificateChain,
    status: credential.status ?? null,
    cardDataSecret: encode(credential.cardDataSecret),
  });
  return { presentation, transaction };
}

/** The proof-of-possession bytes (certs.proof_of_possession.pop_message). */
export function popMessage({ purpose, origin, challenge }) {
  if (purpose !== PopPurpose.ENROLLMENT && purpose !== PopPurpose.RENEWAL) {
    throw new TypeError("unknown proof-of-possession purpose");
  }
  return utf8(canonicalize({ type: POP_TYPE, version: 1, purpose, origin, challenge }));
}
