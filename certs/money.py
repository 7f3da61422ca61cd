"""Amounts and currencies: ISO 4217 codes with their minor-unit exponents.

An amount travels as a decimal string with exactly the currency's number of minor-unit
digits (``"12.30"`` EUR, ``"1000"`` JPY, ``"1.234"`` KWD), so that the string a person
confirms, the string that is signed and the amount the merchant charges are the same
value with no floating point anywhere.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["CURRENCY_EXPONENTS", "format_amount", "is_canonical_amount", "is_currency"]

# ISO 4217 (list one, 2024 edition): code -> minor unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
    "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2,
    "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2,
    "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2,
    "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
}  # fmt: skip

_MAX_DIGITS = 18  # fits a signed 64-bit minor-unit count with room to spare
_AMOUNT = {
    exponent: re.compile(
        rf"(0|[1-9][0-9]{{0,{_MAX_DIGITS - 1}}})" + (rf"\.[0-9]{{{exponent}}}" if exponent else "")
    )
    for exponent in set(CURRENCY_EXPONENTS.values())
}


def is_currency(code: object) -> bool:
    """Whether ``code`` is a supported ISO 4217 alphabetic code (upper case)."""
    return isinstance(code, str) and code in CURRENCY_EXPONENTS


def is_canonical_amount(amount: object, currency: str) -> bool:
    """Whether ``amount`` is the canonical decimal string for ``currency``."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None or not isinstance(amount, str):
        return False
    return _AMOUNT[exponent].fullmatch(amount) is not None


def format_amount(amount: Decimal | str | int, currency: str) -> str:
    """Format an amount canonically for ``currency``; reject any loss of precision.

    Raises:
        ValueError: unknown currency, negative, non-finite or too precise amounts.
    """
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise ValueError("unsupported currency")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError("amount is not a decimal number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError("amount must be a finite, non-negative number")
    quantum = Decimal(1).scaleb(-exponent)
    try:
        quantised = value.quantize(quantum)
    except InvalidOperation as exc:  # more digits than the context's precision
        raise ValueError("amount is out of range") from exc
    if quantised != value:
        raise ValueError("amount has more decimals than the currency allows")
    text = f"{quantised:f}"
    if not is_canonical_amount(text, currency):
        raise ValueError("amount is out of range")
    return text
