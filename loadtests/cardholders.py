"""Synthetic cardholders: register a card, enroll a key with proof of possession, renew.

Exactly what the Service Worker does (docs/interfaces.md section 2), over plain HTTP with a
``requests``-style session (locust monkey-patches sockets, so this cooperates with gevent).
Cards are random Luhn-valid PANs in the issuer's BIN 411111. :func:`read_pool` loads
cardholders that ``python -m loadtests.seed --credentials --pool-out`` enrolled in bulk.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.credential import CardholderCredential
from certs.keys import sign_raw
from certs.proof_of_possession import PopPurpose, pop_message
from certs.wire import b64url_decode, b64url_encode

__all__ = [
    "BIN",
    "Cardholder",
    "card_json",
    "enroll",
    "luhn_pan",
    "read_pool",
    "register_card",
    "renew",
    "revoke",
]

BIN = "411111"
SECURITY_CODE = "123"


class _Response(Protocol):
    status_code: int
    text: str

    def json(self) -> Any: ...


class _Session(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...

    def get(self, url: str, **kwargs: Any) -> Any: ...


class EnrollmentFailed(RuntimeError):
    """A setup step did not answer as the contract says."""


def luhn_pan(body: str) -> str:
    """``body`` (15 digits) plus its Luhn check digit."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def random_pan() -> str:
    return luhn_pan(BIN + "".join(str(secrets.randbelow(10)) for _ in range(9)))


def expiry_text(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.month:02d}/{(now.year + 3) % 100:02d}"


def card_json(pan: str, security_code: str = SECURITY_CODE) -> dict[str, str]:
    return {"pan": pan, "expiry": expiry_text(), "securityCode": security_code, "name": "Load T"}


@dataclass(slots=True)
class Cardholder:
    """One enrolled synthetic cardholder and what the browser keeps about it."""

    pan: str
    credential: CardholderCredential
    credential_id: str
    fingerprint: str
    staple: bytes | None

    @property
    def card(self) -> dict[str, str]:
        return card_json(self.pan)

    @property
    def hint(self) -> dict[str, str]:
        return {"bin": self.pan[:6], "last4": self.pan[-4:]}


def _expect(response: Any, statuses: tuple[int, ...], what: str) -> Any:
    if response.status_code not in statuses:
        raise EnrollmentFailed(f"{what}: HTTP {response.status_code} {response.text[:200]}")
    return response.json()


def register_card(
    session: _Session, issuer: str, api_key: str, pan: str, **kw: Any
) -> dict[str, Any]:
    """``POST /v1/cards`` with the back-office key; returns the body (activation code)."""
    response = session.post(
        f"{issuer}/v1/cards",
        json=card_json(pan),
        headers={"Authorization": f"Bearer {api_key}"},
        **kw,
    )
    return dict(_expect(response, (200, 201), "register card"))


def _challenge(session: _Session, issuer: str, origin: str, **kw: Any) -> str:
    if "name" in kw:  # a locust request name
        kw = {**kw, "name": "/v1/enrollment/challenge"}
    response = session.post(
        f"{issuer}/v1/enrollment/challenge", json={}, headers={"Origin": origin}, **kw
    )
    return str(_expect(response, (200, 201), "challenge")["challenge"])


def _credential(
    key: ec.EllipticCurvePrivateKey, secret: bytes, body: dict[str, Any]
) -> CardholderCredential:
    return CardholderCredential(
        private_key=key,
        card_data_secret=secret,
        certificate_chain=tuple(
            b64url_decode(c, error=ValueError, what="certificate") for c in body["certificateChain"]
        ),
    )


def enroll(
    session: _Session, issuer: str, origin: str, activation_code: str, pan: str, **kw: Any
) -> Cardholder:
    """Challenge, then ``POST /v1/enrollment`` with a fresh P-256 key and proof of possession.

    ``issuer`` is the URL to reach the issuer at; ``origin`` its public origin (bound into
    the proof and sent as ``Origin``, as the browser does).
    """
    challenge = _challenge(session, issuer, origin, **kw)
    key = ec.generate_private_key(ec.SECP256R1())
    secret = secrets.token_bytes(32)
    message = pop_message(purpose=PopPurpose.ENROLLMENT, origin=origin, challenge=challenge)
    body = {
        "activationCode": activation_code,
        "publicKey": b64url_encode(
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ),
        "cardDataSecret": b64url_encode(secret),
        "challenge": challenge,
        "signature": b64url_encode(sign_raw(key, message)),
    }
    response = session.post(f"{issuer}/v1/enrollment", json=body, headers={"Origin": origin}, **kw)
    enrolled = _expect(response, (201,), "enrollment")
    return Cardholder(
        pan=pan,
        credential=_credential(key, secret, enrolled),
        credential_id=enrolled["credentialId"],
        fingerprint=enrolled["fingerprint"],
        staple=b64url_decode(enrolled["status"], error=ValueError, what="status"),
    )


def renew(session: _Session, issuer: str, origin: str, holder: Cardholder, **kw: Any) -> Cardholder:
    """Challenge, then ``POST /v1/credentials/renew`` with the same key (new certificate)."""
    challenge = _challenge(session, issuer, origin, **kw)
    message = pop_message(purpose=PopPurpose.RENEWAL, origin=origin, challenge=challenge)
    body = {
        "certificate": b64url_encode(holder.credential.certificate_chain[0]),
        "challenge": challenge,
        "signature": b64url_encode(sign_raw(holder.credential.private_key, message)),
    }
    response = session.post(
        f"{issuer}/v1/credentials/renew", json=body, headers={"Origin": origin}, **kw
    )
    renewed = _expect(response, (200, 201), "renewal")
    return Cardholder(
        pan=holder.pan,
        credential=_credential(
            holder.credential.private_key, holder.credential.card_data_secret, renewed
        ),
        credential_id=renewed["credentialId"],
        fingerprint=renewed["fingerprint"],
        staple=b64url_decode(renewed["status"], error=ValueError, what="status"),
    )


def revoke(session: _Session, issuer: str, api_key: str, holder: Cardholder, **kw: Any) -> bytes:
    """Revoke at the back office; return the now-revoked staple from ``/status``."""
    response = session.post(
        f"{issuer}/v1/credentials/{holder.credential_id}/revoke",
        json={"reason": "keyCompromise"},
        headers={"Authorization": f"Bearer {api_key}"},
        **kw,
    )
    _expect(response, (200, 201), "revoke")
    status = session.get(f"{issuer}/status/{holder.fingerprint}", **kw)
    if status.status_code != 200:
        raise EnrollmentFailed(f"status: HTTP {status.status_code}")
    return bytes(status.content)


def _pooled(line: str) -> Cardholder:
    entry = json.loads(line)
    key = serialization.load_der_private_key(
        b64url_decode(entry["key"], error=ValueError, what="key"), password=None
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("a pool entry's key is not an EC key")
    return Cardholder(
        pan=entry["pan"],
        credential=CardholderCredential(
            private_key=key,
            card_data_secret=b64url_decode(entry["secret"], error=ValueError, what="secret"),
            certificate_chain=tuple(
                b64url_decode(c, error=ValueError, what="certificate") for c in entry["chain"]
            ),
        ),
        credential_id=entry["credentialId"],
        fingerprint=entry["fingerprint"],
        staple=b64url_decode(entry["staple"], error=ValueError, what="staple"),
    )


def read_pool(path: Path, count: int, *, rng: random.Random | None = None) -> list[Cardholder]:
    """``count`` cardholders drawn at random from a seeded pool file (one pass, reservoir
    sampling: memory holds ``count`` lines, not the file), so several load processes on one
    file mostly use different cardholders."""
    rng = rng or random.Random()
    chosen: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for seen, line in enumerate(handle):
            if len(chosen) < count:
                chosen.append(line)
            elif (slot := rng.randrange(seen + 1)) < count:
                chosen[slot] = line
    return [_pooled(line) for line in chosen]
