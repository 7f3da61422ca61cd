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
from typing import Any

__all__ = ["b64url_decode", "b64url_encode", "load_json_object"]

_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# RFC 4648 3.5: a canonical encoding has the pad bits of its last character zero. A final
# group of 2 characters (12 bits) carries 1 byte, 3 characters (18 bits) carry 2 bytes.
_PAD_BITS = {0: 0, 2: 0x0F, 3: 0x03}
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, *, error: type[Exception], what: str) -> bytes:
    """Decode unpadded base64url strictly; raise ``error`` naming ``what`` otherwise."""
    if not isinstance(text, str) or not text.isascii() or len(text) % 4 == 1:
        raise error(f"{what} is not unpadded base64url")
    data = text.encode("ascii")
    if data.translate(None, _B64URL_ALPHABET):  # a character outside RFC 4648 table 2
        raise error(f"{what} is not unpadded base64url")
    # Reject non-canonical encodings (stray low bits in the last character): the same
    # verdict as re-encoding and comparing, without the second pass over the text.
    if data and _B64URL_ALPHABET.index(data[-1]) & _PAD_BITS[len(data) % 4]:
        raise error(f"{what} is not canonical base64url")
    # Only alphabet characters, correctly padded: what urlsafe_b64decode would decode.
    return binascii.a2b_base64(data.translate(_TO_STANDARD) + b"=" * (-len(data) % 4))


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


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` deep (a flat object is 1 deep).

    Level by level, looking only at containers: scalars (most of a document) are passed
    over in one comprehension per container.
    """
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            members = item.values() if isinstance(item, dict) else item
            below += [member for member in members if isinstance(member, dict | list)]
        level = below
    return False


# Built once: the hooks are fixed, and a decoder keeps no state between documents.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates,
    parse_constant=_reject_constant,
    parse_float=_finite_float,
)


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
    # json.loads(text, **hooks) is this check and a new JSONDecoder(**hooks).decode(text).
    if text.startswith("\ufeff"):
        raise error(f"{what} is not valid JSON")
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    if _nested_deeper_than(value, max_depth):
        raise error(f"{what} is nested too deeply")
    return value
