"""The issuer web application: ``create_app(settings)``; no argv, no environment.

Middlewares (outermost first): request log, latency metrics, security headers, JSON
errors. ``cleanup_ctx`` opens the resources (keys, engine, schema) and starts the sweeper;
its clean-up disposes of both. Routes are registered by the API modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from issuer import backoffice_api, cardholder_api, metadata_api, status_api
from issuer.app_keys import (
    CLOCK,
    CRL_CACHE,
    METRICS,
    REQUEST_LIMITER,
    RESOURCES,
    SETTINGS,
    STATUS_CACHE,
)
from issuer.browser_pages import add_browser_routes
from issuer.client_limits import make_request_limiter
from issuer.clock import Clock, system_clock
from issuer.metrics import IssuerMetrics
from issuer.resources import open_resources
from issuer.settings import IssuerSettings
from issuer.status_cache import CachedCrl, StatusCache
from issuer.sweeper import run_sweeper
from servicekit.json_body import MAX_BODY_BYTES
from servicekit.middleware import make_error_middleware, make_metrics_middleware, security_headers

__all__ = ["create_app"]


async def _resources_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open keys, engine and schema for this process; close them on shutdown."""
    clock = app[CLOCK]
    async with open_resources(app[SETTINGS], now=clock(), metrics=app[METRICS]) as res:
        app[RESOURCES] = res
        sweeper = asyncio.create_task(run_sweeper(res, clock), name="issuer-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper


def create_app(settings: IssuerSettings, *, clock: Clock | None = None) -> web.Application:
    """Build the issuer application for ``settings`` (``clock`` is for tests)."""
    metrics = IssuerMetrics()
    app = web.Application(
        middlewares=[
            make_metrics_middleware(
                metrics.registry, access_log=logging.getLogger("cardcert.issuer.access")
            ),
            security_headers,
            make_error_middleware("issuer"),
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or system_clock
    app[METRICS] = metrics
    app[STATUS_CACHE] = StatusCache(ttl=settings.status_cache_ttl)
    app[CRL_CACHE] = CachedCrl()
    app[REQUEST_LIMITER] = make_request_limiter(
        per_minute=settings.enroll_rate_per_minute, burst=settings.enroll_burst
    )
    app.cleanup_ctx.append(_resources_ctx)
    for module in (metadata_api, backoffice_api, cardholder_api, status_api):
        app.router.add_routes(module.routes)
    add_browser_routes(app)
    return app
