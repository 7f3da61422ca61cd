"""RFC 8785 JSON Canonicalization Scheme: identical bytes in Python and JavaScript.

The Service Worker's ``service_worker/static/jcs.js`` implements the same scheme; a test
runs both on the same tricky inputs and compares the bytes.

Most values cardcert canonicalises (transactions, proofs of possession, evidence documents,
checkout requests) hold only strings, booleans, null, small integers and ASCII keys. For
those, ``json.dumps`` with sorted keys and no ASCII escaping writes exactly the RFC 8785
bytes (section 3.2.2.2: the same escapes as ECMAScript's ``JSON.stringify``; 3.2.3: ASCII
keys sort the same by code point as by UTF-16 code unit; 3.2.2.3: an integer of at most
2**53 - 1 is written in plain decimal), at a third of the cost of the general serialiser,
which every other value (floats, non-ASCII keys, large integers) still goes through.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["canonical_json"]

_MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785 3.2.2.3 via I-JSON (RFC 7493 2.2)
_PLAIN_SCALARS = (str, bool, type(None))
# json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) is
# JSONEncoder(those options).encode(value): the encoder is built once instead of per call.
_SORTED_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> bool:
    """Whether ``value`` is made only of what the fast serialiser writes as RFC 8785 does.

    Exact types only: a subclass (an ``OrderedDict``, an ``IntEnum``) takes the general path.
    Iterative, and scalars inside containers are checked in place: an evidence document is
    a few hundred values.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            for key, member in item.items():
                if type(key) is not str or not key.isascii():
                    return False
                if type(member) not in _PLAIN_SCALARS:
                    pending.append(member)
        elif kind is list:
            pending.extend(member for member in item if type(member) not in _PLAIN_SCALARS)
        elif kind is int:
            if not -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                return False
        elif kind not in _PLAIN_SCALARS:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value (objects, arrays, strings, numbers, bools).

    Raises:
        ValueError: the value is not I-JSON (a lone surrogate, a non-finite or out-of-range
            number, a type JSON does not have).
    """
    if _plain(value):
        text = _SORTED_COMPACT.encode(value)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate (RFC 8785 3.2.2.2, RFC 7493 2.1)
            raise ValueError("input contains non-UTF-8 codepoints") from exc
    return bytes(rfc8785.dumps(value))
