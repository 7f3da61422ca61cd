"""CardData parsing: PAN (Luhn, 12-19 digits, separators), expiry formats, security code, name.

Inputs and expected results live in tests/vectors/card-data/parse-cases.json.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.card_data import CardData, CardExpiry, luhn_valid, parse_expiry
from certs.card_digest import check_card_data
from certs.digest_extension import CardDataDigestExtension
from certs.errors import CardDataError, CardDataMismatch, ExpiryInvalid, MalformedPresentation
from certs.oids import HMAC_SHA256
from tests.certs.vectors import read

TABLE: dict[str, Any] = json.loads(read("card-data/parse-cases.json"))
ROWS = TABLE["cases"]


def _id(row: dict[str, Any]) -> str:
    changed = {k: v for k, v in row["input"].items() if v != ROWS[0]["input"][k]}
    return f"{row['expected']}-{json.dumps(changed, ensure_ascii=True)}"


def _parse(values: dict[str, Any]) -> CardData:
    return CardData.parse(
        pan=values["pan"],
        expiry=values["expiry"],
        security_code=values["security_code"],
        name=values["name"],
    )


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"] == "ok"], ids=_id)
def test_parse_accepts_and_normalises(row: dict[str, Any]) -> None:
    card = _parse(row["input"])
    expected = row["normalised"]
    assert card.pan == expected["pan"]
    assert card.expiry.iso() == expected["expiry"]
    assert card.security_code == expected["security_code"]
    assert card.name == expected["name"]


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"] != "ok"], ids=_id)
def test_parse_rejects_with_code(row: dict[str, Any]) -> None:
    with pytest.raises(CardDataError) as excinfo:
        _parse(row["input"])
    assert excinfo.value.code == row["expected"]
    assert excinfo.value.http_status == 422


def test_table_covers_every_card_data_code() -> None:
    assert {row["expected"] for row in ROWS} == {
        "ok",
        "pan_invalid",
        "expiry_invalid",
        "security_code_invalid",
        "name_invalid",
    }


@pytest.mark.parametrize("entry", TABLE["luhn"], ids=lambda e: e["digits"])
def test_luhn_known_answers(entry: dict[str, Any]) -> None:
    assert luhn_valid(entry["digits"]) is entry["valid"]


@settings(max_examples=200, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=12, max_size=19),
    position=st.integers(min_value=0, max_value=18),
    delta=st.integers(min_value=1, max_value=9),
)
def test_luhn_detects_every_single_digit_error(digits: str, position: int, delta: int) -> None:
    # Make the number valid by choosing its check digit, then change one digit.
    body = digits[:-1]
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    valid = body + check
    index = position % len(valid)
    wrong = valid[:index] + str((int(valid[index]) + delta) % 10) + valid[index + 1 :]
    assert luhn_valid(valid)
    assert not luhn_valid(wrong)


@pytest.mark.parametrize("not_text", [None, 4111111111111111, b"4111111111111111", ["4111"]])
def test_non_text_fields_are_rejected_with_their_code(not_text: Any) -> None:
    base = ROWS[0]["input"]
    for field, code in (
        ("pan", "pan_invalid"),
        ("expiry", "expiry_invalid"),
        ("security_code", "security_code_invalid"),
    ):
        with pytest.raises(CardDataError) as excinfo:
            _parse({**base, field: not_text})
        assert excinfo.value.code == code


def test_expiry_order_and_iso() -> None:
    assert parse_expiry("01/31") > parse_expiry("12/30")
    assert parse_expiry("2030-02").iso() == "2030-02"
    with pytest.raises(ExpiryInvalid):
        CardExpiry(year=2030, month=13)


def test_bin_and_last4() -> None:
    card = _parse(ROWS[0]["input"])
    assert card.bin == "411111"
    assert card.last4 == "1111"


def test_canonical_bytes_and_digest_known_answer() -> None:
    known = TABLE["digest"]
    card = CardData.parse(**known["card"])
    assert card.canonical_bytes().hex() == known["canonical_hex"]
    extension = CardDataDigestExtension(
        algorithm=HMAC_SHA256, digest=bytes.fromhex(known["hmac_sha256_hex"]), raw=b""
    )
    secret = bytes.fromhex(known["secret_hex"])
    check_card_data(card, secret, extension)  # matches: no exception
    # The name is not bound: any name gives the same digest.
    check_card_data(CardData.parse(**known["card"], name="Someone Else"), secret, extension)
    with pytest.raises(CardDataMismatch) as excinfo:
        check_card_data(
            CardData.parse(**{**known["card"], "security_code": "124"}), secret, extension
        )
    assert excinfo.value.code == "card_data_mismatch"
    with pytest.raises(MalformedPresentation) as short:
        check_card_data(card, secret[:31], extension)
    assert short.value.code == "presentation_malformed"
