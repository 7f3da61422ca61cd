"""Back-office API (bearer API key): cards, activation codes, credentials, revocation.

Each handler authenticates, parses, calls one function of :mod:`issuer.cards` or
:mod:`issuer.revocation`, and renders with :mod:`issuer.wire_format`. Bodies are never logged.
"""

from __future__ import annotations

from aiohttp import web

from issuer.api_keys import authenticate
from issuer.app_keys import CLOCK, RESOURCES
from issuer.cards import issue_activation_code, register_card
from issuer.request_body import read_json_object
from issuer.revocation import card_credentials, revoke_card, revoke_credential
from issuer.wire_format import (
    card_credentials_json,
    credential_json,
    issued_code_json,
    parse_card,
    parse_revocation_reason,
)

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.post("/v1/cards")
async def post_card(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    actor = await authenticate(res, request)
    card = parse_card(await read_json_object(request))
    issued = await register_card(res, card, actor=actor, now=request.app[CLOCK]())
    return web.json_response(issued_code_json(issued), status=201 if issued.card_created else 200)


@routes.post("/v1/cards/{card_id}/activation-codes")
async def post_activation_code(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    actor = await authenticate(res, request)
    issued = await issue_activation_code(
        res, request.match_info["card_id"], actor=actor, now=request.app[CLOCK]()
    )
    return web.json_response(issued_code_json(issued), status=201)


@routes.get("/v1/cards/{card_id}/credentials")
async def get_card_credentials(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    await authenticate(res, request)
    card, credentials = await card_credentials(res, request.match_info["card_id"])
    return web.json_response(card_credentials_json(card, credentials))


@routes.post("/v1/credentials/{credential_id}/revoke")
async def post_credential_revoke(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    actor = await authenticate(res, request)
    reason = parse_revocation_reason(await read_json_object(request))
    credential = await revoke_credential(
        res, request.match_info["credential_id"], reason, actor=actor, now=request.app[CLOCK]()
    )
    return web.json_response(credential_json(credential))


@routes.post("/v1/cards/{card_id}/revoke")
async def post_card_revoke(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    actor = await authenticate(res, request)
    reason = parse_revocation_reason(await read_json_object(request))
    now = request.app[CLOCK]()
    card, count = await revoke_card(
        res, request.match_info["card_id"], reason, actor=actor, now=now
    )
    _, credentials = await card_credentials(res, card.id)
    document = card_credentials_json(card, credentials)
    document["revokedCertificates"] = count
    return web.json_response(document)
