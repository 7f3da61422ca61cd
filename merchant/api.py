"""JSON API handlers (docs/interfaces.md, section 6): parse, load, call, answer.

Authentication is ``Authorization: Bearer <merchant API key>``; keys are looked up by their
SHA-256 hash. On the verify endpoint the key check and the checkout load are one query.
Verification failures are verdicts (HTTP 200, ``verdict.code``); refusals of the request
itself are JSON errors with stable codes (servicekit.middleware).
"""

from __future__ import annotations

import re

from aiohttp import web

from merchant.app_keys import CHECKOUT_LIMITER, CHECKOUTS, CLOCK, METRICS, STORE
from merchant.checkouts import parse_card_data
from merchant.client import client_of
from merchant.openapi import openapi_document
from merchant.store import CheckoutView, MerchantView
from merchant.version import __version__
from servicekit.api_keys import bearer_token, hash_api_key
from servicekit.errors import NotFound, ServiceUnavailable, Unauthorized
from servicekit.json_body import read_json_object

__all__ = ["routes"]

routes = web.RouteTableDef()
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


async def _merchant(request: web.Request) -> MerchantView:
    merchant = await request.app[STORE].merchant_for_key(hash_api_key(bearer_token(request)))
    if merchant is None:
        raise Unauthorized()
    return merchant


async def _checkout(request: web.Request, token: str) -> CheckoutView:
    """Authenticate (``token``: the request's bearer token) and load the checkout in one
    round trip (the peek)."""
    key_hash = hash_api_key(token)
    checkout_id = request.match_info["checkout_id"]
    if not _ID.fullmatch(checkout_id):
        raise NotFound()
    checkout, key_valid = await request.app[STORE].checkout_for_key(checkout_id, key_hash)
    if not key_valid:
        raise Unauthorized()
    if checkout is None:
        raise NotFound()
    return checkout


@routes.get("/health", name="health")
async def health(request: web.Request) -> web.Response:
    try:
        await request.app[STORE].ping()
    except Exception as exc:  # any database failure means "not healthy"
        raise ServiceUnavailable("the database is unavailable") from exc
    return web.json_response({"status": "ok", "version": __version__})


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8"
    )


@routes.get("/openapi.json", name="openapi")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


@routes.post("/v1/checkouts", name="create_checkout")
async def create_checkout(request: web.Request) -> web.Response:
    # Rate limited per client address (before the key lookup) and per merchant API key.
    limiter = request.app[CHECKOUT_LIMITER]
    limiter.check("client:" + client_of(request))
    merchant = await _merchant(request)
    limiter.check("merchant:" + merchant.id)
    body = await read_json_object(request)
    status, response, replayed = await request.app[CHECKOUTS].create_from_body(
        merchant, body, idempotency_key=request.headers.get("Idempotency-Key")
    )
    headers = {"Location": f"/v1/checkouts/{response['checkoutId']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(response, status=status, headers=headers)


@routes.get("/v1/checkouts/{checkout_id}", name="get_checkout")
async def get_checkout(request: web.Request) -> web.Response:
    checkout = await _checkout(request, bearer_token(request))
    service = request.app[CHECKOUTS]
    if checkout.current_state(request.app[CLOCK]()) != checkout.state:
        await service.expire_one(checkout, request.app[CLOCK]())
    return web.json_response(service.describe(checkout))


@routes.post("/v1/checkouts/{checkout_id}/verify", name="verify_checkout")
async def verify_checkout(request: web.Request) -> web.Response:
    token = bearer_token(request)  # fail fast without a key, before reading the body
    body = await read_json_object(request)
    checkout = await _checkout(request, token)
    card_data = parse_card_data(body["cardData"]) if body.get("cardData") is not None else None
    service = request.app[CHECKOUTS]
    outcome = await service.verify(checkout, body.get("presentation"), card_data)
    return web.json_response(await service.describe_outcome(checkout, outcome))


@routes.get("/v1/evidence/{evidence_id}", name="get_evidence")
async def get_evidence(request: web.Request) -> web.Response:
    merchant = await _merchant(request)
    evidence_id = request.match_info["evidence_id"]
    document = (
        await request.app[STORE].evidence(evidence_id, merchant.id)
        if _ID.fullmatch(evidence_id)
        else None
    )
    if document is None:
        raise NotFound()
    # Served exactly as stored (never re-serialised), so it can be re-verified as exported.
    return web.Response(
        text=document,
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{evidence_id}.json"'},
    )
