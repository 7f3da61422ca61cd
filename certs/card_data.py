"""Card data as printed on the card, normalised.

Only the PAN, expiry and security code are bound into a card certificate. The cardholder
name is accepted and normalised for display but is *not* bound: shoppers type names in
many ways (initials, accents, order), a mismatch would fail honest checkouts, and the
name adds no secrecy over the keyed digest (see docs/protocol.md, "Card-data digest").

Nothing in this module ever formats a PAN or security code into a message or ``repr``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from certs.errors import ExpiryInvalid, NameInvalid, PanInvalid, SecurityCodeInvalid

__all__ = ["CardData", "CardExpiry", "luhn_valid", "parse_expiry"]

_SEPARATORS = re.compile(r"[\s\-.]")
_DIGITS = re.compile(r"[0-9]+")
_EXPIRY_PATTERNS = (
    # MM/YY, MM/YYYY, M/YY, MM-YY, MM.YYYY, MM / YY
    re.compile(r"^(?P<month>[0-9]{1,2})\s*[/\-.]\s*(?P<year>[0-9]{2}|[0-9]{4})$"),
    # MMYY, MMYYYY (digits only, as typed into a single box)
    re.compile(r"^(?P<month>[0-9]{2})(?P<year>[0-9]{2}|[0-9]{4})$"),
    # YYYY-MM (ISO 8601 month)
    re.compile(r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})$"),
)
_NAME_MAX = 64


def luhn_valid(digits: str) -> bool:
    """Return whether ``digits`` passes the Luhn mod-10 check (ISO/IEC 7812-1 annex B)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True, slots=True, order=True)
class CardExpiry:
    """A card's expiry month: the card is valid through the last day of this month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12) or not (2000 <= self.year <= 2099):
            raise ExpiryInvalid()

    def iso(self) -> str:
        """``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"


def parse_expiry(text: str) -> CardExpiry:
    """Parse an expiry as typed: ``MM/YY``, ``MM/YYYY``, ``MMYY``, ``YYYY-MM`` and the like.

    Raises:
        ExpiryInvalid: ``expiry_invalid``.
    """
    if not isinstance(text, str):
        raise ExpiryInvalid()
    cleaned = text.strip()
    for pattern in _EXPIRY_PATTERNS:
        match = pattern.match(cleaned)
        if match is None:
            continue
        month = int(match["month"])
        year = int(match["year"])
        if year < 100:
            year += 2000
        return CardExpiry(year=year, month=month)
    raise ExpiryInvalid()


def _normalise_pan(text: str) -> str:
    if not isinstance(text, str):
        raise PanInvalid()
    digits = _SEPARATORS.sub("", text)
    if not (12 <= len(digits) <= 19) or not _DIGITS.fullmatch(digits) or not digits.isascii():
        raise PanInvalid()
    if not luhn_valid(digits):
        raise PanInvalid()
    return digits


def _normalise_security_code(text: str) -> str:
    if not isinstance(text, str):
        raise SecurityCodeInvalid()
    digits = text.strip()
    if not (3 <= len(digits) <= 4) or not digits.isascii() or not _DIGITS.fullmatch(digits):
        raise SecurityCodeInvalid()
    return digits


def _normalise_name(text: str | None) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise NameInvalid()
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        return None
    if len(name) > _NAME_MAX or not name.isprintable():
        raise NameInvalid()
    return name


@dataclass(frozen=True, slots=True, repr=False, kw_only=True)
class CardData:
    """Normalised card data. Build it with :meth:`parse`.

    Attributes:
        pan: 12-19 ASCII digits, Luhn-valid.
        expiry: the expiry month.
        security_code: 3-4 ASCII digits (CVC2/CVV2/CID).
        name: the cardholder name, whitespace-collapsed and NFC-normalised; not bound.
    """

    pan: str
    expiry: CardExpiry
    security_code: str
    name: str | None = None

    @classmethod
    def parse(
        cls, *, pan: str, expiry: str, security_code: str, name: str | None = None
    ) -> CardData:
        """Normalise card data as typed by a person.

        Raises:
            PanInvalid: ``pan_invalid``.
            ExpiryInvalid: ``expiry_invalid``.
            SecurityCodeInvalid: ``security_code_invalid``.
            NameInvalid: ``name_invalid``.
        """
        return cls(
            pan=_normalise_pan(pan),
            expiry=parse_expiry(expiry),
            security_code=_normalise_security_code(security_code),
            name=_normalise_name(name),
        )

    @property
    def bin(self) -> str:
        """The first six digits (issuer identification number), which a merchant may see."""
        return self.pan[:6]

    @property
    def last4(self) -> str:
        """The last four digits, which may be displayed."""
        return self.pan[-4:]

    def canonical_bytes(self) -> bytes:
        """The bytes the card-data digest is computed over (docs/protocol.md, section 6).

        ``cardcert-card-data-v1`` NUL PAN NUL YYYYMM NUL security-code. Every field is
        ASCII digits, so the NUL separators make the encoding unambiguous. The name is not
        included.
        """
        return b"\x00".join(
            (
                b"cardcert-card-data-v1",
                self.pan.encode("ascii"),
                f"{self.expiry.year:04d}{self.expiry.month:02d}".encode("ascii"),
                self.security_code.encode("ascii"),
            )
        )

    def __repr__(self) -> str:
        return f"CardData(pan=****{self.last4}, expiry={self.expiry.iso()}, security_code=***)"

    __str__ = __repr__
