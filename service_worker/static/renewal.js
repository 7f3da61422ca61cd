// Renewal before expiry (docs/interfaces.md, section 2.3): same key, new certificate.
//
// A certificate is renewed in the background once less than a third of its validity
// remains (30 of 90 days by default). The Service Worker proves possession of the key
// over a fresh challenge (purpose "renewal") and replaces chain, validity and staple in
// one keystore transaction; key and card-data secret stay as they are. Failed attempts
// are retried at most hourly.

import { proofOfPossession, credentialRecord, postJson } from "./issuer.js";
import { updateCredential } from "./keystore.js";
import { PopPurpose } from "./signing.js";

export const RENEWAL_RETRY_MS = 60 * 60 * 1000;

/** Whether a credential should be renewed now. */
export function renewalDue(record, now = Date.now()) {
  if (now >= record.notAfter) {
    return false; // expired: only a new enrollment helps
  }
  const validity = record.notAfter - record.notBefore;
  if (now - (record.renewalAttemptAt ?? 0) < RENEWAL_RETRY_MS) {
    return false;
  }
  return record.notAfter - now < validity / 3;
}

/**
 * Renew one credential.
 *
 * @returns {Promise<object>} the stored, renewed record.
 */
export async function renew(record) {
  const attemptAt = Date.now();
  await updateCredential(record.credentialId, (current) => ({
    ...current,
    renewalAttemptAt: attemptAt,
  }));
  const { challenge, signature } = await proofOfPossession(record.privateKey, PopPurpose.RENEWAL);
  const body = await postJson("/v1/credentials/renew", {
    certificate: record.certificateChain[0],
    challenge,
    signature,
  });
  const renewed = await credentialRecord(body, {
    privateKey: record.privateKey,
    publicKey: record.publicKey,
    cardDataSecret: record.cardDataSecret,
    enrolledAt: record.enrolledAt,
  });
  return updateCredential(record.credentialId, (current) => ({
    ...renewed,
    // The issuer may keep the card details; keep ours when it leaves them out.
    issuerName: renewed.issuerName || current.issuerName,
    bin: body.bin ? renewed.bin : current.bin,
    last4: body.last4 ? renewed.last4 : current.last4,
  }));
}
