"""certs.canonical_json writes exactly rfc8785's bytes, and refuses what it refuses.

canonical_json takes a fast path (``json.dumps``) for plain values and the rfc8785
package for the rest; the reference here is always ``rfc8785.dumps`` itself.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.canonical_json import canonical_json

_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")
_SAFE = 2**53 - 1

# Every code point, lone surrogates included; control characters and the characters
# JSON.stringify treats specially are drawn often.
_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029\ud800\udfff😀é'),
    ),
    max_size=12,
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-_SAFE, _SAFE),
    st.integers(-(2**64), 2**64),
    st.sampled_from([_SAFE, -_SAFE, _SAFE + 1, -_SAFE - 1, 0]),
    st.floats(),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_TEXT, st.text(max_size=4)), children, max_size=4),
    ),
    max_leaves=12,
)


def _outcome(serialise: Any, value: Any) -> bytes | type[Exception]:
    try:
        return bytes(serialise(value))
    except ValueError:
        return ValueError


@settings(
    max_examples=int(_EXPLORE) if _EXPLORE else 1500,
    deadline=None,
    derandomize=_EXPLORE is None,
    database=None,
)
@given(value=_VALUES)
def test_same_bytes_or_same_refusal_as_rfc8785(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"], "c": {"z": "Café ☕ 😀", "y": -_SAFE}},
        {"control": '\u0001\n\t"\\\b\f\r\x1f\x7f', "line": "\u2028\u2029", "e": {}, "l": []},
        {"float": 1.5, "exp": 1e21, "tiny": 5e-324},
        {"é": "non-ASCII key", "😀": 1, "\uff61": 2},  # UTF-16 order differs from code points
        {"edge": _SAFE, "low": -_SAFE},
        OrderedDict([("b", 1), ("a", 2)]),
    ],
    ids=["nested", "escapes", "floats", "non_ascii_keys", "safe_edges", "dict_subclass"],
)
def test_tricky_values_match_rfc8785(value: Any) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


@pytest.mark.parametrize(
    "value",
    [
        {"big": _SAFE + 1},
        {"big": -(2**60)},
        {"nan": float("nan")},
        {"inf": float("inf")},
        {"lone": "\ud800"},
        {"\udc00": "lone surrogate key"},
        ["\udfff"],
    ],
    ids=["above_safe", "far_below_safe", "nan", "infinity", "lone_value", "lone_key", "in_list"],
)
def test_refuses_what_is_not_i_json(value: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        canonical_json(value)
    with pytest.raises(ValueError, match=r"."):
        rfc8785.dumps(value)
