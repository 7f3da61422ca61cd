// The merchant origin, derived from the return URL exactly as certs/origin.py does.
//
// The origin bound into the signature must be byte-for-byte what the merchant expects
// (certs.origin.origin_of_url on the Python side): lower-case scheme and host, no default
// port, no path; plain http only for hosts a browser treats as a secure context
// (localhost, *.localhost, 127.0.0.1). originOfUrl() runs that algorithm on the raw text
// (a transcription of Python's urllib.parse.urlsplit as certs/origin.py uses it) and then
// requires the browser's own URL parser (WHATWG URL, which decides where the form is
// actually POSTed) to agree. Any disagreement is a rejection: the Service Worker only
// signs an origin both parsers see, so a crafted URL cannot make the signed origin differ
// from the origin that receives the presentation.

const DEFAULT_PORTS = new Map([
  ["https", 443],
  ["http", 80],
]);
const HOST = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// urllib.parse strips leading C0 controls and spaces (WHATWG "C0 control or space") and
// removes tab, CR and LF anywhere (bpo-43882).
const LEADING_C0_OR_SPACE = /^[\u0000-\u0020]+/;
const TAB_CR_LF = /[\t\r\n]/g;
const MAX_URL_LENGTH = 2048;

function secureContextHttpHost(host) {
  return host === "localhost" || host.endsWith(".localhost") || host === "127.0.0.1";
}

/**
 * certs.origin.origin_of_url, transcribed: the serialised origin of an absolute https (or
 * local http) URL, else null. Stricter in one place: any "@" in the authority is refused
 * (Python accepts an empty user name).
 *
 * @param {unknown} url
 * @returns {string | null}
 */
export function pythonOriginOfUrl(url) {
  if (typeof url !== "string" || [...url].length > MAX_URL_LENGTH) {
    return null;
  }
  const text = url.replace(LEADING_C0_OR_SPACE, "").replace(TAB_CR_LF, "");
  const scheme = SCHEME.exec(text);
  if (scheme === null) {
    return null;
  }
  const schemeName = scheme[1].toLowerCase();
  const rest = text.slice(scheme[0].length);
  if (!rest.startsWith("//")) {
    return null;
  }
  const authorityEnd = rest.slice(2).search(/[/?#]/);
  const netloc = authorityEnd === -1 ? rest.slice(2) : rest.slice(2, 2 + authorityEnd);
  if (netloc.includes("@") || netloc.includes("[") || netloc.includes("]")) {
    return null;
  }
  const colon = netloc.indexOf(":");
  const host = (colon === -1 ? netloc : netloc.slice(0, colon)).toLowerCase();
  let port = null;
  const portText = colon === -1 ? "" : netloc.slice(colon + 1);
  if (portText !== "") {
    // An empty port is no port, as in Python (and WHATWG URL).
    if (!/^[0-9]+$/.test(portText)) {
      return null; // Python: "Port could not be cast to integer value"
    }
    port = Number.parseInt(portText, 10);
    if (port > 65535) {
      return null;
    }
  }
  if (!DEFAULT_PORTS.has(schemeName) || !host) {
    return null;
  }
  if (!(HOST.test(host) || IPV4.test(host))) {
    return null;
  }
  if (schemeName === "http" && !secureContextHttpHost(host)) {
    return null;
  }
  if (port === null || port === DEFAULT_PORTS.get(schemeName)) {
    return `${schemeName}://${host}`;
  }
  return `${schemeName}://${host}:${port}`;
}

/**
 * The merchant origin to sign for a return URL, or null when it must be refused.
 *
 * @param {unknown} url the transaction request's returnUrl.
 * @returns {string | null}
 */
export function originOfUrl(url) {
  const python = pythonOriginOfUrl(url);
  if (python === null) {
    return null;
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return null;
  }
  return parsed.origin === python ? python : null;
}
