"""The browser side of the issuer origin: Service Worker script, enrollment and pay pages.

The files are written by the Service Worker engineer in ``service_worker/`` (setting
``ISSUER_SERVICE_WORKER_DIR``): ``sw.js`` at ``/sw.js``, ``enroll.html`` at ``/enroll``,
``pay.html`` at ``/pay`` and ``static/`` at ``/static/``. Each file is looked up per request,
so dropping it in place is enough; until it exists, ``/enroll`` and ``/pay`` answer with
the placeholder page below and ``/sw.js`` with ``not_found``.

How they are served follows docs/browser.md ("What the issuer must serve"):

* ``/sw.js``: ``text/javascript``, ``no-cache`` and no CSP header (a CSP on the worker
  script would govern the worker's own ``fetch()`` calls);
* ``/enroll`` and ``/pay``: the strict same-origin CSP of ``servicekit.middleware`` and
  ``Cross-Origin-Opener-Policy: unsafe-none``, so a checkout popup that reaches the fallback
  page keeps its opener;
* ``POST /pay`` (a form with field ``request``, reached only when no worker is installed):
  ``303`` to ``/pay?request=<unpadded base64url of the field>``, where the fallback page
  reads it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web

from certs.wire import b64url_encode
from issuer.app_keys import SETTINGS
from issuer.settings import IssuerSettings
from servicekit.errors import NotFound, PayloadTooLarge
from servicekit.form_body import read_form
from servicekit.middleware import Handler

__all__ = ["PLACEHOLDER_FILES", "STATIC_TYPES", "add_browser_routes", "placeholder_page"]

PLACEHOLDER_FILES = {"/enroll": "enroll.html", "/pay": "pay.html"}
_NO_CACHE = {"Cache-Control": "no-cache"}
_PAGE_HEADERS = {**_NO_CACHE, "Cross-Origin-Opener-Policy": "unsafe-none"}
_MAX_REQUEST_FIELD = 16 * 1024
# Explicit types, independent of the host's mime.types (module scripts need a JavaScript
# type, the manifest its own). Files of other types are not served.
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


def placeholder_page(issuer_name: str, what: str) -> str:
    """A minimal page saying the browser flow is not available yet."""
    name = escape(issuer_name)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{name}: {escape(what)}</title></head>\n<body><h1>{name}</h1>"
        f"<p>The browser {escape(what)} flow is not yet available.</p></body></html>\n"
    )


def _file(settings: IssuerSettings, name: str) -> Path | None:
    path = settings.service_worker_dir / name
    return path if path.is_file() else None


async def _service_worker(request: web.Request) -> web.StreamResponse:
    path = _file(request.app[SETTINGS], "sw.js")
    if path is None:
        raise NotFound("the Service Worker is not installed on this issuer")
    return web.FileResponse(
        path,
        headers={**_NO_CACHE, "Content-Type": "text/javascript; charset=utf-8"},
    )


def _page(route: str, what: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        path = _file(settings, PLACEHOLDER_FILES[route])
        if path is not None:
            # The type is set here, not guessed at send time, so that the security-headers
            # middleware sees text/html and adds its CSP.
            return web.FileResponse(
                path, headers={**_PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8"}
            )
        return web.Response(
            text=placeholder_page(settings.issuer_name, what),
            content_type="text/html",
            headers=_PAGE_HEADERS,
        )

    return handler


async def _posted_pay(request: web.Request) -> web.StreamResponse:
    """A form POST to /pay without a worker: redirect to the GET form the fallback reads."""
    form = await read_form(request)
    field = form.get("request")
    if not isinstance(field, str) or not field:
        raise web.HTTPSeeOther("/pay")
    encoded = field.encode("utf-8")
    if len(encoded) > _MAX_REQUEST_FIELD:
        raise PayloadTooLarge()
    raise web.HTTPSeeOther(f"/pay?request={b64url_encode(encoded)}")


async def _static(request: web.Request) -> web.StreamResponse:
    root = (request.app[SETTINGS].service_worker_dir / "static").resolve()
    path = (root / request.match_info["path"]).resolve()
    content_type = STATIC_TYPES.get(path.suffix)
    # resolve() follows symbolic links, so a link out of static/ is refused like "..".
    if content_type is None or not path.is_relative_to(root) or not path.is_file():
        raise NotFound()
    return web.FileResponse(path, headers={**_NO_CACHE, "Content-Type": content_type})


def add_browser_routes(app: web.Application) -> None:
    """Register ``/sw.js``, ``/enroll``, ``/pay`` (GET and POST) and ``/static/{path}``."""
    app.router.add_get("/sw.js", _service_worker)
    enroll = _page("/enroll", "enrollment")
    pay = _page("/pay", "payment")
    app.router.add_get("/enroll", enroll)
    app.router.add_get("/pay", pay)
    app.router.add_post("/pay", _posted_pay)
    app.router.add_get("/static/{path:.+}", _static)
