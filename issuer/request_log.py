"""One log line per request: method, route template, status, latency. Never bodies,
query strings or path parameters (the route template, e.g. ``/status/{fingerprint}``,
is logged rather than the path)."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from servicekit.middleware import Handler

__all__ = ["request_log"]

log = logging.getLogger("cardcert.issuer.access")


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        log.info(
            "%s %s %d %.1fms",
            request.method,
            route,
            status,
            (time.perf_counter() - started) * 1000,
        )
