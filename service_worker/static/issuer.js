// Talking to the issuer (docs/interfaces.md, sections 1 to 3), from the enrollment page
// and from the Service Worker. Same-origin only: the browser side of cardcert only ever
// talks to the issuer it was served by.

import { decode, encode, toBytes } from "./base64url.js";
import { certificateInfo, ocspInfo } from "./certificate.js";
import { fingerprint, popMessage, signRaw } from "./signing.js";

export const METADATA_PATH = "/.well-known/cardcert-issuer";
export const DEFAULT_STATUS_FRESHNESS_SECONDS = 86400;

/** An error answer from the issuer; `code` is the issuer's stable error code. */
export class IssuerError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = "IssuerError";
    this.code = code;
    this.status = status;
  }
}

function sameOrigin(path) {
  const url = new URL(path, self.location.origin);
  if (url.origin !== self.location.origin) {
    throw new IssuerError("issuer_url_invalid", "issuer URLs must be on the issuer origin", 0);
  }
  return url;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : null;
    throw new IssuerError(
      (error && error.code) || `http_${response.status}`,
      (error && error.message) || `the issuer answered ${response.status}`,
      response.status,
    );
  }
  return body;
}

/** POST a JSON body to an issuer endpoint and return the JSON answer. */
export async function postJson(path, body) {
  const response = await fetch(sameOrigin(path), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  return answer(response);
}

/** GET /.well-known/cardcert-issuer. */
export async function fetchMetadata() {
  const response = await fetch(sameOrigin(METADATA_PATH), {
    headers: { Accept: "application/json" },
    cache: "no-store",
  });
  return answer(response);
}

/** POST /v1/enrollment/challenge -> the challenge text. */
export async function requestChallenge() {
  const body = await postJson("/v1/enrollment/challenge", {});
  if (!body || typeof body.challenge !== "string") {
    throw new IssuerError("challenge_malformed", "the issuer sent no challenge", 0);
  }
  return body.challenge;
}

/** Sign a proof of possession for `purpose` over a fresh challenge. */
export async function proofOfPossession(privateKey, purpose) {
  const challenge = await requestChallenge();
  const message = popMessage({ purpose, origin: self.location.origin, challenge });
  return { challenge, signature: encode(await signRaw(privateKey, message)) };
}

/**
 * The keystore record for an enrollment (or renewal) answer.
 *
 * @param {object} body the issuer's answer (docs/interfaces.md, section 2).
 * @param {{privateKey: CryptoKey, publicKey: string, cardDataSecret: Uint8Array,
 *   enrolledAt?: number}} keys
 */
export async function credentialRecord(body, keys) {
  if (!body || !Array.isArray(body.certificateChain) || body.certificateChain.length === 0) {
    throw new IssuerError("enrollment_malformed", "the issuer sent no certificate chain", 0);
  }
  const leaf = decode(body.certificateChain[0]);
  const info = certificateInfo(leaf);
  const computed = await fingerprint(leaf);
  if (body.fingerprint !== undefined && body.fingerprint !== computed) {
    throw new IssuerError("enrollment_malformed", "the fingerprint does not match", 0);
  }
  const now = Date.now();
  return {
    credentialId: String(body.credentialId),
    issuerName: String(body.issuerName ?? ""),
    bin: String(body.bin),
    last4: String(body.last4),
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    cardDataSecret: toBytes(keys.cardDataSecret),
    certificateChain: body.certificateChain.map(String),
    fingerprint: computed,
    serial: info.serial,
    notBefore: info.notBefore.getTime(),
    notAfter: info.notAfter.getTime(),
    enrolledAt: keys.enrolledAt ?? now,
    renewedAt: keys.enrolledAt === undefined ? null : now,
    renewalAttemptAt: null,
    statusFailedAt: null,
    ...statusFields(body.status ?? null, info.serial, now),
  };
}

/**
 * Fields describing a stapled status (b64url DER OCSP response) for a keystore record.
 * A response that cannot be read, or speaks for another serial number, is not stapled.
 */
export function statusFields(status, serial, now = Date.now()) {
  if (typeof status !== "string" || status.length === 0) {
    return { status: null, statusInfo: null };
  }
  try {
    const info = ocspInfo(decode(status));
    if (info.serial !== serial) {
      return { status: null, statusInfo: null };
    }
    return {
      status,
      statusInfo: {
        certStatus: info.certStatus,
        thisUpdate: info.thisUpdate.getTime(),
        nextUpdate: info.nextUpdate === null ? null : info.nextUpdate.getTime(),
        fetchedAt: now,
      },
    };
  } catch {
    return { status: null, statusInfo: null };
  }
}
