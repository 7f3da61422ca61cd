// A minimal DER reader (ITU-T X.690), enough to read dates out of a card certificate and
// an OCSP response. The Service Worker never trusts what it reads here: certificates and
// OCSP responses are verified by the merchant; the browser only needs to know when to
// renew and when its stapled status is getting old.

import { toBytes } from "./base64url.js";

export const Tag = Object.freeze({
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
});

/** A malformed or unexpected DER structure. */
export class DerError extends Error {
  constructor(message) {
    super(message);
    this.name = "DerError";
  }
}

/**
 * Read one TLV at `offset` (definite lengths only, as DER requires).
 *
 * @param {Uint8Array} bytes
 * @param {number} offset
 * @param {number} [limit] end of the enclosing value.
 * @returns {{tag: number, start: number, end: number, next: number, bytes: Uint8Array}}
 *   `start`..`end` is the content; `next` the offset after this TLV.
 */
export function readTlv(bytes, offset, limit = bytes.length) {
  if (offset + 2 > limit) {
    throw new DerError("truncated");
  }
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) {
    throw new DerError("high tag numbers are not used here");
  }
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) {
      throw new DerError("bad length");
    }
    length = 0;
    for (let index = 0; index < count; index += 1) {
      length = length * 256 + bytes[start + index];
    }
    start += count;
  }
  const end = start + length;
  if (end > limit) {
    throw new DerError("truncated");
  }
  return { tag, start, end, next: end, bytes };
}

/** The TLVs inside a constructed value. */
export function children(node) {
  const items = [];
  for (let offset = node.start; offset < node.end; ) {
    const child = readTlv(node.bytes, offset, node.end);
    items.push(child);
    offset = child.next;
  }
  return items;
}

/** The root TLV of a DER buffer, which must span it exactly. */
export function root(data) {
  const bytes = toBytes(data);
  const node = readTlv(bytes, 0);
  if (node.next !== bytes.length) {
    throw new DerError("trailing data");
  }
  return node;
}

export function expect(node, tag, what) {
  if (!node || node.tag !== tag) {
    throw new DerError(`${what}: unexpected tag`);
  }
  return node;
}

/** Content bytes of a node. */
export function content(node) {
  return node.bytes.subarray(node.start, node.end);
}

/** UTCTime (RFC 5280 4.1.2.5.1) or GeneralizedTime (4.1.2.5.2) as a Date. */
export function readTime(node) {
  const text = String.fromCharCode(...content(node));
  let match;
  if (node.tag === Tag.UTC_TIME) {
    match = /^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})Z$/.exec(text);
    if (match) {
      const yy = Number(match[1]);
      match = [match[0], String(yy >= 50 ? 1900 + yy : 2000 + yy), ...match.slice(2), ""];
    }
  } else if (node.tag === Tag.GENERALIZED_TIME) {
    match = /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(\.[0-9]+)?Z$/.exec(text);
  }
  if (!match) {
    throw new DerError("not a UTC time");
  }
  const [, year, month, day, hour, minute, second, fraction] = match;
  const millis = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  return new Date(
    Date.UTC(+year, +month - 1, +day, +hour, +minute, +second, millis),
  );
}

/** Hex of an INTEGER's content (for comparing serial numbers). */
export function integerHex(node) {
  expect(node, Tag.INTEGER, "integer");
  return Array.from(content(node), (b) => b.toString(16).padStart(2, "0")).join("");
}
