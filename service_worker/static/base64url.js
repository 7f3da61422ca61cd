// Unpadded base64url (RFC 4648 section 5), the encoding of every byte string on the wire
// (docs/interfaces.md). Decoding is strict like certs/wire.py: only the URL-safe alphabet,
// no padding, and the canonical encoding only (no stray low bits in the last character).

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {string} unpadded base64url text.
 */
export function encode(data) {
  const bytes = toBytes(data);
  let binary = "";
  for (let index = 0; index < bytes.length; index += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * @param {string} text unpadded base64url.
 * @returns {Uint8Array}
 * @throws {TypeError} when the text is not canonical unpadded base64url.
 */
export function decode(text) {
  if (typeof text !== "string" || !ALPHABET.test(text) || text.length % 4 === 1) {
    throw new TypeError("not unpadded base64url");
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) {
    bytes[index] = binary.charCodeAt(index);
  }
  if (encode(bytes) !== text) {
    throw new TypeError("not canonical base64url");
  }
  return bytes;
}

/**
 * A Uint8Array view of any buffer or view (no copy).
 *
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function toBytes(data) {
  if (data instanceof Uint8Array) {
    return data;
  }
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) {
    return new Uint8Array(data);
  }
  throw new TypeError("expected bytes");
}

const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return UTF8_ENCODER.encode(text);
}

/** Strict UTF-8 decoding: malformed input throws a TypeError. */
export function fromUtf8(bytes) {
  return UTF8_DECODER.decode(bytes);
}
