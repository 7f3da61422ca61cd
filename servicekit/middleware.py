"""Middlewares shared by both services: JSON errors, security headers, latency metrics.

Error bodies are ``{"error": {"code": ..., "message": ...}}`` with the error's stable code.
Unexpected exceptions are logged with the route only (never the body) and answered with
``internal_error``. A database that cannot be reached (refused or dropped connection, a
server restarting, a busy SQLite file, an exhausted pool) is an outage of a dependency,
not a bug: it is answered 503 ``service_unavailable`` so clients retry (tests/hardening/
test_faults_database.py restarts PostgreSQL under a serving merchant).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy import exc as sa_exc

from certs.errors import CardcertError
from servicekit.errors import (
    BadRequest,
    DatabaseBusy,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
)
from servicekit.metrics import Registry

__all__ = ["error_response", "make_error_middleware", "make_metrics_middleware", "security_headers"]

log = logging.getLogger("cardcert.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The database (or the network to it) is down, restarting or saturated. OSError covers a
# refused or reset connection that the driver raises before SQLAlchemy can wrap it.
_DATABASE_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    sqlite3.OperationalError,
    DatabaseBusy,
    OSError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database (or the way to it) is unavailable right now."""
    if isinstance(exc, _DATABASE_UNAVAILABLE):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
}
_SCRIPT_TYPES = frozenset({"text/javascript", "application/javascript"})
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
            response = error_response(_from_http_exception(exc))
            # RFC 9110 section 15.5.6: a 405 MUST list the allowed methods in Allow.
            if (allow := exc.headers.get("Allow")) is not None:
                response.headers["Allow"] = allow
            return response
        except Exception as exc:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            if database_unavailable(exc):
                # The exception's type only: its message may quote a statement.
                log.warning(
                    "%s: database unavailable on %s %s (%s)",
                    component,
                    request.method,
                    name,
                    type(exc).__name__,
                )
                return error_response(ServiceUnavailable("the database is unavailable"))
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
    """Security headers on every response, and a strict CSP unless the handler set one.

    The CSP goes on everything but JavaScript: HTML pages above all, but also SVG (which
    can run scripts) and file responses, whose Content-Type ``web.FileResponse`` only
    decides when it is sent, after this middleware (an HTML file from a static route would
    otherwise escape). Not on JavaScript: a CSP on a worker script would govern the
    worker's own requests (docs/browser.md). On other non-HTML answers it is inert.
    """
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects raised by handlers pass through here
        _add_security_headers(exc.headers, exc.content_type)
        raise
    _add_security_headers(response.headers, response.content_type)
    return response


def _add_security_headers(headers: MutableMapping[str, str], content_type: str) -> None:
    for name, value in _SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if content_type not in _SCRIPT_TYPES:
        headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
