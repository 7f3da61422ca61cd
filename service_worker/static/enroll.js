// The enrollment page (/enroll): type the activation code, get a card certificate for a
// key made in this browser, see the cards enrolled here. With ?resume=<request>, the
// checkout that sent the cardholder here continues once the card is enrolled.

import { enroll, ensureServiceWorker, requestUpkeep, storeMetadata } from "./enrollment.js";
import { deleteCredential, listCredentials } from "./keystore.js";

const RESUME = /^[A-Za-z0-9_-]{1,8200}$/;

const form = document.getElementById("enroll-form");
const codeInput = document.getElementById("activation-code");
const submit = document.getElementById("enroll-submit");
const message = document.getElementById("message");
const cardList = document.getElementById("cards");
const emptyNote = document.getElementById("no-cards");
const resume = new URLSearchParams(location.search).get("resume");
const resumeRequest = resume !== null && RESUME.test(resume) ? resume : null;

let registrationReady = null;

function say(text, kind = "info") {
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = text === "";
}

function formatDate(millis) {
  return new Date(millis).toISOString().slice(0, 10);
}

function statusText(record) {
  if (!record.statusInfo) {
    return "status not yet known";
  }
  return record.statusInfo.certStatus === "good"
    ? `status good as of ${formatDate(record.statusInfo.thisUpdate)}`
    : `status: ${record.statusInfo.certStatus}`;
}

async function renderCards() {
  const records = (await listCredentials()).sort((a, b) => a.enrolledAt - b.enrolledAt);
  cardList.replaceChildren(
    ...records.map((record) => {
      const item = document.createElement("li");
      item.className = "enrolled-card";
      item.dataset.credentialId = record.credentialId;
      item.dataset.last4 = record.last4;
      const name = document.createElement("strong");
      name.textContent = `${record.issuerName} \u2022\u2022\u2022\u2022 ${record.last4}`;
      const details = document.createElement("span");
      details.className = "details";
      details.textContent =
        ` BIN ${record.bin}; credential valid until ${formatDate(record.notAfter)}; ${statusText(record)}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "Remove from this browser";
      remove.addEventListener("click", async () => {
        await deleteCredential(record.credentialId);
        await renderCards();
      });
      item.append(name, details, remove);
      return item;
    }),
  );
  emptyNote.hidden = records.length > 0;
  document.body.dataset.cards = String(records.length);
}

function workerReady() {
  if (registrationReady === null) {
    registrationReady = ensureServiceWorker();
    registrationReady.then(
      () => {
        document.body.dataset.serviceWorker = "active";
      },
      () => {
        document.body.dataset.serviceWorker = "failed";
        registrationReady = null;
      },
    );
  }
  return registrationReady;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = codeInput.value.trim();
  if (code === "") {
    say("Type the activation code your bank gave you.", "error");
    return;
  }
  submit.disabled = true;
  document.body.dataset.state = "enrolling";
  say("Creating a key in this browser and asking your bank for a certificate\u2026");
  try {
    const { record, replaced } = await enroll(code);
    await workerReady();
    await renderCards();
    codeInput.value = "";
    say(
      `${record.issuerName} card \u2022\u2022\u2022\u2022 ${record.last4} is enrolled in this browser` +
        (replaced.length ? " (it replaces the earlier enrollment of this card)." : "."),
      "success",
    );
    document.body.dataset.state = "enrolled";
    document.body.dataset.credentialId = record.credentialId;
    if (resumeRequest !== null) {
      say("Enrolled. Returning to your payment\u2026", "success");
      location.assign(`/pay?request=${resumeRequest}`);
    }
  } catch (error) {
    document.body.dataset.state = "error";
    document.body.dataset.errorCode = error.code ?? error.name;
    say(`Enrollment failed: ${error.message}${error.code ? ` (${error.code})` : ""}`, "error");
  } finally {
    submit.disabled = false;
  }
});

async function start() {
  if (!window.isSecureContext || !("serviceWorker" in navigator) || !crypto.subtle) {
    say("This browser cannot hold a card certificate (no Service Worker or WebCrypto).", "error");
    submit.disabled = true;
    return;
  }
  if (resumeRequest !== null) {
    document.getElementById("resume-note").hidden = false;
  }
  await renderCards();
  document.body.dataset.state = "ready";
  try {
    const metadata = await storeMetadata();
    for (const element of document.querySelectorAll("[data-issuer-name]")) {
      element.textContent = metadata.issuerName;
    }
  } catch {
    // The metadata is also fetched by the worker's upkeep.
  }
  try {
    const registration = await workerReady();
    if ("periodicSync" in registration) {
      registration.periodicSync
        .register("cardcert-upkeep", { minInterval: 12 * 60 * 60 * 1000 })
        .catch(() => {});
    }
    await requestUpkeep(registration);
    await renderCards();
  } catch {
    // Shown through data-service-worker; enrollment retries the registration.
  }
}

start();
