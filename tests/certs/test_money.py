"""Amount formatting: canonical strings per ISO 4217 exponent, no loss of precision."""

from __future__ import annotations

from decimal import Decimal

import pytest

from certs.money import format_amount, is_canonical_amount


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("12.3", "EUR", "12.30"), (1000, "JPY", "1000"), (Decimal("1.234"), "KWD", "1.234"),
     ("0", "USD", "0.00")],
)  # fmt: skip
def test_formats_canonically(amount: object, currency: str, expected: str) -> None:
    formatted = format_amount(amount, currency)  # type: ignore[arg-type]
    assert formatted == expected
    assert is_canonical_amount(formatted, currency)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("12.345", "EUR"), ("-1", "EUR"), ("NaN", "EUR"), ("Infinity", "EUR"), ("abc", "EUR"),
     ("1e30", "EUR"), ("1e18", "JPY"), ("12.30", "XXX")],
)  # fmt: skip
def test_rejects_with_value_error(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - format_amount documents ValueError only
        format_amount(amount, currency)


@pytest.mark.parametrize("amount", ["12.3", "012.30", "12.300", "1,00", " 1.00", "1e2"])
def test_non_canonical_amounts_are_not_canonical(amount: str) -> None:
    assert not is_canonical_amount(amount, "EUR")
