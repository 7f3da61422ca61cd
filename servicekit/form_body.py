"""Reading HTML form bodies (``request.post()``) with the project's error codes.

aiohttp's form parser raises ``ValueError`` on a malformed body (``multipart/form-data``
without a boundary, a part without a name) and ``LookupError`` on an unknown charset;
unhandled, both would be ``internal_error`` (HTTP 500). Here they are the client's fault:
``request_malformed``. Oversized bodies stay ``payload_too_large`` (the application's
``client_max_size``, raised by aiohttp as HTTP 413).
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from servicekit.errors import BadRequest

__all__ = ["read_form"]


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form fields (empty for a body that is not a form).

    Raises:
        BadRequest: ``request_malformed``.
        web.HTTPRequestEntityTooLarge: rendered as ``payload_too_large``.
    """
    try:
        return await request.post()
    except (ValueError, LookupError) as exc:
        raise BadRequest("the form body cannot be read") from exc
