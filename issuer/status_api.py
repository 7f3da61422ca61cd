"""Revocation status endpoints: OCSP (RFC 6960), the stapling endpoint, and the CRL.

* ``POST /ocsp`` (body ``application/ocsp-request``) and ``GET /ocsp/{base64 request}``
  (RFC 6960 appendix A.1: base64 of the DER, URL-encoded; base64url is accepted too);
* ``GET /status/{fingerprint}``: the current response for a card certificate, for the
  Service Worker to staple (docs/interfaces.md section 3);
* ``GET /crl``: the DER CRL (``application/pkix-crl``).

OCSP errors are OCSP responses (``malformedRequest``, ``unauthorized``, ``tryLater`` while
the database is unavailable), not JSON, since OCSP clients parse the body as an OCSP
response whatever the HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

from aiohttp import web
from cryptography.x509 import ocsp

from issuer.app_keys import CLOCK, CRL_CACHE, RESOURCES, STATUS_CACHE
from issuer.errors import CredentialUnknown
from issuer.ocsp_responder import OcspRequestRejected
from issuer.request_body import read_body
from issuer.status_responses import (
    current_crl,
    signed_status,
    state_of_fingerprint,
    state_of_serial,
)
from servicekit.errors import PayloadTooLarge
from servicekit.middleware import database_unavailable

__all__ = ["OCSP_RESPONSE", "routes"]

routes = web.RouteTableDef()
OCSP_RESPONSE = "application/ocsp-response"
_MAX_REQUEST = 8 * 1024
_FINGERPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
_NO_CACHE = {"Cache-Control": "no-cache"}


def _ocsp(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=OCSP_RESPONSE, headers=_NO_CACHE)


async def _answer(request: web.Request, der: bytes) -> web.Response:
    res = request.app[RESOURCES]
    responder = res.responder
    try:
        query = responder.parse_request(der)
    except OcspRequestRejected as rejected:
        res.metrics.status_responses.inc("ocsp", rejected.status.name.lower())
        return _ocsp(responder.unsuccessful(rejected.status))
    if not responder.is_ours(query):
        res.metrics.status_responses.inc("ocsp", "unauthorized")
        return _ocsp(responder.unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED))
    try:
        state = await state_of_serial(res, query.serial_number)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # RFC 6960 2.3: "tryLater", an answer every OCSP client understands, rather than
        # the JSON 503 the other endpoints give while the database is away.
        res.metrics.status_responses.inc("ocsp", "try_later")
        return _ocsp(responder.unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER))
    body = signed_status(
        res,
        request.app[STATUS_CACHE],
        serial_number=query.serial_number,
        state=state,
        now=request.app[CLOCK](),
        algorithm=query.hash_algorithm,
        nonce=query.nonce,
    )
    res.metrics.status_responses.inc("ocsp", state.status.name.lower())
    return _ocsp(body)


@routes.post("/ocsp")
async def post_ocsp(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > _MAX_REQUEST:
        return _ocsp(
            request.app[RESOURCES].responder.unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        )
    try:
        body = await read_body(request, _MAX_REQUEST)  # a body that arrives in pieces, too
    except PayloadTooLarge:
        body = b""  # answered malformedRequest
    return await _answer(request, body)


# Any characters, newlines included: a GET that is not base64 is answered malformedRequest
# like every other bad OCSP request (RFC 6960 section 2.3), not with a JSON 404.
@routes.get(r"/ocsp/{request:[\s\S]+}")
async def get_ocsp(request: web.Request) -> web.Response:
    text = unquote(request.match_info["request"]).strip()
    text = text.replace("-", "+").replace("_", "/")
    try:
        der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        der = b""
    return await _answer(request, der[:_MAX_REQUEST])


@routes.get("/status/{fingerprint}")
async def get_status(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    fingerprint = request.match_info["fingerprint"]
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise CredentialUnknown()
    found = await state_of_fingerprint(res, fingerprint)
    if found is None:
        raise CredentialUnknown()
    serial_number, state = found
    body = signed_status(
        res,
        request.app[STATUS_CACHE],
        serial_number=serial_number,
        state=state,
        now=request.app[CLOCK](),
    )
    res.metrics.status_responses.inc("status", state.status.name.lower())
    return _ocsp(body)


@routes.get("/crl")
async def get_crl(request: web.Request) -> web.Response:
    der = await current_crl(
        request.app[RESOURCES], request.app[CRL_CACHE], now=request.app[CLOCK]()
    )
    return web.Response(body=der, content_type="application/pkix-crl", headers=_NO_CACHE)
