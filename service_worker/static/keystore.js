// The browser's credential store: IndexedDB on the issuer origin, shared by the enrollment
// page and the Service Worker.
//
// Object stores (database "cardcert", version 1):
//   credentials  keyPath credentialId; index "card" on [bin, last4]. One record per
//                enrolled card: the non-extractable CryptoKey (structured-cloned, never
//                exported), the 32-byte card-data secret, the certificate chain (b64url
//                DER), its validity, the stapled status and its dates.
//   pending      keyPath token. Confirmation pages the Service Worker has shown and not yet
//                seen answered: one-time tokens with the request they belong to.
//   meta         keyPath name. Issuer metadata (/.well-known/cardcert-issuer).

export const DB_NAME = "cardcert";
const DB_VERSION = 1;
const CREDENTIALS = "credentials";
const PENDING = "pending";
const META = "meta";

let opening = null;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function completed(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error("transaction aborted"));
  });
}

/** The database, opened once per context (window or worker). */
export function openKeystore() {
  if (opening === null) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(CREDENTIALS)) {
          const store = db.createObjectStore(CREDENTIALS, { keyPath: "credentialId" });
          store.createIndex("card", ["bin", "last4"], { unique: false });
        }
        if (!db.objectStoreNames.contains(PENDING)) {
          db.createObjectStore(PENDING, { keyPath: "token" });
        }
        if (!db.objectStoreNames.contains(META)) {
          db.createObjectStore(META, { keyPath: "name" });
        }
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another context upgrading the schema: let it, reopen on next use.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
      request.onblocked = () => reject(new Error("the credential store is blocked by another tab"));
    });
  }
  return opening;
}

// Credentials are written with strict durability (flushed to disk before the transaction
// completes); one-time tokens and metadata with relaxed durability: losing them in a crash
// costs a retry, and a flush would sit on the checkout's critical path.
async function run(stores, mode, body, durability = "strict") {
  const db = await openKeystore();
  const transaction = db.transaction(stores, mode, { durability });
  const done = completed(transaction);
  const result = await body(transaction);
  await done;
  return result;
}

// --- credentials ---------------------------------------------------------------------

/**
 * Store a credential; any other credential for the same card (bin + last4) is removed in
 * the same transaction, so a re-enrollment replaces the old credential atomically.
 *
 * @returns {Promise<string[]>} ids of the replaced credentials.
 */
export function putCredential(record) {
  return run([CREDENTIALS], "readwrite", async (transaction) => {
    const store = transaction.objectStore(CREDENTIALS);
    const same = await promised(store.index("card").getAll([record.bin, record.last4]));
    const replaced = [];
    for (const old of same) {
      if (old.credentialId !== record.credentialId) {
        store.delete(old.credentialId);
        replaced.push(old.credentialId);
      }
    }
    store.put(record);
    return replaced;
  });
}

export function getCredential(credentialId) {
  return run([CREDENTIALS], "readonly", (transaction) =>
    promised(transaction.objectStore(CREDENTIALS).get(credentialId)),
  );
}

export function listCredentials() {
  return run([CREDENTIALS], "readonly", (transaction) =>
    promised(transaction.objectStore(CREDENTIALS).getAll()),
  );
}

/** Credentials for a card hint ({bin, last4}); every credential when the hint is null. */
export function findCredentials(cardHint) {
  if (!cardHint) {
    return listCredentials();
  }
  return run([CREDENTIALS], "readonly", (transaction) =>
    promised(
      transaction.objectStore(CREDENTIALS).index("card").getAll([cardHint.bin, cardHint.last4]),
    ),
  );
}

/**
 * Read-modify-write one credential in a single transaction. `change(record)` returns the
 * new record (possibly under a new credentialId: the old one is then deleted), or null to
 * leave it as it is. Resolves to the stored record or null.
 */
export function updateCredential(credentialId, change) {
  return run([CREDENTIALS], "readwrite", async (transaction) => {
    const store = transaction.objectStore(CREDENTIALS);
    const current = await promised(store.get(credentialId));
    if (current === undefined) {
      return null;
    }
    const next = change(current);
    if (!next) {
      return current;
    }
    if (next.credentialId !== credentialId) {
      store.delete(credentialId);
    }
    store.put(next);
    return next;
  });
}

export function deleteCredential(credentialId) {
  return run([CREDENTIALS], "readwrite", (transaction) => {
    transaction.objectStore(CREDENTIALS).delete(credentialId);
  });
}

// --- pending confirmations -------------------------------------------------------------

export function putPending(pending) {
  return run(
    [PENDING],
    "readwrite",
    (transaction) => {
      transaction.objectStore(PENDING).put(pending);
    },
    "relaxed",
  );
}

/**
 * Take a pending confirmation: read and delete it in one transaction, so a token is used
 * at most once even if two answers race. Expired entries are swept on the way.
 *
 * @returns {Promise<object | null>} null when unknown, used or expired.
 */
export function takePending(token, now = Date.now()) {
  return run([PENDING], "readwrite", async (transaction) => {
    const store = transaction.objectStore(PENDING);
    const found = typeof token === "string" ? await promised(store.get(token)) : undefined;
    if (found !== undefined) {
      store.delete(token);
    }
    const all = await promised(store.getAll());
    for (const entry of all) {
      if (entry.expiresAt <= now) {
        store.delete(entry.token);
      }
    }
    return found !== undefined && found.expiresAt > now ? found : null;
  }, "relaxed");
}

// --- metadata ----------------------------------------------------------------------------

export async function getMeta(name) {
  const entry = await run([META], "readonly", (transaction) =>
    promised(transaction.objectStore(META).get(name)),
  );
  return entry === undefined ? null : entry;
}

export function putMeta(name, value, fetchedAt = Date.now()) {
  return run(
    [META],
    "readwrite",
    (transaction) => {
      transaction.objectStore(META).put({ name, value, fetchedAt });
    },
    "relaxed",
  );
}
