"""Reading request bodies completely, with a size bound.

``servicekit.json_body.read_json_object`` reads with a single ``content.read(n)``, which
returns as soon as *some* bytes have arrived: a body that reaches the server in more than one
chunk is cut short and rejected as malformed JSON. Until that is fixed there, the issuer reads
bodies here, looping until end of stream (same checks, same error codes).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from certs.wire import load_json_object
from servicekit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from servicekit.json_body import MAX_BODY_BYTES

__all__ = ["read_body", "read_json_object"]


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, at most ``max_bytes``.

    Raises:
        PayloadTooLarge: ``payload_too_large``.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge()
    body = bytearray()
    while chunk := await request.content.read(max_bytes + 1 - len(body)):
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge()
    return bytes(body)


async def read_json_object(request: web.Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as one strict JSON object (:func:`certs.wire.load_json_object`).

    Raises:
        UnsupportedMediaType: ``unsupported_media_type``.
        PayloadTooLarge: ``payload_too_large``.
        BadRequest: ``request_malformed``.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    body = await read_body(request, max_bytes)
    return load_json_object(body, error=BadRequest, what="the request body")
