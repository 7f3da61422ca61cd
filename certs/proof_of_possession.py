"""Proof of possession: the browser signs a server challenge with its new key.

Signed bytes (RFC 8785 canonical JSON, docs/protocol.md section 4)::

    {"challenge":"<b64url, 32 random bytes from the issuer>","origin":"<issuer origin>",
     "purpose":"enrollment"|"renewal","type":"cardcert.proof-of-possession","version":1}

The ``type`` keeps these signatures apart from transaction signatures (which carry
``"type":"cardcert.transaction"``), so a proof of possession can never be replayed as a
payment authorisation or the reverse; ``origin`` binds it to the issuer that asked.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from certs.canonical_json import canonical_json
from certs.keys import verify_raw_signature

__all__ = ["PopPurpose", "pop_message", "verify_proof_of_possession"]

POP_TYPE = "cardcert.proof-of-possession"


class PopPurpose(StrEnum):
    ENROLLMENT = "enrollment"
    RENEWAL = "renewal"


def pop_message(*, purpose: PopPurpose, origin: str, challenge: str) -> bytes:
    """The exact bytes the key holder signs."""
    return canonical_json(
        {
            "type": POP_TYPE,
            "version": 1,
            "purpose": str(purpose),
            "origin": origin,
            "challenge": challenge,
        }
    )


def verify_proof_of_possession(
    key: ec.EllipticCurvePublicKey,
    signature: bytes,
    *,
    purpose: PopPurpose,
    origin: str,
    challenge: str,
) -> None:
    """Verify a raw r||s P-256 signature over :func:`pop_message`.

    Raises:
        SignatureMalformed: ``signature_malformed``.
        SignatureInvalid: ``signature_invalid``.
    """
    verify_raw_signature(
        key, signature, pop_message(purpose=purpose, origin=origin, challenge=challenge)
    )
