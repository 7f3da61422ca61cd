"""Activation codes: format, forgiving parsing, entropy split, keyed storage form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.activation_codes import (
    ALPHABET,
    CODE_BITS,
    LOCATOR_BITS,
    SECRET_BITS,
    ActivationCode,
    ActivationCodeHasher,
)
from issuer.errors import ActivationCodeInvalid

codes = st.text(alphabet=ALPHABET, min_size=16, max_size=16).map(ActivationCode)


def test_format_and_entropy() -> None:
    code = ActivationCode.generate()
    text = code.display()
    assert len(text) == 19
    assert [len(group) for group in text.split("-")] == [4, 4, 4, 4]
    assert set(text.replace("-", "")) <= set(ALPHABET)
    assert len(ALPHABET) == 32
    assert not set("ILOU") & set(ALPHABET)
    assert (LOCATOR_BITS, SECRET_BITS, CODE_BITS) == (20, 60, 80)
    assert 16 * math.log2(len(ALPHABET)) == CODE_BITS
    assert code.locator == text[:4]


def test_generated_codes_differ() -> None:
    assert len({ActivationCode.generate().symbols for _ in range(1000)}) == 1000


@given(codes)
def test_display_round_trips(code: ActivationCode) -> None:
    assert ActivationCode.parse(code.display()) == code


@given(codes, st.sampled_from(["-", " ", "", "  "]), st.booleans())
def test_case_and_separators_do_not_matter(
    code: ActivationCode, separator: str, lower: bool
) -> None:
    text = separator.join(code.symbols[i : i + 4] for i in range(0, 16, 4))
    assert ActivationCode.parse(text.lower() if lower else text) == code


def test_ambiguous_characters_are_folded() -> None:
    assert ActivationCode.parse("OOOO-IIII-LLLL-oiil").symbols == "0000111111110111"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ABCD",
        "ABCD-EFGH-JKMN-PQR",
        "ABCD-EFGH-JKMN-PQRST",
        "UUUU-UUUU-UUUU-UUUU",
        "ABCD_EFGH_JKMN_PQRS",
        "\uff21\uff22\uff23\uff24-EFGH-JKMN-PQRS",  # full-width letters
        "ABCD-EFGH-JKMN-PQR\u017f",  # long s: str.upper() makes it an ASCII "S"
        "\u0131BCD-EFGH-JKMN-PQRS",  # dotless i: upper() gives "I"
        "A" * 65,
        None,
        12,
    ],
)
def test_malformed_codes_are_rejected(text: object) -> None:
    with pytest.raises(ActivationCodeInvalid) as raised:
        ActivationCode.parse(text)
    assert raised.value.code == "activation_code_invalid"


def test_the_code_never_shows_in_repr() -> None:
    code = ActivationCode.generate()
    assert code.symbols not in repr(code)
    assert code.symbols not in str(code)
    hasher = ActivationCodeHasher(b"k" * 32)
    assert "k" * 8 not in repr(hasher)


def test_stored_form_is_keyed() -> None:
    code = ActivationCode.generate()
    first, second = ActivationCodeHasher(b"a" * 32), ActivationCodeHasher(b"b" * 32)
    assert first.code_hash(code) == first.code_hash(ActivationCode.parse(code.display().lower()))
    assert first.code_hash(code) != second.code_hash(code)
    assert len(first.code_hash(code)) == 64
    with pytest.raises(ValueError, match="32 bytes"):
        ActivationCodeHasher(b"short")
