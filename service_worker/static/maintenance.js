// Background upkeep, run by the Service Worker off the checkout path: refresh the issuer
// metadata (daily), the stapled status of each credential (status.js) and renew
// certificates nearing expiry (renewal.js). One run at a time per worker.

import { fetchMetadata } from "./issuer.js";
import { getMeta, listCredentials, putMeta } from "./keystore.js";
import { renew, renewalDue } from "./renewal.js";
import { refreshStatus, statusNeedsRefresh } from "./status.js";

export const METADATA_MAX_AGE_MS = 24 * 60 * 60 * 1000;
export const METADATA = "issuer";

const MEMO_MS = 60 * 1000;
let running = null;
let memo = null; // {value, at}: the metadata as last read, to spare the checkout a read

/** The stored issuer metadata (null when never fetched); re-read at most every minute. */
export async function loadMetadata(now = Date.now()) {
  if (memo === null || now - memo.at > MEMO_MS) {
    const entry = await getMeta(METADATA);
    memo = { value: entry === null ? null : entry.value, at: now };
  }
  return memo.value;
}

/** Fetch and store the issuer metadata. */
export async function refreshMetadata() {
  const metadata = await fetchMetadata();
  await putMeta(METADATA, metadata);
  memo = { value: metadata, at: Date.now() };
  return metadata;
}

async function upkeep(now, force) {
  const report = { metadata: false, statuses: [], renewed: [], errors: [] };
  let entry = await getMeta(METADATA);
  if (entry === null || now - entry.fetchedAt > METADATA_MAX_AGE_MS) {
    try {
      entry = { value: await refreshMetadata() };
      report.metadata = true;
    } catch (error) {
      report.errors.push({ what: "metadata", code: error.code ?? error.name });
    }
  }
  const metadata = entry === null ? null : entry.value;
  for (const record of await listCredentials()) {
    try {
      if (renewalDue(record, now)) {
        const renewed = await renew(record);
        report.renewed.push({ from: record.credentialId, to: renewed.credentialId });
      } else if (force || statusNeedsRefresh(record, metadata, now)) {
        const updated = await refreshStatus(record, metadata);
        report.statuses.push({
          credentialId: record.credentialId,
          certStatus: updated && updated.statusInfo ? updated.statusInfo.certStatus : null,
        });
      }
    } catch (error) {
      report.errors.push({ what: record.credentialId, code: error.code ?? error.name });
    }
  }
  return report;
}

/**
 * Run the upkeep once; a run in progress is joined. `force` refreshes every staple now
 * (the enrollment page's "check status" and tests), after any run in progress.
 *
 * @param {{now?: number, force?: boolean}} [options]
 */
export async function maintain({ now, force = false } = {}) {
  if (running !== null) {
    const report = await running;
    if (!force) {
      return report;
    }
  }
  if (running === null) {
    running = upkeep(now ?? Date.now(), force).finally(() => {
      running = null;
    });
  }
  return running;
}
