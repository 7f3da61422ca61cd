"""Metadata and operations endpoints: issuer metadata, health, metrics, OpenAPI."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from issuer.app_keys import METRICS, RESOURCES, SETTINGS
from issuer.openapi import openapi_document
from issuer.resources import IssuerResources
from servicekit.errors import ServiceUnavailable

__all__ = ["issuer_metadata", "routes"]

routes = web.RouteTableDef()


def issuer_metadata(res: IssuerResources) -> dict[str, Any]:
    """``/.well-known/cardcert-issuer`` (docs/interfaces.md section 1)."""
    settings = res.settings
    metadata: dict[str, Any] = {
        "version": 1,
        "issuerName": settings.issuer_name,
        "issuerOrigin": settings.public_origin,
        "caCertificate": res.pki.issuer_ca_pem,
        "binPrefixes": list(settings.bin_prefixes),
        "payUrl": settings.url("/pay"),
        "enrollUrl": settings.url("/enroll"),
        "ocspUrl": settings.ocsp_url,
        "crlUrl": settings.crl_url,
        "statusUrl": settings.url("/status/{fingerprint}"),
        "serviceWorker": {"url": settings.url("/sw.js"), "scope": "/pay"},
        "statusFreshnessSeconds": int(settings.status_freshness.total_seconds()),
    }
    if settings.frictionless_limits:
        # The Service Worker's frictionless policy (docs/browser.md): per-currency ceiling.
        metadata["frictionless"] = dict(settings.frictionless_limits)
    return metadata


@routes.get("/.well-known/cardcert-issuer")
async def get_metadata(request: web.Request) -> web.Response:
    return web.json_response(
        issuer_metadata(request.app[RESOURCES]),
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@routes.get("/health")
async def get_health(request: web.Request) -> web.Response:
    res = request.app[RESOURCES]
    try:
        async with res.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailable("the database is unavailable") from exc
    return web.json_response({"status": "ok", "issuerName": res.settings.issuer_name})


@routes.get("/metrics")
async def get_metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render().encode("utf-8"),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


@routes.get("/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[SETTINGS]))
