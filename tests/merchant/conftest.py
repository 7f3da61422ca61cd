"""Fixtures for the merchant tests: a test PKI, cardholders, an OCSP responder, merchants.

Presentations come from :class:`certs.credential.CardholderCredential` (byte-identical to
what the browser sends); OCSP responses are built here with cryptography's
``OCSPResponseBuilder`` and signed by the test issuer CA key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certs.card_data import CardData
from certs.credential import CardholderCredential, transaction_fields
from certs.dev_pki import DevPki
from certs.presentation import Presentation
from certs.transaction import Confirmation
from certs.wire import b64url_decode
from merchant.app import create_app
from merchant.app_keys import ENGINE, STORE
from merchant.issuer_directory import parse_issuer_metadata, save_issuer
from merchant.settings import Settings
from servicekit.api_keys import generate_api_key, hash_api_key
from servicekit.local_service import free_loopback_port

# A test PAN and a distinctive security code: the log scan looks for both.
TEST_PAN = "4111 1111 1111 1111"
TEST_PAN_DIGITS = TEST_PAN.replace(" ", "")
TEST_CVC = "4729"
ISSUER_ORIGIN = "http://issuer.localhost:8001"
SHOP_ORIGIN = "http://shop.localhost:8002"
RETURN_URL = f"{SHOP_ORIGIN}/checkout/return"
MERCHANT_NAME = "Test Merchant"


def expiry_text() -> str:
    return f"12/{(datetime.now(UTC).year + 3) % 100:02d}"


def card_json(security_code: str = TEST_CVC, pan: str = TEST_PAN) -> dict[str, str]:
    return {"pan": pan, "expiry": expiry_text(), "securityCode": security_code, "name": "Ada L"}


def typed_card(security_code: str = TEST_CVC) -> CardData:
    data = card_json(security_code)
    return CardData.parse(
        pan=data["pan"], expiry=data["expiry"], security_code=data["securityCode"], name="Ada L"
    )


class Clock:
    """A settable clock (starts at the real time, since presentations are signed now)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (free a moment ago): connections are refused."""
    return free_loopback_port()


def build_ocsp_response(
    pki: DevPki,
    certificate: x509.Certificate,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    signer: DevPki | None = None,
) -> bytes:
    """A DER OCSP response signed by the issuer CA (RFC 6960 4.2.2.2, CA-signed)."""
    this_update = this_update or datetime.now(UTC) - timedelta(minutes=1)
    next_update = next_update or this_update + timedelta(days=1)
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=certificate,
            issuer=pki.issuer_ca,
            algorithm=hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID, not a signature
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=this_update - timedelta(hours=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, (signer or pki).issuer_ca)
    )
    response = builder.sign((signer or pki).issuer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


@dataclass
class OcspResponder:
    """A live OCSP responder for the test issuer (RFC 6960 over HTTP POST)."""

    pki: DevPki
    url: str = ""
    certificates: dict[int, x509.Certificate] = field(default_factory=dict)
    statuses: dict[int, ocsp.OCSPCertStatus] = field(default_factory=dict)
    calls: int = 0

    def register(self, certificate: x509.Certificate) -> None:
        self.certificates[certificate.serial_number] = certificate

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        assert request.content_type == "application/ocsp-request"
        parsed = ocsp.load_der_ocsp_request(await request.read())
        certificate = self.certificates[parsed.serial_number]
        body = build_ocsp_response(
            self.pki,
            certificate,
            status=self.statuses.get(parsed.serial_number, ocsp.OCSPCertStatus.GOOD),
        )
        return web.Response(body=body, content_type="application/ocsp-response")


@pytest.fixture(scope="session")
def pki() -> DevPki:
    return DevPki.create(now=datetime.now(UTC) - timedelta(days=1))


@pytest.fixture(scope="session")
def other_pki() -> DevPki:
    return DevPki.create(now=datetime.now(UTC) - timedelta(days=1))


@pytest.fixture
def root_pem(pki: DevPki, tmp_path: Path) -> Path:
    path = tmp_path / "root-ca.pem"
    path.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
async def ocsp_responder(pki: DevPki) -> AsyncIterator[OcspResponder]:
    responder = OcspResponder(pki=pki)
    app = web.Application()
    app.router.add_post("/ocsp", responder.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    responder.url = str(server.make_url("/ocsp"))
    yield responder
    await server.close()


def issue(
    pki: DevPki,
    *,
    ocsp_url: str,
    now: datetime | None = None,
    validity: timedelta = timedelta(days=90),
    responder: OcspResponder | None = None,
) -> CardholderCredential:
    credential = CardholderCredential.issue(
        pki,
        typed_card(),
        now=now or datetime.now(UTC),
        crl_url=f"{ISSUER_ORIGIN}/crl",
        ocsp_url=ocsp_url,
        validity=validity,
    )
    if responder is not None:
        responder.register(credential.certificate)
    return credential


@pytest.fixture
def credential(pki: DevPki, ocsp_responder: OcspResponder) -> CardholderCredential:
    return issue(pki, ocsp_url=ocsp_responder.url, responder=ocsp_responder)


def issuer_metadata(pki: DevPki, *, bins: tuple[str, ...] = ("411111",)) -> dict[str, Any]:
    return {
        "version": 1,
        "issuerName": "Demo Bank",
        "issuerOrigin": ISSUER_ORIGIN,
        "caCertificate": pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode(),
        "binPrefixes": list(bins),
        "payUrl": f"{ISSUER_ORIGIN}/pay",
        "enrollUrl": f"{ISSUER_ORIGIN}/enroll",
        "ocspUrl": f"{ISSUER_ORIGIN}/ocsp",
        "crlUrl": f"{ISSUER_ORIGIN}/crl",
        "statusUrl": ISSUER_ORIGIN + "/status/{fingerprint}",
        "serviceWorker": {"url": f"{ISSUER_ORIGIN}/sw.js", "scope": "/pay"},
        "statusFreshnessSeconds": 86400,
    }


@dataclass
class Merchant:
    """A running merchant service with one merchant account and the test issuer."""

    client: TestClient[web.Request, web.Application]
    app: web.Application
    api_key: str
    merchant_id: str
    clock: Clock
    settings: Settings

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def create_checkout(
        self, *, expect: int = 201, headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "amount": "12.30",
            "currency": "EUR",
            "orderReference": "order-1",
            "returnUrl": RETURN_URL,
            "card": {"bin": "411111", "last4": "1111"},
        }
        body.update(fields)
        response = await self.client.post(
            "/v1/checkouts", json=body, headers={**self.auth, **(headers or {})}
        )
        data: dict[str, Any] = await response.json()
        assert response.status == expect, data
        return data

    async def verify(
        self,
        checkout_id: str,
        presentation: Any,
        *,
        card: dict[str, str] | None = None,
        expect: int = 200,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"presentation": presentation}
        if card is not None:
            body["cardData"] = card
        response = await self.client.post(
            f"/v1/checkouts/{checkout_id}/verify", json=body, headers=self.auth
        )
        data: dict[str, Any] = await response.json()
        assert response.status == expect, data
        return data

    async def status(self, checkout_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/checkouts/{checkout_id}", headers=self.auth)
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        return data

    async def evidence(self, evidence_id: str) -> str:
        response = await self.client.get(f"/v1/evidence/{evidence_id}", headers=self.auth)
        assert response.status == 200
        return await response.text()


def present(
    credential: CardholderCredential,
    checkout: dict[str, Any],
    *,
    staple: bytes | None = None,
    signed_at: datetime | None = None,
    confirmation: Confirmation = Confirmation.EXPLICIT,
    **overrides: str,
) -> Presentation:
    """Sign the checkout's transaction request as the Service Worker would."""
    fields = transaction_fields(checkout["transactionRequest"]) | overrides
    return credential.present(
        **fields,
        signed_at=signed_at or datetime.now(UTC),
        status=staple,
        confirmation=confirmation,
    )


MerchantFactory = Callable[..., Awaitable[Merchant]]


@pytest.fixture
def make_merchant(
    aiohttp_client: Any, tmp_path: Path, root_pem: Path, pki: DevPki
) -> MerchantFactory:
    counter = iter(range(1000))

    async def factory(database_url: str, **overrides: Any) -> Merchant:
        clock = overrides.pop("clock", None) or Clock()
        values: dict[str, Any] = {
            "data_dir": tmp_path / f"merchant-{next(counter)}",
            "database_url": database_url,
            "trust_roots": (root_pem,),
            "card_data_key": bytes(range(32)),
            "public_origin": SHOP_ORIGIN,
            "shop_enabled": True,
        }
        values.update(overrides)
        settings = Settings(**values)
        app = create_app(settings, clock=clock)
        client = await aiohttp_client(app)
        api_key = generate_api_key("mk")
        merchant_id = "mer_test" + str(next(counter))
        await app[STORE].create_merchant(
            merchant_id=merchant_id,
            name=MERCHANT_NAME,
            allowed_origins=(SHOP_ORIGIN,),
            key_hash=hash_api_key(api_key),
            now=clock(),
        )
        await save_issuer(
            app[ENGINE],
            parse_issuer_metadata(issuer_metadata(pki), roots=[pki.root]),
            source="test",
            now=clock(),
        )
        return Merchant(
            client=client,
            app=app,
            api_key=api_key,
            merchant_id=merchant_id,
            clock=clock,
            settings=settings,
        )

    return factory


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/merchant.sqlite3"


def decode_redirect(url: str) -> dict[str, Any]:
    """The transaction request carried in a pay URL (``?request=<b64url JSON>``)."""
    match = re.search(r"[?&]request=([A-Za-z0-9_-]+)", url)
    assert match is not None
    decoded: dict[str, Any] = json.loads(b64url_decode(match.group(1), error=ValueError, what="r"))
    return decoded


_SECRETS = (
    re.compile(r"(?<![0-9])" + TEST_PAN_DIGITS + r"(?![0-9])"),
    re.compile(r"4111[ -]?1111[ -]?1111[ -]?1111"),
    re.compile(r"(?<![0-9])" + TEST_CVC + r"(?![0-9])"),
)


@pytest.fixture(autouse=True)
def no_card_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every merchant test runs with DEBUG logging captured and scanned for card data."""
    caplog.set_level(logging.DEBUG)
    yield
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_text:
            texts.append(record.exc_text)
    joined = "\n".join(texts)
    for pattern in _SECRETS:
        assert not pattern.search(joined), f"card data in logs: {pattern.pattern}"
