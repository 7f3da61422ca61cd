// What the browser reads from its own card certificate and stapled OCSP response:
// validity dates (to renew in time) and the status dates (to keep the staple fresh).
// Informational only: the merchant verifies signatures, the browser does not need to.

import { children, content, expect, integerHex, readTime, root, Tag } from "./der.js";

/**
 * Validity and serial number of an X.509 certificate (RFC 5280 4.1).
 *
 * @param {Uint8Array} der
 * @returns {{notBefore: Date, notAfter: Date, serial: string}}
 */
export function certificateInfo(der) {
  const certificate = expect(root(der), Tag.SEQUENCE, "certificate");
  const tbs = expect(children(certificate)[0], Tag.SEQUENCE, "tbsCertificate");
  let fields = children(tbs);
  if (fields[0] && fields[0].tag === 0xa0) {
    fields = fields.slice(1); // [0] EXPLICIT version
  }
  // serialNumber, signature, issuer, validity, ...
  const serial = integerHex(fields[0]);
  const validity = children(expect(fields[3], Tag.SEQUENCE, "validity"));
  return {
    notBefore: readTime(validity[0]),
    notAfter: readTime(validity[1]),
    serial,
  };
}

const OCSP_BASIC = "2b0601050507300101"; // id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1

/**
 * The single response of a DER OCSP response (RFC 6960 4.2.1): status and dates.
 *
 * @param {Uint8Array} der
 * @returns {{certStatus: "good"|"revoked"|"unknown", serial: string,
 *   producedAt: Date, thisUpdate: Date, nextUpdate: Date | null}}
 */
export function ocspInfo(der) {
  const response = children(expect(root(der), Tag.SEQUENCE, "OCSPResponse"));
  const responseStatus = expect(response[0], Tag.ENUMERATED, "responseStatus");
  if (content(responseStatus).some((b) => b !== 0)) {
    throw new Error("OCSP response status is not successful");
  }
  const responseBytes = children(expect(children(expect(response[1], 0xa0, "responseBytes"))[0],
    Tag.SEQUENCE, "ResponseBytes"));
  const type = Array.from(content(expect(responseBytes[0], Tag.OID, "responseType")),
    (b) => b.toString(16).padStart(2, "0")).join("");
  if (type !== OCSP_BASIC) {
    throw new Error("not a basic OCSP response");
  }
  const basic = root(content(expect(responseBytes[1], Tag.OCTET_STRING, "response")));
  const tbs = children(expect(children(basic)[0], Tag.SEQUENCE, "tbsResponseData"));
  let index = tbs[0].tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  index += 1; // responderID
  const producedAt = readTime(expect(tbs[index], Tag.GENERALIZED_TIME, "producedAt"));
  const single = children(expect(children(expect(tbs[index + 1], Tag.SEQUENCE, "responses"))[0],
    Tag.SEQUENCE, "SingleResponse"));
  const certId = children(expect(single[0], Tag.SEQUENCE, "CertID"));
  const statusTag = single[1].tag;
  const certStatus = statusTag === 0x80 ? "good" : statusTag === 0xa1 ? "revoked" : "unknown";
  const thisUpdate = readTime(expect(single[2], Tag.GENERALIZED_TIME, "thisUpdate"));
  const nextUpdate =
    single[3] && single[3].tag === 0xa0 ? readTime(children(single[3])[0]) : null;
  return { certStatus, serial: integerHex(certId[3]), producedAt, thisUpdate, nextUpdate };
}
