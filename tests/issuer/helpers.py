"""Helpers for the issuer tests: a movable clock, a cardholder device, and a client wrapper.

Every sensitive value a test creates (PANs, security codes, activation codes, card-data
secrets, API keys) is registered in :data:`SENSITIVE`, and the autouse fixture in
``conftest.py`` asserts that no log record of any issuer test contains one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.card_data import CardData, luhn_valid
from certs.keys import sign_raw
from certs.proof_of_possession import PopPurpose, pop_message
from certs.wire import b64url_decode, b64url_encode
from issuer.app_keys import RESOURCES
from issuer.clock import system_clock
from issuer.resources import IssuerResources
from issuer.settings import IssuerSettings

SENSITIVE: set[str] = set()


def sensitive(value: str) -> str:
    """Register ``value`` (and its compact forms) as never to be logged; return it."""
    SENSITIVE.add(value)
    SENSITIVE.add(value.replace("-", "").replace(" ", ""))
    return value


def make_pan(prefix: str = "411111", length: int = 16) -> str:
    """A random Luhn-valid PAN with ``prefix``."""
    body = prefix + "".join(secrets.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


@dataclass
class TestCard:
    """Card data as the bank's back office registers it (all sensitive)."""

    __test__ = False

    pan: str = field(default_factory=make_pan)
    expiry: str = "12/39"
    cvc: str = field(default_factory=lambda: f"{secrets.randbelow(1000):03d}")
    name: str | None = "Alex Example"

    def __post_init__(self) -> None:
        sensitive(self.pan)
        sensitive(" ".join(self.pan[i : i + 4] for i in range(0, len(self.pan), 4)))
        # A three-digit code would match innocent text; register it with its context.
        for name in ("securityCode", "security_code", "cvc"):
            SENSITIVE.update(
                {
                    f'"{name}":"{self.cvc}"',
                    f'"{name}": "{self.cvc}"',
                    f"'{name}': '{self.cvc}'",
                    f"{name}={self.cvc}",
                }
            )

    @property
    def data(self) -> CardData:
        return CardData.parse(
            pan=self.pan, expiry=self.expiry, security_code=self.cvc, name=self.name
        )

    def json(self) -> dict[str, Any]:
        return {"pan": self.pan, "expiry": self.expiry, "securityCode": self.cvc, "name": self.name}


class FakeClock:
    """Real time at creation (openssl checks validity against the real clock), movable."""

    def __init__(self) -> None:
        self.now = system_clock()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Device:
    """What the browser holds: a P-256 key and a card-data secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        sensitive(b64url_encode(self.secret))

    @property
    def spki(self) -> str:
        return b64url_encode(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, purpose: PopPurpose, origin: str, challenge: str) -> str:
        message = pop_message(purpose=purpose, origin=origin, challenge=challenge)
        return b64url_encode(sign_raw(self.key, message))

    def enrollment_body(self, code: str, origin: str, challenge: str) -> dict[str, str]:
        """``POST /v1/enrollment`` as the enrollment page sends it (docs/interfaces.md 2):
        this device's key, secret and proof of possession over ``challenge``."""
        return {
            "activationCode": code,
            "publicKey": self.spki,
            "cardDataSecret": b64url_encode(self.secret),
            "challenge": challenge,
            "signature": self.sign(PopPurpose.ENROLLMENT, origin, challenge),
        }


@dataclass
class Issuer:
    """The app under test, with a back-office key and shortcuts for each API call."""

    client: TestClient[web.Request, web.Application]
    settings: IssuerSettings
    clock: FakeClock
    api_key: str
    last_card_id: str = ""

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def res(self) -> IssuerResources:
        return self.app[RESOURCES]

    @property
    def origin(self) -> str:
        return self.settings.public_origin

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def root_pem(self) -> Path:
        return self.settings.data_dir / "root-ca.pem"

    @property
    def issuer_pem(self) -> Path:
        return self.settings.data_dir / "issuer-ca.pem"

    @property
    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_pem.read_bytes())

    async def register(self, card: TestCard) -> dict[str, Any]:
        response = await self.client.post("/v1/cards", json=card.json(), headers=self.auth)
        body: dict[str, Any] = await response.json()
        assert response.status in (200, 201), body
        sensitive(body["activationCode"])
        return body

    async def challenge(self) -> str:
        response = await self.client.post("/v1/enrollment/challenge", json={})
        assert response.status == 200, await response.text()
        challenge: str = (await response.json())["challenge"]
        return challenge

    async def enroll(
        self,
        device: Device,
        code: str,
        *,
        challenge: str | None = None,
        **overrides: object,
    ) -> tuple[int, dict[str, Any]]:
        challenge = challenge or await self.challenge()
        body = device.enrollment_body(code, self.origin, challenge) | overrides
        response = await self.client.post("/v1/enrollment", json=body)
        return response.status, await response.json()

    async def enrolled(
        self, card: TestCard | None = None
    ) -> tuple[TestCard, Device, dict[str, Any]]:
        """Register a card and enroll a new device for it; return all three."""
        card = card or TestCard()
        registered = await self.register(card)
        self.last_card_id = registered["cardId"]
        device = Device()
        status, body = await self.enroll(device, registered["activationCode"])
        assert status == 201, body
        return card, device, body

    async def renew(
        self, device: Device, certificate: str, *, challenge: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        challenge = challenge or await self.challenge()
        body = {
            "certificate": certificate,
            "challenge": challenge,
            "signature": device.sign(PopPurpose.RENEWAL, self.origin, challenge),
        }
        response = await self.client.post("/v1/credentials/renew", json=body)
        return response.status, await response.json()

    async def revoke_credential(self, credential_id: str, reason: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/credentials/{credential_id}/revoke", json={"reason": reason}, headers=self.auth
        )
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


def chain_of(enrolled: dict[str, Any]) -> list[bytes]:
    return [b64url_decode(c, error=ValueError, what="chain") for c in enrolled["certificateChain"]]


def leaf_of(enrolled: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(chain_of(enrolled)[0])


def error_code(body: dict[str, Any]) -> str:
    code: str = body["error"]["code"]
    return code
