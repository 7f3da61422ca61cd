"""The presentation: what the Service Worker auto-POSTs to the merchant's return URL.

Wire form (docs/protocol.md, section 8), a JSON object with base64url bytes::

    {"version": 1,
     "transaction": "<b64url of the canonical transaction bytes that were signed>",
     "signature": "<b64url of the 64-byte raw r||s ECDSA P-256 signature>",
     "certificateChain": ["<b64url card certificate DER>", "<b64url issuer CA DER>"],
     "status": "<b64url DER OCSP response>" | null,
     "cardDataSecret": "<b64url of the 32-byte card-data secret>"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from certs.errors import MalformedPresentation
from certs.transaction import TransactionDescription
from certs.wire import b64url_decode, b64url_encode, load_json_object

__all__ = ["PRESENTATION_VERSION", "Presentation", "WireText"]

PRESENTATION_VERSION = 1
_FIELDS = frozenset(
    {"version", "transaction", "signature", "certificateChain", "status", "cardDataSecret"}
)
_MAX_CERT = 4096
_MAX_STATUS = 8192


def _bytes(value: object, what: str, limit: int) -> bytes:
    decoded = b64url_decode(value, error=MalformedPresentation, what=what)
    if not decoded or len(decoded) > limit:
        raise MalformedPresentation(f"{what} has an unexpected length")
    return decoded


@dataclass(frozen=True, slots=True, kw_only=True)
class WireText:
    """The base64url text of a presentation's public byte fields (not the card-data secret)."""

    transaction: str
    signature: str
    certificate_chain: tuple[str, ...]
    status: str | None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Presentation:
    """A parsed presentation. The card-data secret never appears in ``repr``."""

    transaction: TransactionDescription
    signature: bytes
    certificate_chain: tuple[bytes, ...]
    status: bytes | None
    card_data_secret: bytes
    # The text parse() decoded the public byte fields from. b64url_decode accepts only the
    # canonical encoding (RFC 4648 3.5), so it is exactly what encoding the bytes would
    # give; wire_text() hands it out instead. Not an __init__ argument, so it is set only
    # by parse() and never carried over by dataclasses.replace() to other bytes.
    _wire: WireText | None = field(default=None, init=False, compare=False)

    @classmethod
    def parse(cls, data: bytes | str | dict[str, Any]) -> Presentation:
        """Parse the wire form (bytes, text or an already-decoded JSON object).

        Raises:
            MalformedPresentation: ``presentation_malformed``.
            MalformedTransaction: ``transaction_malformed``.
        """
        obj = (
            data
            if isinstance(data, dict)
            else load_json_object(data, error=MalformedPresentation, what="presentation")
        )
        if set(obj) != _FIELDS:
            raise MalformedPresentation("presentation fields are not exactly those of version 1")
        version = obj["version"]
        if type(version) is not int or version != PRESENTATION_VERSION:
            raise MalformedPresentation("unsupported presentation version")
        chain = obj["certificateChain"]
        if not isinstance(chain, list) or not 1 <= len(chain) <= 3:
            raise MalformedPresentation("certificateChain must list 1 to 3 certificates")
        status = obj["status"]
        presentation = cls(
            transaction=TransactionDescription.parse(
                _bytes(obj["transaction"], "transaction", 4096)
            ),
            # The signature length is checked where it is verified (signature_malformed).
            signature=_bytes(obj["signature"], "signature", 512),
            certificate_chain=tuple(_bytes(c, "certificate", _MAX_CERT) for c in chain),
            status=None if status is None else _bytes(status, "status", _MAX_STATUS),
            card_data_secret=_bytes(obj["cardDataSecret"], "cardDataSecret", 64),
        )
        # Every field decoded, so these are str (the text, not the caller's mutable list).
        wire = WireText(
            transaction=obj["transaction"],
            signature=obj["signature"],
            certificate_chain=tuple(chain),
            status=status,
        )
        object.__setattr__(presentation, "_wire", wire)  # frozen: set once, here
        return presentation

    def wire_text(self) -> WireText:
        """The unpadded base64url text of the public byte fields: as received when parsed,
        else encoded now (the same strings either way)."""
        if self._wire is not None:
            return self._wire
        return WireText(
            transaction=b64url_encode(self.transaction.raw),
            signature=b64url_encode(self.signature),
            certificate_chain=tuple(b64url_encode(c) for c in self.certificate_chain),
            status=None if self.status is None else b64url_encode(self.status),
        )

    def to_json(self) -> dict[str, Any]:
        """The wire form, as the Service Worker sends it."""
        wire = self.wire_text()
        return {
            "version": PRESENTATION_VERSION,
            "transaction": wire.transaction,
            "signature": wire.signature,
            "certificateChain": list(wire.certificate_chain),
            "status": wire.status,
            "cardDataSecret": b64url_encode(self.card_data_secret),
        }

    def __repr__(self) -> str:
        return (
            f"Presentation(checkout_id={self.transaction.checkout_id!r}, "
            f"certificates={len(self.certificate_chain)}, stapled={self.status is not None})"
        )
