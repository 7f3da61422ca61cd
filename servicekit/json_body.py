"""Reading JSON request bodies strictly (size, content type, depth, duplicate names)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from certs.wire import load_json_object
from servicekit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["MAX_BODY_BYTES", "read_json_object", "require_str"]

MAX_BODY_BYTES = 64 * 1024


async def read_json_object(request: web.Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        UnsupportedMediaType: ``unsupported_media_type``.
        PayloadTooLarge: ``payload_too_large``.
        BadRequest: ``request_malformed``.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge()
    # read() returns what has arrived so far; a body may come in several pieces.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(max_bytes + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge()
    body = b"".join(chunks)
    return load_json_object(body, error=BadRequest, what="the request body")


def require_str(data: dict[str, Any], name: str, *, max_length: int = 256) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise BadRequest(
            f"field {name} must be a non-empty string of at most {max_length} characters"
        )
    return value
