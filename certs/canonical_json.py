"""RFC 8785 JSON Canonicalization Scheme: identical bytes in Python and JavaScript.

The Service Worker's ``service_worker/static/jcs.js`` implements the same scheme; a test
runs both on the same tricky inputs and compares the bytes.
"""

from __future__ import annotations

from typing import Any

import rfc8785

__all__ = ["canonical_json"]


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value (objects, arrays, strings, numbers, bools)."""
    return bytes(rfc8785.dumps(value))
