"""Wire format: base64url bytes and strict JSON, converted in one place.

Bytes travel as unpadded base64url (RFC 4648 section 5). JSON objects are read strictly:
duplicate member names, NaN/Infinity, nesting beyond a small depth and non-object roots are
rejected, since two parsers that disagree on such input would let a signed text mean two
things (RFC 8785 section 3.1, RFC 7493 I-JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

__all__ = ["b64url_decode", "b64url_encode", "load_json_object"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, *, error: type[Exception], what: str) -> bytes:
    """Decode unpadded base64url strictly; raise ``error`` naming ``what`` otherwise."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise error(f"{what} is not unpadded base64url")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not unpadded base64url") from exc
    # Reject non-canonical encodings (stray low bits in the last character).
    if b64url_encode(decoded) != text:
        raise error(f"{what} is not canonical base64url")
    return decoded


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member name")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # A literal beyond the double range (1e400) would read as Infinity (RFC 7493 2.2).
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _container_depth(value: Any, limit: int) -> int:
    """Nesting depth of objects and arrays (a flat object is 1); stops early past ``limit``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json_object(
    data: bytes | str, *, error: type[Exception], what: str, max_depth: int = MAX_JSON_DEPTH
) -> dict[str, Any]:
    """Parse ``data`` as one strict JSON object; raise ``error`` otherwise."""
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_JSON_BYTES:
            raise error(f"{what} is too large")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8") from exc
    elif isinstance(data, str):
        text = data
    else:
        raise error(f"{what} is not JSON")
    if len(text) > MAX_JSON_BYTES:
        raise error(f"{what} is too large")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    if _container_depth(value, max_depth) > max_depth:
        raise error(f"{what} is nested too deeply")
    return value
