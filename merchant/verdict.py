"""Verdicts and the liability-shift rule.

A verification ends in one of three results:

``authenticated``
    Every check passed: path to a trusted root, revocation (or soft-fail skipped it),
    certificate binding, signature, transaction fields, signing time, single-use nonce,
    card data.
``failed``
    A check failed; ``code`` is the stable code of the first failure (certs.errors).
``unavailable``
    Everything that could be checked passed, but no usable revocation status could be
    obtained and the merchant runs hard-fail (``status_unavailable``).

**Liability shift** is claimed only when the cardholder is authenticated *and* the issuer
said the certificate was good at the time (a fresh stapled or live OCSP ``good``) *and*
the confirmation was ``explicit``, or ``frictionless`` with this merchant accepting
frictionless confirmations. A soft-fail verdict without a status is ``authenticated`` but
never shifts liability: the merchant took the revocation risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from certs.revocation import CertStatus, RevocationStatus, StatusSource
from certs.transaction import Confirmation
from certs.verification import VerificationPolicy

__all__ = ["Verdict", "VerdictResult", "liability_shift"]


class VerdictResult(StrEnum):
    AUTHENTICATED = "authenticated"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


def liability_shift(
    *,
    result: VerdictResult,
    revocation: RevocationStatus,
    confirmation: Confirmation | None,
    policy: VerificationPolicy,
) -> bool:
    """The rule of the module docstring."""
    if result is not VerdictResult.AUTHENTICATED or revocation.status is not CertStatus.GOOD:
        return False
    if confirmation is Confirmation.EXPLICIT:
        return True
    return confirmation is Confirmation.FRICTIONLESS and policy.allow_frictionless


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome of one verification attempt."""

    result: VerdictResult
    code: str | None
    liability_shift: bool
    confirmation: Confirmation | None
    revocation_checked: bool
    revocation_source: StatusSource

    def to_json(self, evidence_id: str | None) -> dict[str, Any]:
        """The ``verdict`` object of docs/interfaces.md, section 6."""
        return {
            "result": str(self.result),
            "code": self.code,
            "liabilityShift": self.liability_shift,
            "evidenceId": evidence_id,
            "confirmation": None if self.confirmation is None else str(self.confirmation),
            "revocationChecked": self.revocation_checked,
            "revocationSource": str(self.revocation_source),
        }
