"""Abuse limits (issue 7): online guessing, floods, oversized and over-deep bodies, headers.

Both services run for real on 127.0.0.1 (pytest-aiohttp's server, SQLite in ``tmp_path``).
Distinct clients are distinct source addresses: Linux routes all of 127.0.0.0/8 to the
loopback interface, so a client bound to 127.0.0.2 is a different ``request.remote`` from
one bound to 127.0.0.3, with no proxy header to trust.

* Activation-code guessing is bounded per card (a code locks after N wrong guesses at its
  locator, from any number of addresses), and per client (a request rate per worker and a
  failure budget shared by all workers), each refusal with its stable code and, for rate
  limits, ``Retry-After``.
* Checkout creation at the merchant is rate limited per merchant API key and per client
  address (``MERCHANT_CHECKOUT_RATE`` / ``MERCHANT_CHECKOUT_BURST``), ``Retry-After`` too.
* Every operation with a request body, enumerated from the served OpenAPI documents
  (which tests/issuer/test_metadata.py and tests/merchant/test_checkouts.py hold to the
  routers), refuses an oversized body with ``413 payload_too_large`` and an over-deep
  JSON body with ``400 request_malformed``; the limits are exact.
* Every HTML page of both services and the demo shop, found by requesting every route of
  the apps' routers, carries CSP (no ``'unsafe-inline'`` script), ``frame-ancestors``,
  ``Referrer-Policy`` and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from pytest_aiohttp import AiohttpClient

from certs.dev_pki import DevPki
from certs.errors import all_error_classes
from certs.wire import MAX_JSON_DEPTH, b64url_encode
from issuer.activation_codes import ALPHABET, ActivationCode
from issuer.settings import IssuerSettings
from merchant.app import create_app as create_merchant_app
from merchant.app_keys import DEMO_MERCHANT, ENGINE, STORE
from merchant.issuer_directory import parse_issuer_metadata, save_issuer
from merchant.settings import ConfigurationError, Settings
from servicekit.api_keys import generate_api_key, hash_api_key
from servicekit.json_body import MAX_BODY_BYTES
from servicekit.middleware import security_headers
from tests import figures
from tests.issuer.conftest import issuer_settings, start_issuer
from tests.issuer.helpers import Device, FakeClock, Issuer, TestCard
from tests.merchant.conftest import RETURN_URL, SHOP_ORIGIN, issuer_metadata

REJECTED = "cases rejected"
_OVERSIZED = 300 * 1024  # above every body limit of both services (64 KiB JSON, 256 KiB forms)


# --- clients at distinct addresses ------------------------------------------------------


@asynccontextmanager
async def client_at(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from ``address`` (a loopback address)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def base_url(client: TestClient[web.Request, web.Application]) -> str:
    return str(client.make_url("")).rstrip("/")


async def error_of(response: aiohttp.ClientResponse) -> tuple[int, str]:
    """(status, stable error code) of an error answer."""
    body = await response.json()
    return response.status, str(body["error"]["code"])


def retry_after(response: aiohttp.ClientResponse, *, at_most: float) -> int:
    """The Retry-After seconds (RFC 9110 section 10.2.3), checked to be in 1..at_most."""
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= at_most, seconds
    return seconds


# --- the services ------------------------------------------------------------------------


async def issuer_at(
    aiohttp_client: AiohttpClient, tmp_path: Path, **changes: Any
) -> tuple[Issuer, str]:
    """The issuer app on SQLite (with the repository's Service Worker files unless a
    ``service_worker_dir`` is given) and its base URL."""
    changes.setdefault("service_worker_dir", IssuerSettings().service_worker_dir)
    settings = issuer_settings(
        tmp_path / "issuer", f"sqlite+aiosqlite:///{tmp_path}/issuer.sqlite3", **changes
    )
    issuer = await start_issuer(aiohttp_client, settings, FakeClock())
    return issuer, base_url(issuer.client)


@dataclass
class Merchant:
    client: TestClient[web.Request, web.Application]
    url: str
    pki: DevPki

    @property
    def app(self) -> web.Application:
        return self.client.app

    async def new_key(self) -> str:
        """A new merchant account (shop origin allowed) and its API key."""
        key = generate_api_key("mk")
        await self.app[STORE].create_merchant(
            merchant_id="mer_" + secrets.token_hex(6),
            name="Abuse Test Shop",
            allowed_origins=(SHOP_ORIGIN,),
            key_hash=hash_api_key(key),
            now=datetime.now(UTC),
        )
        return key


CHECKOUT = {
    "amount": "12.30",
    "currency": "EUR",
    "returnUrl": RETURN_URL,
    "card": {"bin": "411111", "last4": "1111"},
}


def _accepting_operations(
    services: Services,
) -> tuple[tuple[str, dict[str, Any], dict[str, str], int], ...]:
    """One JSON operation per service with a body it accepts: (URL, fields, headers, the
    status of success), for the body-limit tests that need a request on each side of a
    bound."""
    merchant_auth = {"Authorization": f"Bearer {services.merchant_key}"}
    return (
        (f"{services.issuer_url}/v1/enrollment/challenge", {}, {}, 200),
        (f"{services.merchant.url}/v1/checkouts", CHECKOUT, merchant_auth, 201),
    )


async def merchant_at(aiohttp_client: AiohttpClient, tmp_path: Path, **changes: Any) -> Merchant:
    """The merchant app with its demo shop on SQLite, trusting a fresh test PKI."""
    pki = DevPki.create(now=datetime.now(UTC) - timedelta(days=1))
    tmp_path.mkdir(parents=True, exist_ok=True)
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    settings = Settings(
        data_dir=tmp_path / "merchant",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/merchant.sqlite3",
        trust_roots=(root,),
        card_data_key=bytes(range(32)),
        public_origin=SHOP_ORIGIN,
        shop_enabled=True,
        **changes,
    )
    client = await aiohttp_client(create_merchant_app(settings))
    await save_issuer(
        client.app[ENGINE],
        parse_issuer_metadata(issuer_metadata(pki), roots=[pki.root]),
        source="test",
        now=datetime.now(UTC),
    )
    return Merchant(client=client, url=base_url(client), pki=pki)


# --- activation codes --------------------------------------------------------------------


async def enroll(
    session: aiohttp.ClientSession, url: str, origin: str, code: str
) -> aiohttp.ClientResponse:
    """One enrollment attempt with ``code`` and a fresh device (challenge, proof)."""
    async with session.post(f"{url}/v1/enrollment/challenge", json={}) as response:
        assert response.status == 200, await response.text()
        challenge = (await response.json())["challenge"]
    body = Device().enrollment_body(code, origin, challenge)
    async with session.post(f"{url}/v1/enrollment", json=body) as response:
        await response.read()
        return response


def wrong_guess_at(code: str) -> str:
    """A guess with the code's locator (first group) and a random secret."""
    locator = ActivationCode.parse(code).locator
    return locator + "".join(secrets.choice(ALPHABET) for _ in range(12))


async def test_guesses_at_one_card_lock_its_code_whatever_the_addresses(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Per card: N wrong guesses at a card's code, each from another address (so no
    per-client limit applies), lock the code: then even the right code is refused with
    ``activation_code_locked`` (423). Bound: N / 2^60 per code (docs/issuer.md)."""
    issuer, url = await issuer_at(aiohttp_client, tmp_path)
    code = (await issuer.register(TestCard()))["activationCode"]
    attempts = issuer.settings.activation_max_attempts
    for attacker in range(attempts):
        async with client_at(f"127.0.0.{10 + attacker}") as session:
            response = await enroll(session, url, issuer.origin, wrong_guess_at(code))
            assert await error_of(response) == (400, "activation_code_invalid")
    async with client_at("127.0.0.99") as cardholder:
        response = await enroll(cardholder, url, issuer.origin, code)
        assert await error_of(response) == (423, "activation_code_locked")
    figures.add(REJECTED, "activation-code guesses (locked code)", attempts + 1)


async def test_a_guessing_client_exhausts_its_failure_budget_and_only_its_own(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Per client: after ``ISSUER_ENROLL_MAX_FAILURES`` refused enrollments an address is
    refused ``rate_limited`` (429, Retry-After within the failure window) before its
    request is looked at, even with a right code; another address enrolls normally."""
    issuer, url = await issuer_at(aiohttp_client, tmp_path, enroll_max_failures=3)
    mine = (await issuer.register(TestCard()))["activationCode"]
    theirs = (await issuer.register(TestCard()))["activationCode"]
    window = issuer.settings.enroll_failure_window.total_seconds()
    async with client_at("127.0.0.2") as attacker:
        for _ in range(3):
            response = await enroll(
                attacker, url, issuer.origin, ActivationCode.generate().display()
            )
            assert await error_of(response) == (400, "activation_code_invalid")
        response = await enroll(attacker, url, issuer.origin, mine)
        assert await error_of(response) == (429, "rate_limited")
        retry_after(response, at_most=window)
    async with client_at("127.0.0.3") as cardholder:
        response = await enroll(cardholder, url, issuer.origin, theirs)
        assert response.status == 201
    figures.add(REJECTED, "activation-code guesses (failure budget)", 4)


async def test_cardholder_requests_are_rate_limited_per_client(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Per client, per worker: beyond ``ISSUER_ENROLL_BURST`` requests (challenges,
    enrollment, renewal) at ``ISSUER_ENROLL_RATE`` per minute an address gets
    ``rate_limited`` (429) with ``Retry-After`` (one token at 1/minute: up to 60 s);
    another address is not affected."""
    _issuer, url = await issuer_at(
        aiohttp_client, tmp_path, enroll_rate_per_minute=1, enroll_burst=3
    )
    async with client_at("127.0.0.2") as flooder:
        for _ in range(3):
            async with flooder.post(f"{url}/v1/enrollment/challenge", json={}) as response:
                assert response.status == 200
        async with flooder.post(f"{url}/v1/enrollment/challenge", json={}) as response:
            assert await error_of(response) == (429, "rate_limited")
            retry_after(response, at_most=60)
        async with flooder.post(f"{url}/v1/enrollment", json={}) as response:
            assert await error_of(response) == (429, "rate_limited")
    async with (
        client_at("127.0.0.3") as other,
        other.post(f"{url}/v1/enrollment/challenge", json={}) as response,
    ):
        assert response.status == 200
    figures.add(REJECTED, "cardholder requests over the rate (429)", 2)


# --- checkout creation ---------------------------------------------------------------------


async def create_checkout(
    session: aiohttp.ClientSession, url: str, key: str | None
) -> aiohttp.ClientResponse:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with session.post(f"{url}/v1/checkouts", json=CHECKOUT, headers=headers) as response:
        await response.read()
        return response


def test_checkout_limits_are_settings() -> None:
    """``MERCHANT_CHECKOUT_RATE`` / ``MERCHANT_CHECKOUT_BURST`` configure the limits, with
    the defaults of docs/merchant.md, and nonsense is refused at start-up."""
    defaults = Settings()
    assert (defaults.checkout_rate_per_minute, defaults.checkout_burst) == (600.0, 300)
    configured = Settings.from_env({"MERCHANT_CHECKOUT_RATE": "30", "MERCHANT_CHECKOUT_BURST": "5"})
    assert (configured.checkout_rate_per_minute, configured.checkout_burst) == (30.0, 5)
    assert not defaults.trust_forwarded_for
    assert Settings.from_env({"MERCHANT_TRUST_FORWARDED_FOR": "1"}).trust_forwarded_for
    for variable, value in (
        ("MERCHANT_CHECKOUT_RATE", "0"),
        ("MERCHANT_CHECKOUT_RATE", "fast"),
        ("MERCHANT_CHECKOUT_BURST", "1.5"),
        ("MERCHANT_CHECKOUT_BURST", "0"),
    ):
        with pytest.raises(ConfigurationError):
            Settings.from_env({variable: value})


async def test_checkout_creation_is_rate_limited_per_api_key(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Per merchant API key: a key that used its burst is refused ``rate_limited`` (429,
    Retry-After up to 60 s at 1/minute) from any address; another key is not."""
    merchant = await merchant_at(
        aiohttp_client, tmp_path, checkout_rate_per_minute=1, checkout_burst=3
    )
    busy, calm = await merchant.new_key(), await merchant.new_key()
    for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        async with client_at(address) as session:
            assert (await create_checkout(session, merchant.url, busy)).status == 201
    async with client_at("127.0.0.5") as session:
        response = await create_checkout(session, merchant.url, busy)
        assert await error_of(response) == (429, "rate_limited")
        retry_after(response, at_most=60)
        assert (await create_checkout(session, merchant.url, calm)).status == 201
    figures.add(REJECTED, "checkout creations over the per-key rate (429)", 1)


async def test_checkout_creation_is_rate_limited_per_client(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Per client address, checked before the key: one address that used its burst is
    refused ``rate_limited`` whatever key it presents (or none: unauthenticated floods
    count too), in the API and in the demo shop's form; another address is not."""
    merchant = await merchant_at(
        aiohttp_client, tmp_path, checkout_rate_per_minute=1, checkout_burst=3
    )
    async with client_at("127.0.0.2") as flooder:
        assert (await create_checkout(flooder, merchant.url, None)).status == 401
        for _ in range(2):
            response = await create_checkout(flooder, merchant.url, await merchant.new_key())
            assert response.status == 201
        for key in (await merchant.new_key(), None):
            response = await create_checkout(flooder, merchant.url, key)
            assert await error_of(response) == (429, "rate_limited")
            retry_after(response, at_most=60)
        async with flooder.post(f"{merchant.url}/shop/checkout", data={"item": "cup"}) as response:
            assert await error_of(response) == (429, "rate_limited")
    async with client_at("127.0.0.3") as other:
        response = await create_checkout(other, merchant.url, await merchant.new_key())
        assert response.status == 201
    assert merchant.app[DEMO_MERCHANT].name  # the shop's own account exists
    figures.add(REJECTED, "checkout creations over the per-client rate (429)", 3)


async def _create_from(
    session: aiohttp.ClientSession, url: str, key: str, forwarded_for: str
) -> int:
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": forwarded_for}
    async with session.post(f"{url}/v1/checkouts", json=CHECKOUT, headers=headers) as response:
        await response.read()
        return response.status


@pytest.mark.parametrize("trusted", [False, True])
async def test_per_client_limits_follow_x_forwarded_for_only_when_trusted(
    aiohttp_client: AiohttpClient, tmp_path: Path, trusted: bool
) -> None:
    """Behind a reverse proxy every shopper arrives from the proxy's address; with
    ``MERCHANT_TRUST_FORWARDED_FOR`` the limit keys on the entry the proxy appended (the
    last one), so one flooding client does not use up everyone's budget. Without it the
    header is ignored: a client cannot escape its limit by writing its own header."""
    merchant = await merchant_at(
        aiohttp_client,
        tmp_path,
        checkout_rate_per_minute=1,
        checkout_burst=2,
        trust_forwarded_for=trusted,
    )
    key = await merchant.new_key()
    async with client_at("127.0.0.4") as proxy:
        flood = [
            await _create_from(proxy, merchant.url, key, f"198.51.100.7, 203.0.113.{n}")
            for n in (1, 1, 1)
        ]
        other = await _create_from(proxy, merchant.url, await merchant.new_key(), "203.0.113.2")
    assert flood == [201, 201, 429]
    # Trusted: 203.0.113.2 has its own budget. Untrusted: all of it is 127.0.0.4's.
    assert other == (201 if trusted else 429)
    figures.add(REJECTED, "checkout creations over the per-client rate (429)", 2 - trusted)


# --- body size and JSON depth, for every operation with a body ----------------------------


@dataclass(frozen=True)
class BodyOperation:
    """One documented operation that takes a request body."""

    path: str
    method: str
    media_type: str
    secured: bool

    def url(self, base: str) -> str:
        """The operation's URL, path parameters filled with an identifier of no object."""
        return base + re.sub(r"\{[^}]+\}", "x", self.path)


def body_operations(document: dict[str, Any]) -> list[BodyOperation]:
    """Every operation of a served OpenAPI document that declares a request body."""
    found = [
        BodyOperation(
            path=path,
            method=method.upper(),
            media_type=next(iter(operation["requestBody"]["content"])),
            secured=bool(operation.get("security")),
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert found
    return found


def nested(depth: int) -> Any:
    """A JSON value of ``depth`` nested arrays (``[[[]]]`` is 3)."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@dataclass
class Services:
    issuer: Issuer
    issuer_url: str
    merchant: Merchant
    merchant_key: str


@pytest.fixture
async def services(aiohttp_client: AiohttpClient, tmp_path: Path) -> Services:
    issuer, issuer_url = await issuer_at(aiohttp_client, tmp_path / "i")
    merchant = await merchant_at(aiohttp_client, tmp_path / "m")
    return Services(issuer, issuer_url, merchant, await merchant.new_key())


async def each_body_operation(
    services: Services,
    send: Callable[[aiohttp.ClientSession, str, BodyOperation, dict[str, str]], Awaitable[None]],
) -> int:
    """Call ``send(session, url, operation, headers)`` for every documented body operation
    of both services (API keys for secured ones); the number of operations."""
    count = 0
    async with aiohttp.ClientSession() as session:
        for base, auth in (
            (services.issuer_url, services.issuer.auth),
            (services.merchant.url, {"Authorization": f"Bearer {services.merchant_key}"}),
        ):
            async with session.get(f"{base}/openapi.json") as response:
                document = await response.json()
            for operation in body_operations(document):
                url = operation.url(base)
                await send(session, url, operation, auth if operation.secured else {})
                count += 1
    return count


async def test_every_body_operation_refuses_an_oversized_body(services: Services) -> None:
    """A 300 KiB body is refused ``payload_too_large`` (413) by every documented operation
    of both services; the OCSP responder answers an OCSP ``malformedRequest`` instead, as
    RFC 6960 section 2.3 has OCSP errors be OCSP responses."""

    async def send(
        session: aiohttp.ClientSession, url: str, operation: BodyOperation, headers: dict[str, str]
    ) -> None:
        if operation.media_type == "application/json":
            body = json.dumps({"pad": "a" * _OVERSIZED}).encode()
        elif operation.media_type == "application/x-www-form-urlencoded":
            body = ("request=" + "a" * _OVERSIZED).encode()
        else:
            body = b"\x30" * _OVERSIZED
        headers = {**headers, "Content-Type": operation.media_type}
        async with session.request(operation.method, url, data=body, headers=headers) as response:
            if operation.media_type == "application/ocsp-request":
                parsed = ocsp.load_der_ocsp_response(await response.read())
                assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            else:
                assert await error_of(response) == (413, "payload_too_large"), operation

    count = await each_body_operation(services, send)
    figures.add(REJECTED, "oversized request bodies", count)


async def test_json_bodies_have_an_exact_size_limit_even_when_chunked(services: Services) -> None:
    """64 KiB of JSON is read; one byte more is ``payload_too_large``, with or without a
    Content-Length (a chunked body is counted as it arrives)."""

    def padded(size: int, fields: dict[str, Any]) -> bytes:
        base = json.dumps({**fields, "pad": ""}).encode()
        body = json.dumps({**fields, "pad": "a" * (size - len(base))}).encode()
        assert len(body) == size
        return body

    async def chunked(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    async with aiohttp.ClientSession() as session:
        for url, fields, auth, ok in _accepting_operations(services):
            headers = {**auth, "Content-Type": "application/json"}
            body = padded(MAX_BODY_BYTES, fields)
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == ok, await response.text()
            over = padded(MAX_BODY_BYTES + 1, fields)
            async with session.post(url, data=over, headers=headers) as response:
                assert await error_of(response) == (413, "payload_too_large")
            async with session.post(url, data=chunked(over), headers=headers) as response:
                assert "Content-Length" not in response.request_info.headers
                assert await error_of(response) == (413, "payload_too_large")
    figures.add(REJECTED, "oversized request bodies", 4)


async def test_every_json_operation_refuses_json_nested_too_deeply(services: Services) -> None:
    """JSON nested beyond ``MAX_JSON_DEPTH`` is ``request_malformed`` (400) at every
    documented JSON operation of both services, before any other check of the body."""

    async def send(
        session: aiohttp.ClientSession, url: str, operation: BodyOperation, headers: dict[str, str]
    ) -> None:
        if operation.media_type != "application/json":
            return
        body = {"pad": nested(MAX_JSON_DEPTH)}  # the object itself is one more level
        async with session.request(operation.method, url, json=body, headers=headers) as response:
            assert await error_of(response) == (400, "request_malformed"), operation
        figures.add(REJECTED, "over-deep JSON bodies", 1)

    await each_body_operation(services, send)


async def test_the_json_depth_limit_is_exact_and_deep_nesting_is_harmless(
    services: Services,
) -> None:
    """Depth ``MAX_JSON_DEPTH`` is accepted, one more is ``request_malformed``; so is
    nesting as deep as 64 KiB allows (30,000 levels: past Python's recursion limit, it
    must not become a 500)."""
    async with aiohttp.ClientSession() as session:
        for url, fields, auth, ok in _accepting_operations(services):
            deepest = {**fields, "extra": nested(MAX_JSON_DEPTH - 1)}
            async with session.post(url, json=deepest, headers=auth) as response:
                assert response.status == ok, await response.text()
            too_deep = {**fields, "extra": nested(MAX_JSON_DEPTH)}
            async with session.post(url, json=too_deep, headers=auth) as response:
                assert await error_of(response) == (400, "request_malformed")
            abyss = b'{"extra": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
            headers = {**auth, "Content-Type": "application/json"}
            async with session.post(url, data=abyss, headers=headers) as response:
                assert await error_of(response) == (400, "request_malformed")
    figures.add(REJECTED, "over-deep JSON bodies", 4)


_MALFORMED_BODIES = (
    ("multipart/form-data", b"item=cup"),  # no boundary
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\nx"),
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"item=cup"),
    ("application/json", b'{"pan": "\xff\xfe"}'),
    ("application/json; charset=no-such-charset", b"{}"),
)


async def test_malformed_bodies_never_cause_a_server_error(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Every POST route of both routers (API, browser forms and the demo shop), sent
    bodies its parser cannot read (multipart without a boundary or with a nameless part,
    an unknown charset, bytes that are not UTF-8), answers without a 5xx, and any refusal
    is the error JSON with a stable code. Found by schemathesis: a multipart body without
    a boundary was a 500 (now ``request_malformed``, servicekit.form_body)."""
    issuer, issuer_url = await issuer_at(aiohttp_client, tmp_path / "i")
    merchant = await merchant_at(aiohttp_client, tmp_path / "m")
    merchant_auth = {"Authorization": f"Bearer {await merchant.new_key()}"}
    codes = {cls.code for cls in all_error_classes()}
    sent = 0
    async with aiohttp.ClientSession() as session:
        for app, base, auth in (
            (issuer.app, issuer_url, issuer.auth),
            (merchant.app, merchant.url, merchant_auth),
        ):
            for route in app.router.routes():
                if route.method != "POST":
                    continue
                for content_type, body in _MALFORMED_BODIES:
                    async with session.post(
                        base + route_path(route),
                        data=body,
                        headers={**auth, "Content-Type": content_type},
                        allow_redirects=False,
                    ) as response:
                        label = (route.resource.canonical if route.resource else "", content_type)
                        assert response.status < 500, (label, await response.text())
                        if response.status >= 400:
                            assert (await response.json())["error"]["code"] in codes, label
                    sent += 1
    figures.add(REJECTED, "unreadable request bodies (no 5xx)", sent)


# --- security headers on every HTML page -----------------------------------------------------

# Inputs offered to every route: path parameters, query (GET) and form fields (POST). A
# route that needs other inputs to answer HTML must have them added here, or it is not
# checked. The PAN is deliberately not Luhn-valid: the shop answers its form again, with
# the error (and no card data goes into a query string, where access logs would see it).
SAMPLE_PATH = {
    "path": "enroll.js",
    "filename": "shop.css",
    "fingerprint": "x",
    "card_id": "x",
    "credential_id": "x",
    "checkout_id": "x",
    "evidence_id": "x",
    "request": "x",
}
SAMPLE_QUERY = {"item": "cup", "request": b64url_encode(b"{}")}
SAMPLE_FORM = {
    "item": "cup",
    "result": "cancelled",
    "request": "{}",
    "pan": "4111 1111 1111 1112",
    "expiry": "12/39",
    "securityCode": "1",
    "name": "x",
}
_SAFE_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}


def csp_directives(header: str) -> dict[str, list[str]]:
    """A CSP header's directives (CSP Level 3 section 2.2): name -> source list."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens:
            directives.setdefault(tokens[0].lower(), tokens[1:])
    return directives


def check_page_headers(label: str, headers: Any) -> None:
    """The security headers every HTML page must carry."""
    assert headers.get("X-Content-Type-Options") == "nosniff", label
    assert headers.get("Referrer-Policy") in _SAFE_REFERRER_POLICIES, label
    policy = headers.get("Content-Security-Policy")
    assert policy, f"{label}: no Content-Security-Policy"
    directives = csp_directives(policy)
    # CSP3 section 6.1.1: without script-src, default-src governs scripts.
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{label}: scripts unrestricted"
    assert "'unsafe-inline'" not in scripts, label
    assert "'unsafe-eval'" not in scripts, label
    assert "*" not in scripts, label
    frames = directives.get("frame-ancestors")
    assert frames == ["'none'"] or headers.get("X-Frame-Options") in ("DENY", "SAMEORIGIN"), label


def route_path(route: web.AbstractRoute) -> str:
    """A concrete path for ``route``, its parameters filled from :data:`SAMPLE_PATH`."""
    assert route.resource is not None
    info = route.resource.get_info()
    if "directory" in info:  # a static route: one of its files
        template = info["prefix"] + "/{filename}"
    else:
        template = info.get("formatter") or info["path"]
    path = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: SAMPLE_PATH.get(m.group(1), m.group(0)), template)
    assert "{" not in path, f"{route.resource.canonical}: add a sample for its path parameter"
    return path


async def html_pages(
    session: aiohttp.ClientSession, app: web.Application, base: str, form: dict[str, str]
) -> dict[str, int]:
    """Request every route of ``app``'s router with the sample inputs; check every HTML
    answer's headers; return the routes that answered HTML (with how often)."""
    pages: dict[str, int] = {}
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        label = f"{route.method} {route.resource.canonical}"
        get = route.method == "GET"
        async with session.request(
            route.method,
            base + route_path(route),
            params=SAMPLE_QUERY if get else None,
            data=None if get else {**SAMPLE_FORM, **form},
            allow_redirects=False,
        ) as response:
            await response.read()
            # Every answer, HTML or not, forbids MIME sniffing.
            assert response.headers.get("X-Content-Type-Options") == "nosniff", label
            if response.content_type == "text/html":
                check_page_headers(label, response.headers)
                pages[label] = pages.get(label, 0) + 1
    return pages


async def test_every_html_page_carries_the_security_headers(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Every route of the issuer (with the real Service Worker files, and with none: the
    placeholder pages), of the merchant and of the demo shop is requested; each answer
    that is an HTML page has a CSP whose scripts exclude ``'unsafe-inline'``, frame
    ancestors denied, a Referrer-Policy and ``nosniff``."""
    issuer, issuer_url = await issuer_at(aiohttp_client, tmp_path / "i")
    bare, bare_url = await issuer_at(
        aiohttp_client, tmp_path / "b", service_worker_dir=tmp_path / "no-worker-files"
    )
    merchant = await merchant_at(aiohttp_client, tmp_path / "m")
    key = await merchant.new_key()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{merchant.url}/v1/checkouts",
            json=CHECKOUT,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            checkout_id = (await response.json())["checkoutId"]
        found = {
            "issuer": await html_pages(session, issuer.app, issuer_url, {}),
            "issuer without worker files": await html_pages(session, bare.app, bare_url, {}),
            "merchant and demo shop": await html_pages(
                session, merchant.app, merchant.url, {"checkoutId": checkout_id}
            ),
        }
    # The enumeration reached the pages (a sanity check of the inputs, not the list).
    assert {"GET /enroll", "GET /pay"} <= set(found["issuer"])
    assert {"GET /enroll", "GET /pay"} <= set(found["issuer without worker files"])
    assert {
        "GET /shop",
        "GET /shop/checkout",
        "POST /shop/checkout",
        "POST /checkout/return",
    } <= set(found["merchant and demo shop"])
    for service, pages in found.items():
        figures.add("HTML pages checked", service, len(pages))


async def test_a_file_response_is_covered_although_its_type_is_set_late(tmp_path: Path) -> None:
    """``web.FileResponse`` decides its Content-Type when it is sent, after the middleware
    has run: an HTML or SVG file served by a static route (as the merchant's ``/static/``
    is) must still get the CSP."""
    (tmp_path / "page.html").write_text("<!doctype html><title>x</title>", encoding="utf-8")
    (tmp_path / "icon.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', encoding="utf-8"
    )
    app = web.Application(middlewares=[security_headers])
    app.router.add_static("/static/", tmp_path)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as session:
            for name, media_type in (("page.html", "text/html"), ("icon.svg", "image/svg+xml")):
                async with session.get(f"{base}/static/{name}") as response:
                    assert response.content_type == media_type
                    check_page_headers(name, response.headers)
    finally:
        await runner.cleanup()
