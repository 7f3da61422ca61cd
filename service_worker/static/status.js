// The stapled revocation status (docs/interfaces.md, section 3).
//
// The Service Worker keeps a recent OCSP response for each card certificate and sends it
// with every presentation, so the merchant rarely needs to ask the issuer. It is refreshed
// in the background (after activation, after a checkout, when the enrollment page is
// opened), never while a checkout waits: the checkout uses the staple it has.
//
// Freshness: the issuer signs responses valid for `statusFreshnessSeconds` (metadata;
// nextUpdate = thisUpdate + window) and merchants accept them up to their own maximum age.
// A staple is refreshed once it is older than half the window, so that the one in hand
// is still within the window at the next checkout; failures back off for five minutes.

import { DEFAULT_STATUS_FRESHNESS_SECONDS, statusFields } from "./issuer.js";
import { encode } from "./base64url.js";
import { updateCredential } from "./keystore.js";

export const RETRY_AFTER_MS = 5 * 60 * 1000;

/** The issuer's status window in milliseconds. */
export function freshnessWindow(metadata) {
  const seconds = metadata && Number(metadata.statusFreshnessSeconds);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_STATUS_FRESHNESS_SECONDS)
    * 1000;
}

/** Whether a record's staple should be refreshed now. */
export function statusNeedsRefresh(record, metadata, now = Date.now()) {
  if (record.statusInfo && record.statusInfo.certStatus === "revoked") {
    return false; // revocation is final
  }
  if (record.statusFailedAt && now - record.statusFailedAt < RETRY_AFTER_MS) {
    return false; // a recent attempt failed: back off
  }
  if (!record.status || !record.statusInfo) {
    return true;
  }
  const { thisUpdate, nextUpdate } = record.statusInfo;
  return (
    now - thisUpdate >= freshnessWindow(metadata) / 2 || (nextUpdate !== null && now >= nextUpdate)
  );
}

function statusUrl(metadata, fingerprint) {
  const template =
    metadata && typeof metadata.statusUrl === "string" ? metadata.statusUrl : "/status/{fingerprint}";
  const url = new URL(template.replace("{fingerprint}", fingerprint), self.location.origin);
  if (url.origin !== self.location.origin) {
    throw new Error("the status URL is not on the issuer origin");
  }
  return url;
}

/**
 * GET {statusUrl} for one credential and staple the answer.
 *
 * @returns {Promise<object>} the updated record.
 */
export async function refreshStatus(record, metadata) {
  const started = Date.now();
  let staple = null;
  try {
    const response = await fetch(statusUrl(metadata, record.fingerprint), {
      headers: { Accept: "application/ocsp-response" },
      cache: "no-store",
    });
    if (response.ok) {
      staple = encode(await response.arrayBuffer());
    }
  } catch {
    staple = null;
  }
  const fields = staple === null ? null : statusFields(staple, record.serial, started);
  return updateCredential(record.credentialId, (current) => {
    if (current.fingerprint !== record.fingerprint) {
      return null; // renewed meanwhile: that staple speaks for the old certificate
    }
    if (fields === null || fields.status === null) {
      return { ...current, statusFailedAt: started };
    }
    return { ...current, ...fields, statusFailedAt: null };
  });
}
