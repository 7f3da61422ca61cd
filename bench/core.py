"""Core verification cost as a ratio to one bare ECDSA P-256 verify (issue: certs core).

Contenders, measured interleaved in one process:

* ``bare_verify``: one P-256 ECDSA-SHA256 verify of a transaction-sized message;
* ``core_cold``: :func:`certs.verification.verify_presentation` on a parsed presentation,
  with the leaf cache disabled, so the card certificate is parsed and its signature checked
  on every call (a first-time cardholder). The issuer CA step is cached, as allowed;
* ``core_warm``: the same with the default leaf cache (a returning cardholder);
* ``parse``: :meth:`certs.presentation.Presentation.parse` of the wire JSON.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bench.timing import Measurement, interleaved
from certs.card_data import CardData
from certs.chain import ChainVerifier
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.presentation import Presentation
from certs.revocation import RevocationStatus
from certs.verification import VerificationPolicy, verify_presentation
from certs.wire import b64url_encode

__all__ = ["CoreContenders", "contenders", "run"]


@dataclass(frozen=True, slots=True)
class CoreContenders:
    """The contenders above, ready to call; ``now`` is the verification time they use."""

    now: datetime
    functions: dict[str, Callable[[], object]]


def run(*, rounds: int = 15, ops: int = 200) -> dict[str, Measurement]:
    return interleaved(contenders().functions, rounds=rounds, ops=ops)


def contenders() -> CoreContenders:
    now = datetime.now(UTC)
    pki = DevPki.create(now=now)
    card = CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123")
    credential = CardholderCredential.issue(
        pki, card, now=now, crl_url="http://127.0.0.1/crl", ocsp_url="http://127.0.0.1/ocsp"
    )
    nonce = b64url_encode(secrets.token_bytes(16))
    presentation = credential.present(
        merchant_origin="https://shop.example",
        merchant_name="Bench Shop",
        amount="12.30",
        currency="EUR",
        checkout_id="co_bench",
        nonce=nonce,
        signed_at=now,
    )
    wire = json.dumps(presentation.to_json()).encode()
    policy = VerificationPolicy(require_revocation_status=False)
    expected: dict[str, Any] = {
        "expected_origin": "https://shop.example",
        "expected_amount": "12.30",
        "expected_currency": "EUR",
        "expected_checkout_id": "co_bench",
        "expected_nonce": nonce,
        "card_data": card,
        "revocation": RevocationStatus.unavailable(),
        "nonce_unused": True,
        "now": now,
        "policy": policy,
    }
    cold = ChainVerifier([pki.root], leaf_cache_size=0)
    warm = ChainVerifier([pki.root])

    key = ec.generate_private_key(ec.SECP256R1())
    public_key = key.public_key()
    message = presentation.transaction.raw
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    algorithm = ec.ECDSA(hashes.SHA256())

    return CoreContenders(
        now,
        {
            "bare_verify": lambda: public_key.verify(signature, message, algorithm),
            "core_cold": lambda: verify_presentation(
                presentation=presentation, chain_verifier=cold, **expected
            ),
            "core_warm": lambda: verify_presentation(
                presentation=presentation, chain_verifier=warm, **expected
            ),
            "parse": lambda: Presentation.parse(wire),
        },
    )
