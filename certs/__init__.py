"""cardcert's card-certificate core: pure functions and frozen data, no I/O.

Start with :func:`certs.verification.verify_presentation`; docs/protocol.md is the contract.
"""

from __future__ import annotations

from certs.card_data import CardData, CardExpiry
from certs.chain import ChainVerifier, VerifiedChain
from certs.credential import CardholderCredential
from certs.errors import CardcertError
from certs.presentation import Presentation
from certs.revocation import CertStatus, RevocationStatus, StatusSource, read_ocsp_response
from certs.transaction import Confirmation, TransactionDescription
from certs.verification import VerificationPolicy, VerifiedPresentation, verify_presentation

__all__ = [
    "CardData",
    "CardExpiry",
    "CardcertError",
    "CardholderCredential",
    "CertStatus",
    "ChainVerifier",
    "Confirmation",
    "Presentation",
    "RevocationStatus",
    "StatusSource",
    "TransactionDescription",
    "VerificationPolicy",
    "VerifiedChain",
    "VerifiedPresentation",
    "read_ocsp_response",
    "verify_presentation",
]

__version__ = "0.1.0"
