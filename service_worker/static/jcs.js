// RFC 8785 JSON Canonicalization Scheme (JCS), as a plain ES module.
//
// The Service Worker signs the UTF-8 bytes of canonicalize(transaction); the Python side
// (certs/canonical_json.py) produces identical bytes, checked by
// tests/certs/test_jcs_agreement.py. Rules (RFC 8785 section 3.2):
//   - literals: null, true, false;
//   - numbers: the ECMAScript Number-to-String algorithm (3.2.2.3), which is exactly what
//     String(n) / JSON.stringify(n) do for finite numbers (-0 serialises as "0");
//     NaN and +/-Infinity are not JSON and are rejected;
//   - strings: as JSON.stringify escapes them (3.2.2.2): \" \\ \b \f \n \r \t, other
//     controls below U+0020 as lower-case \u00xx, everything else as is; lone surrogates
//     cannot be encoded as UTF-8 and are rejected (I-JSON, RFC 7493 section 2.1);
//   - objects: members sorted by their names as arrays of UTF-16 code units (3.2.3),
//     which is JavaScript's own string comparison; no whitespace anywhere.
// Anything that is not JSON data (undefined, functions, symbols, BigInt, cycles, Dates,
// Maps, class instances, sparse arrays) throws a TypeError rather than being skipped or
// converted, so that a signed text never silently differs from what the caller built.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Canonical JSON text of a JSON value (RFC 8785). Encode the result as UTF-8 to sign it.
 *
 * @param {unknown} value null, a boolean, a finite number, a string, an array or a plain object.
 * @returns {string} the canonical text.
 * @throws {TypeError} for values JSON cannot represent; {RangeError} for non-finite numbers.
 */
export function canonicalize(value) {
  return serialize(value, new Set());
}

function serialize(value, ancestors) {
  if (value === null) {
    return "null";
  }
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return serializeNumber(value);
    case "string":
      return serializeString(value);
    case "object":
      return serializeContainer(value, ancestors);
    default:
      throw new TypeError(`JCS: a ${typeof value} is not JSON data`);
  }
}

function serializeNumber(number) {
  if (!Number.isFinite(number)) {
    throw new RangeError(`JCS: ${number} is not a JSON number`);
  }
  return String(number);
}

function serializeString(string) {
  if (LONE_SURROGATE.test(string)) {
    throw new TypeError("JCS: string contains a lone surrogate");
  }
  return JSON.stringify(string);
}

function serializeContainer(value, ancestors) {
  if (ancestors.has(value)) {
    throw new TypeError("JCS: cyclic structure");
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return serializeArray(value, ancestors);
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new TypeError("JCS: only plain objects and arrays are JSON data");
    }
    return serializeObject(value, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function serializeArray(array, ancestors) {
  const parts = [];
  for (let index = 0; index < array.length; index += 1) {
    if (!Object.hasOwn(array, index)) {
      throw new TypeError("JCS: sparse arrays are not JSON data");
    }
    parts.push(serialize(array[index], ancestors));
  }
  return `[${parts.join(",")}]`;
}

function compareCodeUnits(a, b) {
  // JavaScript compares strings by UTF-16 code units, as RFC 8785 section 3.2.3 requires.
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}

function serializeObject(object, ancestors) {
  if (Object.getOwnPropertySymbols(object).length > 0) {
    throw new TypeError("JCS: symbol-keyed members are not JSON data");
  }
  const names = Object.keys(object).sort(compareCodeUnits);
  const parts = names.map((name) => {
    const member = object[name];
    if (member === undefined) {
      throw new TypeError(`JCS: member ${JSON.stringify(name)} is undefined`);
    }
    return `${serializeString(name)}:${serialize(member, ancestors)}`;
  });
  return `{${parts.join(",")}}`;
}
