"""The wire helpers' fast paths give the verdicts of the straightforward code they replace.

The references below are the previous implementations, kept here verbatim: base64url
decoding by regular expression and re-encoding, JSON through ``json.loads`` with the hooks
and a full depth walk, the origin check without its cache, and a presentation's wire form
encoded from its bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.errors import MalformedPresentation
from certs.origin import is_serialised_origin, origin_of_url
from certs.presentation import PRESENTATION_VERSION, Presentation
from certs.wire import (
    _finite_float,
    _nested_deeper_than,
    _reject_constant,
    _reject_duplicates,
    b64url_decode,
    b64url_encode,
    load_json_object,
)

_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")
_SETTINGS = settings(
    max_examples=int(_EXPLORE) if _EXPLORE else 1000,
    deadline=None,
    derandomize=_EXPLORE is None,
    database=None,
)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _reference_b64url_decode(text: object, *, error: type[Exception], what: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise error(f"{what} is not unpadded base64url")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not unpadded base64url") from exc
    if b64url_encode(decoded) != text:
        raise error(f"{what} is not canonical base64url")
    return decoded


def _reference_depth(value: Any, limit: int) -> int:
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


def _reference_json_value(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=_reject_duplicates,
        parse_constant=_reject_constant,
        parse_float=_finite_float,
    )


def _outcome(action: Any) -> Any:
    try:
        return ("ok", action())
    except Exception as error:  # the class and message are what must agree
        return (type(error), str(error))


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64ISH = st.one_of(
    st.text(st.sampled_from(_ALPHABET), max_size=16),  # canonical or stray low bits
    st.text(st.sampled_from(_ALPHABET + "+/= \n\t.é\x00😀\ud800"), max_size=16),
    st.binary(max_size=16).map(b64url_encode),
    st.binary(max_size=16).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),  # padded
)


@_SETTINGS
@given(text=st.one_of(_BASE64ISH, st.none(), st.integers(), st.binary(max_size=4)))
def test_b64url_decode_matches_reference(text: object) -> None:
    assert _outcome(
        lambda: b64url_decode(text, error=MalformedPresentation, what="field")
    ) == _outcome(lambda: _reference_b64url_decode(text, error=MalformedPresentation, what="field"))


@pytest.mark.parametrize(
    "text",
    ["", "AA", "AB", "AQ", "AAA", "AAB", "AAE", "AAAA", "_w", "__8", "-_-_", "A", "AAAAA"],
)
def test_b64url_decode_tail_bits(text: str) -> None:
    assert _outcome(lambda: b64url_decode(text, error=ValueError, what="x")) == _outcome(
        lambda: _reference_b64url_decode(text, error=ValueError, what="x")
    )


_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=20,
)


@_SETTINGS
@given(value=_JSON_VALUES, limit=st.integers(0, 8))
def test_nesting_check_matches_reference(value: Any, limit: int) -> None:
    assert _nested_deeper_than(value, limit) == (_reference_depth(value, limit) > limit)


@_SETTINGS
@given(
    text=st.one_of(
        _JSON_VALUES.map(json.dumps),
        _JSON_VALUES.map(lambda value: "\ufeff" + json.dumps(value)),
        st.sampled_from(['{"a":1,"a":2}', '{"a":NaN}', '{"a":1e400}', "[]", '"x"', "{", "{}"]),
        st.text(max_size=12),
    ),
    max_depth=st.integers(0, 8),
)
def test_load_json_object_matches_reference(text: str, max_depth: int) -> None:
    def reference() -> dict[str, Any]:
        try:
            value = _reference_json_value(text)
        except (ValueError, RecursionError) as exc:
            raise MalformedPresentation("document is not valid JSON") from exc
        if not isinstance(value, dict):
            raise MalformedPresentation("document is not a JSON object")
        if _reference_depth(value, max_depth) > max_depth:
            raise MalformedPresentation("document is nested too deeply")
        return value

    actual = _outcome(
        lambda: load_json_object(
            text, error=MalformedPresentation, what="document", max_depth=max_depth
        )
    )
    assert actual == _outcome(reference)


@_SETTINGS
@given(
    text=st.one_of(
        st.sampled_from(
            [
                "https://shop.example",
                "https://Shop.example",
                "https://shop.example:443",
                "https://shop.example:8443",
                "http://localhost:8002",
                "http://shop.example",
                "https://shop.example/",
                "https://user@shop.example",
            ]
        ),
        st.text(max_size=24),
    )
)
def test_origin_check_matches_uncached(text: str) -> None:
    for _ in range(2):  # the second answer comes from the cache
        assert is_serialised_origin(text) == (origin_of_url(text) == text)


@pytest.fixture(scope="module")
def presentation() -> Presentation:
    now = datetime.now(UTC)
    pki = DevPki.create(now=now - timedelta(days=1))
    card = CardData.parse(pan="4111111111111111", expiry="12/40", security_code="737")
    credential = CardholderCredential.issue(
        pki, card, now=now, crl_url="http://i.localhost/crl", ocsp_url="http://i.localhost/ocsp"
    )
    staple = pki.good_status(
        credential.certificate, this_update=now, next_update=now + timedelta(days=1)
    )
    return credential.present(
        merchant_origin="https://shop.example",
        merchant_name="Shop",
        amount="12.30",
        currency="EUR",
        checkout_id="co_wire",
        nonce="B" * 43,
        signed_at=now,
        status=staple,
    )


def _encoded_wire_form(presentation: Presentation) -> dict[str, Any]:
    return {
        "version": PRESENTATION_VERSION,
        "transaction": b64url_encode(presentation.transaction.raw),
        "signature": b64url_encode(presentation.signature),
        "certificateChain": [b64url_encode(c) for c in presentation.certificate_chain],
        "status": None if presentation.status is None else b64url_encode(presentation.status),
        "cardDataSecret": b64url_encode(presentation.card_data_secret),
    }


def test_wire_text_is_the_encoded_bytes(presentation: Presentation) -> None:
    for staple in (presentation.status, None):
        built = replace(presentation, status=staple)
        wire = _encoded_wire_form(built)
        parsed = Presentation.parse(wire)
        assert parsed == built
        assert parsed.to_json() == wire == built.to_json()
        assert parsed.wire_text() == built.wire_text()
        # replace() gets new bytes and no stale text: the wire form follows the bytes.
        changed = replace(parsed, signature=b"\x02" * 64)
        assert changed.to_json() == _encoded_wire_form(changed)
        assert changed.wire_text().signature == b64url_encode(b"\x02" * 64)
