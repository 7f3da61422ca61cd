"""One-time activation codes: format, parsing and the keyed hash they are stored as.

Format: 16 symbols of Crockford's base32 (https://www.crockford.com/base32.html) shown in
four groups, ``XXXX-XXXX-XXXX-XXXX``: 16 x 5 = 80 random bits. Reading is forgiving, as
Crockford intends for codes people type: case-insensitive, hyphens and spaces ignored,
``O`` read as ``0`` and ``I``/``L`` as ``1`` (the alphabet has no I, L, O or U).

The first group is the **locator** (20 bits), the other three the **secret** (60 bits).
Both are random; the locator exists so that a *wrong* code can still be attributed to the
code it was probably aimed at: a guess whose locator matches an outstanding code counts as
a failed attempt against that code, and the code locks after ``N`` of them. Without a
locator a wrong code matches no row, and only per-client limits would apply. The entropy
and rate-limit arithmetic is in docs/issuer.md ("Activation codes").

A code is stored only as ``HMAC-SHA256(key, "cardcert-activation-code-v1" NUL code)`` (hex)
plus its locator; the key is derived from the PAN lookup key, so a copy of the database
alone does not allow testing guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from issuer.errors import ActivationCodeInvalid

__all__ = [
    "ALPHABET",
    "CODE_BITS",
    "LOCATOR_BITS",
    "SECRET_BITS",
    "ActivationCode",
    "ActivationCodeHasher",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {symbol: symbol for symbol in ALPHABET} | {"O": "0", "I": "1", "L": "1"}
_SEPARATORS = str.maketrans("", "", "- \t")
_LOCATOR_SYMBOLS = 4
_SECRET_SYMBOLS = 12
_GROUP = 4
LOCATOR_BITS = _LOCATOR_SYMBOLS * 5
SECRET_BITS = _SECRET_SYMBOLS * 5
CODE_BITS = LOCATOR_BITS + SECRET_BITS
_MAX_INPUT = 64
_HASH_LABEL = b"cardcert-activation-code-v1\x00"


@dataclass(frozen=True, slots=True, repr=False)
class ActivationCode:
    """A normalised activation code. Never logged: ``repr`` hides it."""

    symbols: str

    @classmethod
    def generate(cls) -> ActivationCode:
        """A new random code (80 bits from the operating system's CSPRNG)."""
        return cls(
            "".join(secrets.choice(ALPHABET) for _ in range(_LOCATOR_SYMBOLS + _SECRET_SYMBOLS))
        )

    @classmethod
    def parse(cls, text: object) -> ActivationCode:
        """Read a code as typed.

        Raises:
            ActivationCodeInvalid: ``activation_code_invalid`` when it is not 16 symbols.
        """
        if not isinstance(text, str) or len(text) > _MAX_INPUT:
            raise ActivationCodeInvalid()
        # ASCII first: str.upper() maps some non-ASCII letters to ASCII (U+0131 -> "I").
        if not text.isascii():
            raise ActivationCodeInvalid()
        compact = text.translate(_SEPARATORS).upper()
        if len(compact) != _LOCATOR_SYMBOLS + _SECRET_SYMBOLS:
            raise ActivationCodeInvalid()
        try:
            return cls("".join(_VALUE[symbol] for symbol in compact))
        except KeyError as exc:
            raise ActivationCodeInvalid() from exc

    @property
    def locator(self) -> str:
        """The first group: which outstanding code a guess is aimed at (not secret enough
        to authenticate anything on its own)."""
        return self.symbols[:_LOCATOR_SYMBOLS]

    def display(self) -> str:
        """``XXXX-XXXX-XXXX-XXXX``, as printed for the cardholder."""
        return "-".join(self.symbols[i : i + _GROUP] for i in range(0, len(self.symbols), _GROUP))

    def __repr__(self) -> str:
        return "ActivationCode(<hidden>)"

    __str__ = __repr__


class ActivationCodeHasher:
    """Computes the stored form of activation codes under a secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the activation-code hash key must be at least 32 bytes")
        self._key = key

    def code_hash(self, code: ActivationCode) -> str:
        """HMAC-SHA256 of the normalised code, hex. Looked up by equality: the attacker
        cannot steer the value without the key, so lookup timing reveals nothing useful."""
        return hmac.new(
            self._key, _HASH_LABEL + code.symbols.encode("ascii"), hashlib.sha256
        ).hexdigest()

    def __repr__(self) -> str:
        return "ActivationCodeHasher(<key hidden>)"
