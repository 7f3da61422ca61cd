"""Revocation reasons the back office may give (RFC 5280 section 5.3.1, CRLReason).

Accepted (wire names are RFC 5280's): ``unspecified``, ``keyCompromise``,
``affiliationChanged``, ``superseded``, ``cessationOfOperation``, ``privilegeWithdrawn``.
Not accepted: ``cACompromise`` and ``aACompromise`` (about CAs and attribute authorities),
``certificateHold`` (this issuer never un-revokes) and ``removeFromCRL`` (delta CRLs only).

RFC 5280 5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using the
unspecified (0) reasonCode value", so :meth:`RevocationReason.flag` is None for it (and
the OCSP response omits revocationReason likewise).
"""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509

from issuer.errors import RevocationReasonInvalid

__all__ = ["RevocationReason"]


class RevocationReason(StrEnum):
    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    @classmethod
    def parse(cls, value: object) -> RevocationReason:
        """The reason for a wire name; a missing reason is ``unspecified``.

        Raises:
            RevocationReasonInvalid: ``revocation_reason_invalid``.
        """
        if value is None:
            return cls.UNSPECIFIED
        if not isinstance(value, str):
            raise RevocationReasonInvalid()
        try:
            return cls(value)
        except ValueError as exc:
            raise RevocationReasonInvalid() from exc

    @property
    def flag(self) -> x509.ReasonFlags | None:
        """The CRL/OCSP reason, or None for ``unspecified`` (RFC 5280 5.3.1)."""
        return _FLAGS[self]


_FLAGS: dict[RevocationReason, x509.ReasonFlags | None] = {
    RevocationReason.UNSPECIFIED: None,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}
