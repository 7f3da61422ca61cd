"""Middlewares shared by both services: JSON errors, security headers, latency metrics.

Error bodies are ``{"error": {"code": ..., "message": ...}}`` with the error's stable code.
Unexpected exceptions are logged with the route only (never the body) and answered with
``internal_error``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from certs.errors import CardcertError
from servicekit.errors import (
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)
from servicekit.metrics import Registry

__all__ = ["error_response", "make_error_middleware", "make_metrics_middleware", "security_headers"]

log = logging.getLogger("cardcert.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
}
_DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def error_response(error: CardcertError) -> web.Response:
    response = web.json_response({"error": error.to_dict()}, status=error.http_status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _from_http_exception(exc: web.HTTPException) -> CardcertError:
    if exc.status == 404:
        return NotFound()
    if exc.status == 405:
        return MethodNotAllowed()
    if exc.status == 413:
        return PayloadTooLarge()
    return BadRequest(exc.reason)


def make_error_middleware(
    component: str,
) -> Middleware:
    @web.middleware
    async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except CardcertError as error:
            return error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error_response(_from_http_exception(exc))
        except Exception:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            log.exception("%s: unhandled error on %s %s", component, request.method, name)
            return error_response(InternalError())

    return error_middleware


def make_metrics_middleware(
    registry: Registry, *, access_log: logging.Logger | None = None
) -> Middleware:
    """Request latency into ``registry``; with ``access_log``, one INFO line per request:
    method, route template (``/status/{fingerprint}``, never the path), status, latency.
    Never bodies, query strings or path parameters."""

    @web.middleware
    async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
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
            elapsed = time.perf_counter() - started
            registry.request_latency.observe(elapsed, route, request.method, str(status))
            if access_log is not None:
                access_log.info("%s %s %d %.1fms", request.method, route, status, elapsed * 1000)

    return metrics_middleware


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response; HTML gets a strict CSP unless the handler set one."""
    response = await handler(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
    return response
