"""Cardholder API (docs/interfaces.md section 2): challenges, enrollment, renewal.

Called by the browser on the issuer origin. Every request is counted against the client's
request rate; every refused enrollment against its failure budget (:mod:`issuer.client_limits`).
Responses carry ``Cache-Control: no-store``: they hold fresh certificates and challenges.
"""

from __future__ import annotations

from aiohttp import web

from certs.errors import CardcertError
from issuer.app_keys import CLOCK, REQUEST_LIMITER, RESOURCES, STATUS_CACHE
from issuer.challenges import create_challenge
from issuer.client_limits import enforce_failure_budget, record_failure
from issuer.enrollment import IssuedCredential, enroll
from issuer.renewal import renew
from issuer.request_body import read_json_object
from issuer.status_responses import signed_status, state_of
from issuer.wire_format import issued_credential_json, parse_enrollment, parse_renewal, rfc3339
from servicekit.client_address import client_address
from servicekit.errors import RateLimited

__all__ = ["routes"]

routes = web.RouteTableDef()
_NO_STORE = {"Cache-Control": "no-store"}


def _client(request: web.Request) -> str:
    res = request.app[RESOURCES]
    client = client_address(request, trust_forwarded_for=res.settings.trust_forwarded_for)
    request.app[REQUEST_LIMITER].check(client)
    return client


@routes.post("/v1/enrollment/challenge")
async def post_challenge(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    _client(request)
    await read_json_object(request)
    async with res.sql.write() as conn:
        challenge, expires_at = await create_challenge(
            conn, now=request.app[CLOCK](), ttl=res.settings.challenge_ttl
        )
    return web.json_response(
        {"challenge": challenge, "expiresAt": rfc3339(expires_at)}, headers=_NO_STORE
    )


def _credential_response(request: web.Request, issued: IssuedCredential) -> web.Response:
    res = request.app[RESOURCES]
    status = signed_status(
        res,
        request.app[STATUS_CACHE],
        serial_number=int(issued.certificate.serial, 16),
        state=state_of(issued.certificate),
        now=request.app[CLOCK](),
    )
    body = issued_credential_json(
        issued,
        issuer_ca_der=res.pki.issuer_ca_der,
        issuer_name=res.settings.issuer_name,
        status=status,
    )
    return web.json_response(body, status=201 if issued.created else 200, headers=_NO_STORE)


@routes.post("/v1/enrollment")
async def post_enrollment(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    now = request.app[CLOCK]()
    try:
        client = _client(request)
        await enforce_failure_budget(res, client, now=now)
    except RateLimited as limited:
        res.metrics.enrollment_failures.inc(limited.code)  # counted, not recorded
        raise
    try:
        enrollment = parse_enrollment(await read_json_object(request))
        issued = await enroll(res, enrollment, now=now)
    except CardcertError as error:
        # Only a refusal for cause counts against the client; the database being
        # unavailable (503) is the server's trouble, and writing the row would wait for it.
        if error.http_status < 500:
            await record_failure(res, client, error.code, now=now)
        raise
    return _credential_response(request, issued)


@routes.post("/v1/credentials/renew")
async def post_renewal(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    _client(request)
    try:
        renewal = parse_renewal(await read_json_object(request))
        issued = await renew(res, renewal, now=request.app[CLOCK]())
    except CardcertError as error:
        res.metrics.renewal_failures.inc(error.code)
        raise
    return _credential_response(request, issued)
