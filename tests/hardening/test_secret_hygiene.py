"""Secret hygiene end to end (issue 7): a full flow at DEBUG leaks no secret anywhere.

The issuer and the merchant (with its demo shop) run in process on 127.0.0.1 over real
HTTP, on SQLite files or on PostgreSQL. The root logger and every logger are at DEBUG and
captured raw, before any redaction, together with the process's stdout and stderr; every
response either service sends (to the test or to the other service) is recorded, headers
and body, by the server's access logger, which also writes ``aiohttp.access`` lines.

The flow: the back office registers a card (PAN, expiry, security code, name) and gets an
activation code; the cardholder enrolls a P-256 key with proof of possession (signed as
the Service Worker signs, :mod:`certs.credential`) and renews it; the cardholder pays at the
merchant through the API (stapled status, then live OCSP) and in the demo shop (form post,
browser return endpoint); evidence is exported; the credential is revoked. Failure paths
whose error bodies must not echo what they were sent: malformed JSON holding a PAN, a PAN
as a number, a bad expiry, unknown and misused API keys, a wrong activation code, a bad
proof of possession, a wrong security code (card-data digest mismatch), a replayed
presentation, a malformed presentation holding the card-data secret, a revoked
certificate, a shop form with a bad security code.

Every secret of the run is then searched, in every encoding :class:`SecretScanner` knows,
in the logs, both ``/metrics`` outputs, every response body and header, the raw bytes of
the SQLite files (with ``-wal``/``-shm``) and their rows, and a ``pg_dump`` of PostgreSQL.
Allowed by design, and asserted positively instead: the issuer keeps card data only as
AES-256-GCM ciphertext (which opens to the card with the issuer's key), the PAN and the
activation codes as keyed HMACs, API keys as SHA-256; the merchant keeps card data of a
pending checkout only as ciphertext; the back office receives the activation code in the
response that issues it; the shop's refused form shows the expiry and name it was sent back
to the shopper (never the PAN or security code).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import sqlite3
import subprocess
import textwrap
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_log import AccessLogger
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.credential import CardholderCredential, transaction_fields
from certs.dev_pki import DevPki
from certs.proof_of_possession import PopPurpose
from certs.wire import b64url_decode, b64url_encode
from issuer.activation_codes import ActivationCode, ActivationCodeHasher
from issuer.card_vault import CardVault as IssuerCardVault
from merchant.card_vault import CardVault as MerchantCardVault
from servicekit.api_keys import hash_api_key
from servicekit.key_files import read_key_file
from servicekit.local_service import free_loopback_port
from tests import figures
from tests.issuer.helpers import Device, make_pan
from tests.postgres_cluster import find_pg_bin

# --------------------------------------------------------------------------- the scanner

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_SEPARATOR = b"\n\x00\n"
_SHORTEST_NEEDLE = 8


def base64_cores(data: bytes, *, shortest: int = 12) -> set[bytes]:
    """Base64 and base64url text that encodes ``data`` wherever it sits in a longer input.

    For each of the three byte alignments, only the characters fed by bits of ``data``
    alone (the ones around it depend on the neighbouring bytes).
    """
    cores: set[bytes] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data)
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6]
        if len(core) >= shortest:
            cores |= {core, core.translate(_URLSAFE)}
    return cores


def text_forms(value: str, *, fold_case: bool = False) -> dict[str, bytes]:
    """A text secret as written, percent-encoded, hex of its UTF-8, and inside base64."""
    raw = value.encode("utf-8")
    forms = {
        "plain": raw,
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "percent-encoded": quote(value, safe="").encode(),
        "form-encoded": quote_plus(value).encode(),
    }
    if fold_case:
        forms |= {"lower case": value.lower().encode(), "upper case": value.upper().encode()}
    forms |= {f"base64 #{i}": core for i, core in enumerate(sorted(base64_cores(raw)))}
    return forms


def binary_forms(value: bytes) -> dict[str, bytes]:
    """Secret bytes raw, as hex (PostgreSQL's bytea text too), Python ``repr``, base64."""
    forms = {
        "raw": value,
        "hex": value.hex().encode(),
        "HEX": value.hex().upper().encode(),
        "Python repr": repr(value)[2:-1].encode(),
    }
    return forms | {f"base64 #{i}": core for i, core in enumerate(sorted(base64_cores(value)))}


def private_key_forms(key: ec.EllipticCurvePrivateKey) -> dict[str, bytes]:
    """A P-256 private key: PKCS#8 and SEC1 in PEM (whole, and every line that carries
    private bits) and DER, and the private scalar raw, hex, base64 and decimal."""
    scalar = key.private_numbers().private_value
    scalar_bytes = scalar.to_bytes(32, "big")
    forms: dict[str, bytes] = {"scalar decimal": str(scalar).encode()}
    forms |= {f"scalar {k}": v for k, v in binary_forms(scalar_bytes).items()}
    for name, layout in (
        ("PKCS#8", serialization.PrivateFormat.PKCS8),
        ("SEC1", serialization.PrivateFormat.TraditionalOpenSSL),
    ):
        der = key.private_bytes(serialization.Encoding.DER, layout, serialization.NoEncryption())
        forms[f"{name} PEM"] = key.private_bytes(
            serialization.Encoding.PEM, layout, serialization.NoEncryption()
        )
        forms |= {f"{name} DER {k}": v for k, v in binary_forms(der).items()}
        # The PEM lines that differ when only the scalar changes are the secret ones.
        at = der.index(scalar_bytes)
        masked = der[:at] + bytes(32) + der[at + 32 :]
        lines = textwrap.wrap(base64.b64encode(der).decode(), 64)
        masked_lines = textwrap.wrap(base64.b64encode(masked).decode(), 64)
        for number, (line, other) in enumerate(zip(lines, masked_lines, strict=True)):
            if line != other:
                forms[f"{name} PEM line {number}"] = line.encode()
    return forms


@dataclass(frozen=True, slots=True)
class Finding:
    """Where a secret was found. Never holds or prints the secret itself."""

    place: str
    where: str
    secret: str
    form: str
    count: int
    length: int  # bytes of secret found: length of the form times the occurrences

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) x{self.count} in {self.place}: {self.where}"


@dataclass
class ScanResult:
    place: str
    scanned: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def found_bytes(self) -> int:
        return sum(finding.length for finding in self.findings)


class SecretScanner:
    """Searches bytes and text for registered secrets in all their registered forms.

    Long secrets are searched as substrings in every form given. Short ones (a 4-digit
    security code, an expiry date) would occur by chance inside any hex or base64 text, so
    they are searched only as whole alphanumeric tokens (``"securityCode":"0123"``,
    ``cvc=0123``, a database cell ``0123``), never inside longer runs of letters or digits.
    """

    def __init__(self) -> None:
        self._needles: dict[bytes, tuple[str, str]] = {}
        self._tokens: dict[bytes, tuple[str, str]] = {}
        self._token_pattern: re.Pattern[bytes] | None = None

    def add(self, secret: str, forms: Mapping[str, bytes]) -> None:
        """Search for each form of ``secret`` as a substring."""
        for form, needle in forms.items():
            if len(needle) < _SHORTEST_NEEDLE:
                raise ValueError(f"{secret} ({form}) is too short for a substring search")
            self._needles.setdefault(needle, (secret, form))

    def add_tokens(self, secret: str, forms: Mapping[str, str]) -> None:
        """Search for each form of a short ``secret`` as a whole alphanumeric token."""
        for form, token in forms.items():
            self._tokens.setdefault(token.encode(), (secret, form))
        alternatives = b"|".join(
            re.escape(token) for token in sorted(self._tokens, key=len, reverse=True)
        )
        self._token_pattern = re.compile(
            rb"(?<![A-Za-z0-9])(?:" + alternatives + rb")(?![A-Za-z0-9])"
        )

    def forms(self) -> list[tuple[str, str, bytes]]:
        """``(secret, form, bytes searched)`` for every form registered."""
        return [
            (secret, form, needle)
            for table in (self._needles, self._tokens)
            for needle, (secret, form) in table.items()
        ]

    def scan(self, place: str, items: Iterable[tuple[str, bytes | str]]) -> ScanResult:
        """Scan ``(where, data)`` items; text is searched as UTF-8."""
        pieces = [
            (where, data if isinstance(data, bytes) else data.encode("utf-8", "backslashreplace"))
            for where, data in items
        ]
        result = ScanResult(place=place, scanned=sum(len(data) for _, data in pieces))
        blob = _SEPARATOR.join(data for _, data in pieces)
        hits = [needle for needle in self._needles if needle in blob]
        pattern = self._token_pattern
        if not hits and (pattern is None or pattern.search(blob) is None):
            return result
        for where, data in pieces:  # attribute each hit to its item
            for needle in hits:
                if count := data.count(needle):
                    secret, form = self._needles[needle]
                    result.findings.append(
                        Finding(place, where, secret, form, count, count * len(needle))
                    )
            tokens: dict[bytes, int] = {}
            for match in pattern.finditer(data) if pattern is not None else ():
                tokens[match.group()] = tokens.get(match.group(), 0) + 1
            for token, count in tokens.items():
                secret, form = self._tokens[token]
                result.findings.append(
                    Finding(place, where, secret, form, count, count * len(token))
                )
        return result


# ------------------------------------------------------------ capturing logs and responses

_STANDARD_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",  # set by formatting: already in the formatted text
    "asctime",
}
_FORMATTER = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
_LOGGER_FAMILIES = (
    "cardcert",
    "issuer",
    "merchant",
    "servicekit",
    "certs",
    "aiohttp",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.client",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "aiosqlite",
    "asyncpg",
    "asyncio",
)


class LogCapture(logging.Handler):
    """Every record as it arrives, before another handler's filter can redact it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.entries: list[tuple[str, str]] = []
        self.levels: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = _FORMATTER.format(record)  # message with its arguments, traceback, stack
            extra = " ".join(
                f"{name}={value!r}"
                for name, value in vars(record).items()
                if name not in _STANDARD_RECORD_FIELDS
            )
            self.entries.append((record.name, f"{text}\nargs={record.args!r} {extra}"))
            self.levels.add(record.levelno)
        except Exception:  # as logging.Handler.emit does: report, never raise
            self.handleError(record)

    @property
    def logger_names(self) -> set[str]:
        return {name for name, _ in self.entries}


@contextmanager
def everything_at_debug() -> Iterator[LogCapture]:
    """The root logger and every known logger at DEBUG, enabled, captured; then restored.

    The capture is the root logger's only handler meanwhile (and is added to any logger
    that does not propagate): no other handler's filter can redact a record before it is
    seen, and pytest does not print the records of a failure.
    """
    root = logging.getLogger()
    manager = root.manager
    loggers = [root, *(logging.getLogger(name) for name in _LOGGER_FAMILIES)]
    loggers += [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    saved_disable = manager.disable
    capture = LogCapture()
    logging.disable(logging.NOTSET)
    for lg in loggers:
        if lg is root or lg.level != logging.NOTSET or lg.name in _LOGGER_FAMILIES:
            lg.setLevel(logging.DEBUG)
        lg.disabled = False
    saved_handlers = root.handlers[:]
    root.handlers[:] = [capture]
    islands = [lg for lg in loggers if lg is not root and not lg.propagate]
    for lg in islands:  # loggers that do not pass their records up to the root
        lg.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:] = saved_handlers
        for lg in islands:
            lg.removeHandler(capture)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        logging.disable(saved_disable)


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    service: str
    method: str
    route: str  # the route template, "unmatched" for none
    status: int
    head: bytes
    body: bytes | None  # None: not readable after sending (a file or stream)

    @property
    def where(self) -> str:
        return f"{self.service} {self.method} {self.route} {self.status}"


def _recording_access_logger(
    service: str, sink: list[RecordedResponse]
) -> type[AbstractAccessLogger]:
    class RecordingAccessLogger(AccessLogger):
        """aiohttp's own access log line, plus a copy of the response."""

        @property
        def enabled(self) -> bool:
            return True

        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            super().log(request, response, time)
            resource = (
                request.match_info.route.resource if isinstance(request, web.Request) else None
            )
            # A web.Response keeps its bytes; a file or stream does not (none is expected).
            body = (response.body or b"") if isinstance(response, web.Response) else None
            head = f"HTTP {response.status} {response.reason}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in response.headers.items()
            )
            sink.append(
                RecordedResponse(
                    service=service,
                    method=request.method,
                    route=resource.canonical if resource is not None else "unmatched",
                    status=response.status,
                    head=head.encode("utf-8", "backslashreplace"),
                    body=bytes(body) if isinstance(body, bytes | bytearray) else None,
                )
            )

    return RecordingAccessLogger


@asynccontextmanager
async def serving(
    app: web.Application, port: int, service: str, sink: list[RecordedResponse]
) -> AsyncIterator[None]:
    """Run ``app`` on 127.0.0.1:``port``, recording every response it sends."""
    runner = web.AppRunner(
        app, access_log_class=_recording_access_logger(service, sink), handle_signals=False
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------- the services


@dataclass(repr=False)
class Services:
    issuer_origin: str
    shop_origin: str
    issuer_url: str  # 127.0.0.1, for the test's calls
    merchant_url: str
    issuer_dir: Path
    merchant_dir: Path
    issuer_api_key: str
    merchant_api_key: str
    responses: list[RecordedResponse]


@asynccontextmanager
async def running_services(directory: Path, database_url: str | None) -> AsyncIterator[Services]:
    """Issuer, then merchant (dev mode: demo shop and account), trusting the issuer's root."""
    from issuer.api_keys import create_api_key
    from issuer.app import create_app as create_issuer_app
    from issuer.app_keys import RESOURCES
    from issuer.settings import IssuerSettings
    from merchant.app import DEMO_KEY_FILE
    from merchant.app import create_app as create_merchant_app
    from merchant.settings import Settings as MerchantSettings

    issuer_port, shop_port = free_loopback_port(), free_loopback_port()
    issuer_origin = f"http://issuer.localhost:{issuer_port}"
    shop_origin = f"http://shop.localhost:{shop_port}"
    responses: list[RecordedResponse] = []
    issuer_app = create_issuer_app(
        IssuerSettings(
            data_dir=directory / "issuer",
            database_url=database_url,
            public_origin=issuer_origin,
            port=issuer_port,
            service_worker_dir=directory / "no-service-worker",
        )
    )
    async with serving(issuer_app, issuer_port, "issuer", responses):
        issuer_key = await create_api_key(
            issuer_app[RESOURCES], name="hygiene", now=datetime.now(UTC)
        )
        merchant_app = create_merchant_app(
            MerchantSettings(
                data_dir=directory / "merchant",
                database_url=database_url,
                trust_roots=(directory / "issuer" / "root-ca.pem",),
                dev=True,
                public_origin=shop_origin,
                issuer_metadata_urls=(f"{issuer_origin}/.well-known/cardcert-issuer",),
            )
        )
        async with serving(merchant_app, shop_port, "merchant", responses):
            yield Services(
                issuer_origin=issuer_origin,
                shop_origin=shop_origin,
                issuer_url=f"http://127.0.0.1:{issuer_port}",
                merchant_url=f"http://127.0.0.1:{shop_port}",
                issuer_dir=directory / "issuer",
                merchant_dir=directory / "merchant",
                issuer_api_key=issuer_key,
                merchant_api_key=(directory / "merchant" / DEMO_KEY_FILE).read_text().strip(),
                responses=responses,
            )


# ----------------------------------------------------------------------------- the card


@dataclass(frozen=True, repr=False)
class Card:
    """Card data for one run. Month below 10 and a security code with a leading zero, so
    their short forms never equal a byte count, port, process id or other number."""

    pan: str
    month: int
    year: int
    cvc: str
    wrong_cvc: str
    name: str = "Zephyrine Quillfeather"

    @classmethod
    def generate(cls) -> Card:
        now = datetime.now(UTC)
        month, year = 1 + now.month % 9, now.year + 3
        codes = [f"0{n}" for n in range(100, 1000) if f"0{n}" != f"{month:02d}{year % 100:02d}"]
        cvc, wrong = secrets.SystemRandom().sample(codes, 2)
        return cls(make_pan("411111"), month, year, cvc, wrong)

    def __repr__(self) -> str:
        return "Card(<hidden>)"

    @property
    def spaced(self) -> str:
        return " ".join(self.pan[i : i + 4] for i in range(0, len(self.pan), 4))

    @property
    def dashed(self) -> str:
        return self.spaced.replace(" ", "-")

    @property
    def mm_yy(self) -> str:
        return f"{self.month:02d}/{self.year % 100:02d}"

    @property
    def mm_yyyy(self) -> str:
        return f"{self.month:02d}/{self.year}"

    @property
    def hint(self) -> dict[str, str]:
        return {"bin": self.pan[:6], "last4": self.pan[-4:]}

    def json(self, pan: str | None = None, *, cvc: str | None = None) -> dict[str, str]:
        return {
            "pan": pan or self.pan,
            "expiry": self.mm_yy,
            "securityCode": cvc or self.cvc,
            "name": self.name,
        }

    def register(self, scanner: SecretScanner) -> None:
        for form, pan in (("digits", self.pan), ("spaced", self.spaced), ("dashed", self.dashed)):
            scanner.add("PAN", {f"{form} {k}": v for k, v in text_forms(pan).items()})
        scanner.add_tokens("security code", {"digits": self.cvc})
        scanner.add_tokens("typed wrong security code", {"digits": self.wrong_cvc})
        mm, yy, yyyy = f"{self.month:02d}", f"{self.year % 100:02d}", str(self.year)
        scanner.add_tokens(
            "expiry",
            {
                "MM/YY": f"{mm}/{yy}",
                "MM/YYYY": f"{mm}/{yyyy}",
                "MMYY": f"{mm}{yy}",
                "MM%2FYY": f"{mm}%2F{yy}",
                "MM%2FYYYY": f"{mm}%2F{yyyy}",
                "YYYY-MM": f"{yyyy}-{mm}",
            },
        )
        scanner.add("cardholder name", text_forms(self.name, fold_case=True))
        for word in self.name.split():
            scanner.add("cardholder name", text_forms(word, fold_case=True))


def activation_code_forms(display: str) -> dict[str, bytes]:
    """The code as shown, compact, and its secret part (all but the locator group, which
    the issuer stores in clear by design: docs/issuer.md, "Activation codes")."""
    secret_part = display[5:]
    forms: dict[str, bytes] = {}
    for name, text in (
        ("display", display),
        ("compact", display.replace("-", "")),
        ("secret groups", secret_part),
        ("secret groups compact", secret_part.replace("-", "")),
    ):
        forms |= {f"{name} {k}": v for k, v in text_forms(text, fold_case=True).items()}
    return forms


def api_key_forms(key: str) -> dict[str, bytes]:
    random_part = key.split("_", 1)[1]
    forms = {f"key {k}": v for k, v in text_forms(key).items()}
    forms |= {f"random part {k}": v for k, v in text_forms(random_part).items()}
    decoded = b64url_decode(random_part, error=ValueError, what="API key")
    return forms | {f"random bytes {k}": v for k, v in binary_forms(decoded).items()}


# ------------------------------------------------------------------------------ the flow


@dataclass(repr=False)
class FlowResult:
    card: Card
    device: Device
    activation_code: str
    guessed_code: str
    unknown_api_key: str
    card_id: str
    pending_checkout_id: str
    refusals: list[str]
    verdict_codes: list[str | None]


def _code(document: Any) -> str:
    error = document.get("error") if isinstance(document, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else "(no error code)"


class Flow:
    """HTTP calls of the flow. A failure names the call and the status, never what was sent
    (``__tracebackhide__`` keeps these frames, whose arguments hold card data, out of
    pytest's report)."""

    def __init__(self, services: Services, session: aiohttp.ClientSession) -> None:
        self.s = services
        self.http = session
        self.refusals: list[str] = []
        self.verdict_codes: list[str | None] = []

    async def call(
        self, service: str, method: str, path: str, expect: int, **kwargs: Any
    ) -> tuple[bytes, Mapping[str, str]]:
        __tracebackhide__ = True
        base = self.s.issuer_url if service == "issuer" else self.s.merchant_url
        try:
            async with self.http.request(method, base + path, allow_redirects=False, **kwargs) as r:
                body, status, headers = await r.read(), r.status, r.headers
        except Exception as exc:  # its frames' arguments would show what was sent
            raise AssertionError(f"{service} {method} {path}: {type(exc).__name__}") from None
        if status != expect:
            raise AssertionError(f"{service} {method} {path}: {status}, expected {expect}")
        return body, headers

    async def json(self, service: str, method: str, path: str, expect: int, **kw: Any) -> Any:
        __tracebackhide__ = True
        body, _ = await self.call(service, method, path, expect, **kw)
        return json.loads(body)

    async def refused(self, service: str, path: str, status: int, code: str, **kw: Any) -> None:
        """``POST path`` must fail with ``status`` and the stable error ``code``."""
        __tracebackhide__ = True
        answered = _code(await self.json(service, "POST", path, status, **kw))
        if answered != code:
            raise AssertionError(f"{service} POST {path}: {answered}, expected {code}")
        self.refusals.append(code)

    async def challenge(self) -> str:
        __tracebackhide__ = True
        body = await self.json(
            "issuer", "POST", "/v1/enrollment/challenge", 200, json={}, headers=self.browser
        )
        return str(body["challenge"])

    @property
    def browser(self) -> dict[str, str]:
        return {"Origin": self.s.issuer_origin}

    @property
    def back_office(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.s.issuer_api_key}"}

    @property
    def merchant_key(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.s.merchant_api_key}"}

    async def checkout(self, card: Card, card_data: dict[str, str] | None) -> dict[str, Any]:
        """``POST /v1/checkouts`` (with an idempotency key: its record is stored too)."""
        __tracebackhide__ = True
        body: dict[str, Any] = {
            "amount": "12.30",
            "currency": "EUR",
            "orderReference": "order-" + secrets.token_hex(4),
            "returnUrl": f"{self.s.shop_origin}/checkout/return",
            "card": card.hint,
        } | ({} if card_data is None else {"cardData": card_data})
        headers = self.merchant_key | {"Idempotency-Key": secrets.token_hex(8)}
        created: dict[str, Any] = await self.json(
            "merchant", "POST", "/v1/checkouts", 201, json=body, headers=headers
        )
        return created

    async def verify(
        self, checkout: Mapping[str, Any], presentation: Any, card: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """``POST /v1/checkouts/{id}/verify``; returns the verdict of this attempt."""
        __tracebackhide__ = True
        body = {"presentation": presentation} | ({} if card is None else {"cardData": card})
        path = f"/v1/checkouts/{checkout['checkoutId']}/verify"
        answer = await self.json(
            "merchant", "POST", path, 200, json=body, headers=self.merchant_key
        )
        verdict: dict[str, Any] = answer["verdict"]
        self.verdict_codes.append(verdict["code"])
        return verdict


def present(
    credential: CardholderCredential, request: Mapping[str, Any], staple: bytes | None
) -> dict[str, Any]:
    """Sign a transaction request as the Service Worker does (docs/protocol.md 7, 8)."""
    return credential.present(
        **transaction_fields(request), signed_at=datetime.now(UTC), status=staple
    ).to_json()


def _b64(text: str) -> bytes:
    return b64url_decode(text, error=ValueError, what="test input")


async def run_flow(services: Services) -> FlowResult:
    """Issuer back office, enrollment, renewal, payments, evidence, revocation, failures."""
    card, device = Card.generate(), Device()
    as_json = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        flow = Flow(services, session)
        back_office = flow.back_office

        # Back office: the card, then requests that must not echo what they carry.
        registered = await flow.json(
            "issuer", "POST", "/v1/cards", 201, json=card.json(card.spaced), headers=back_office
        )
        code = registered["activationCode"]
        unknown_key = "ik_" + b64url_encode(secrets.token_bytes(32))
        truncated = json.dumps(card.json())[:-1].encode()
        for status, error, request in (
            (400, "request_malformed", {"data": truncated, "headers": back_office | as_json}),
            (415, "unsupported_media_type", {"data": truncated, "headers": back_office}),
            (400, "request_malformed", {"json": card.json() | {"pan": int(card.pan)}}),
            (422, "expiry_invalid", {"json": card.json() | {"expiry": "13/99"}}),
            (401, "unauthorized", {"headers": {"Authorization": f"Bearer {unknown_key}"}}),
            (401, "unauthorized", {"headers": {"Authorization": f"Basic {flow.s.issuer_api_key}"}}),
        ):
            body = {} if "data" in request else {"json": card.json()}
            sent = body | {"headers": back_office} | request
            await flow.refused("issuer", "/v1/cards", status, error, **sent)

        # Enrollment: a guessed code, a bad proof, a malformed body, then the real thing.
        guessed = ActivationCode.generate().display()
        challenge = await flow.challenge()
        enrollment = device.enrollment_body(code, services.issuer_origin, challenge)
        cut = json.dumps(enrollment)[:-2].encode()
        wrong_proof = device.sign(PopPurpose.RENEWAL, services.issuer_origin, challenge)
        for status, error, request in (
            (400, "activation_code_invalid", {"json": enrollment | {"activationCode": guessed}}),
            (400, "signature_invalid", {"json": enrollment | {"signature": wrong_proof}}),
            (400, "request_malformed", {"data": cut, "headers": flow.browser | as_json}),
        ):
            sent = {"headers": flow.browser} | request
            await flow.refused("issuer", "/v1/enrollment", status, error, **sent)
        enrolled = await flow.json(
            "issuer", "POST", "/v1/enrollment", 201, json=enrollment, headers=flow.browser
        )

        # Renewal with the same key: proof of possession, no secret sent.
        challenge = await flow.challenge()
        renewal = {
            "certificate": enrolled["certificateChain"][0],
            "challenge": challenge,
            "signature": device.sign(PopPurpose.RENEWAL, services.issuer_origin, challenge),
        }
        renewed = await flow.json(
            "issuer", "POST", "/v1/credentials/renew", 201, json=renewal, headers=flow.browser
        )
        credential = CardholderCredential(
            private_key=device.key,
            card_data_secret=device.secret,
            certificate_chain=tuple(_b64(c) for c in renewed["certificateChain"]),
        )
        staple = _b64(renewed["status"])
        card_path = f"/v1/cards/{registered['cardId']}/credentials"
        await flow.json("issuer", "GET", card_path, 200, headers=back_office)

        # Pay through the API: stapled status, a replay, a wrong security code, live OCSP,
        # a presentation cut short (secret inside), bad card data, malformed JSON.
        paid = await flow.checkout(card, card.json(card.dashed) | {"expiry": card.mm_yyyy})
        presentation = present(credential, paid["transactionRequest"], staple)
        verdict = await flow.verify(paid, presentation)
        assert (verdict["result"], verdict["revocationSource"]) == ("authenticated", "stapled")
        await flow.verify(paid, presentation)
        mismatch = await flow.checkout(card, None)
        signed = present(credential, mismatch["transactionRequest"], staple)
        await flow.verify(mismatch, signed, card.json(cvc=card.wrong_cvc))
        live = await flow.checkout(card, None)
        verdict = await flow.verify(
            live, present(credential, live["transactionRequest"], None), card.json()
        )
        assert (verdict["result"], verdict["revocationSource"]) == ("authenticated", "live")
        cut_short = await flow.checkout(card, None)
        await flow.verify(cut_short, json.dumps(presentation)[:-3], card.json())
        verify_path = f"/v1/checkouts/{cut_short['checkoutId']}/verify"
        bad_card = {"presentation": presentation, "cardData": card.json(cvc="12x")}
        await flow.refused(
            "merchant", verify_path, 422, "security_code_invalid",
            json=bad_card, headers=flow.merchant_key,
        )  # fmt: skip
        await flow.refused(
            "merchant", "/v1/checkouts", 400, "request_malformed",
            data=json.dumps({"cardData": card.json()})[:-1].encode(),
            headers=flow.merchant_key | as_json,
        )  # fmt: skip
        pending = await flow.checkout(card, card.json(card.spaced))

        # Evidence of an authenticated and of a failed verdict, after the checkout's state.
        for checkout in (paid, mismatch):
            path = f"/v1/checkouts/{checkout['checkoutId']}"
            state = await flow.json("merchant", "GET", path, 200, headers=flow.merchant_key)
            path = f"/v1/evidence/{state['verdict']['evidenceId']}"
            evidence = await flow.json("merchant", "GET", path, 200, headers=flow.merchant_key)
            assert evidence["cardData"]["secretRetained"] is False

        # The demo shop: a refused form, then the form, the pay redirect, the return.
        shop = {"Origin": services.shop_origin, "Sec-Fetch-Site": "same-origin"}
        form = card.json() | {"item": "cup"}
        await flow.call(
            "merchant", "POST", "/shop/checkout", 422,
            data=form | {"securityCode": "12x"}, headers=shop,
        )  # fmt: skip
        _, headers = await flow.call(
            "merchant", "POST", "/shop/checkout", 303, data=form, headers=shop
        )
        query = parse_qs(urlsplit(headers["Location"]).query)
        request = json.loads(_b64(query["request"][0]))
        answer = {
            "checkoutId": request["checkoutId"],
            "result": "presented",
            "presentation": json.dumps(present(credential, request, staple)),
        }
        page, _ = await flow.call("merchant", "POST", "/checkout/return", 200, data=answer)
        assert b"Payment authenticated" in page

        # Revocation: the fresh staple says revoked, and the merchant refuses.
        path = f"/v1/credentials/{renewed['credentialId']}/revoke"
        reason = {"reason": "keyCompromise"}
        await flow.json("issuer", "POST", path, 200, json=reason, headers=back_office)
        revoked, _ = await flow.call("issuer", "GET", f"/status/{renewed['fingerprint']}", 200)
        await flow.call("issuer", "GET", "/crl", 200)
        after = await flow.checkout(card, None)
        signed = present(credential, after["transactionRequest"], revoked)
        await flow.verify(after, signed, card.json())

        return FlowResult(
            card=card,
            device=device,
            activation_code=code,
            guessed_code=guessed,
            unknown_api_key=unknown_key,
            card_id=registered["cardId"],
            pending_checkout_id=pending["checkoutId"],
            refusals=flow.refusals,
            verdict_codes=flow.verdict_codes,
        )


# -------------------------------------------------------------------- what is scanned


def build_scanner(services: Services, result: FlowResult) -> SecretScanner:
    """Every secret of the run, in all its forms."""
    scanner = SecretScanner()
    result.card.register(scanner)
    scanner.add("card-data secret", binary_forms(result.device.secret))
    scanner.add("device private key", private_key_forms(result.device.key))
    pki = DevPki.load(services.issuer_dir)
    scanner.add("issuer CA private key", private_key_forms(pki.issuer_key))
    scanner.add("network root private key (dev)", private_key_forms(pki.root_key))
    for secret, path in (
        ("issuer card-data key", services.issuer_dir / "card-data.key"),
        ("issuer PAN lookup key", services.issuer_dir / "pan-lookup.key"),
        ("merchant card-data key", services.merchant_dir / "card-data.key"),
    ):
        scanner.add(secret, binary_forms(read_key_file(path, error=ValueError)))
    scanner.add("issuer API key", api_key_forms(services.issuer_api_key))
    scanner.add("merchant API key", api_key_forms(services.merchant_api_key))
    scanner.add("unknown API key sent", api_key_forms(result.unknown_api_key))
    scanner.add("activation code", activation_code_forms(result.activation_code))
    scanner.add("guessed activation code", activation_code_forms(result.guessed_code))
    return scanner


# Where a secret belongs by design: (secret, where it was found).
_BY_DESIGN = {
    # The back office receives the code in the response that issues it (docs/issuer.md).
    ("activation code", "issuer POST /v1/cards 201 body"),
    # The shop's refused form shows the shopper the expiry and name they typed, never the
    # PAN or security code (docs/merchant.md, "Demo shop").
    ("expiry", "merchant POST /shop/checkout 422 body"),
    ("cardholder name", "merchant POST /shop/checkout 422 body"),
}


def response_items(responses: Iterable[RecordedResponse]) -> list[tuple[str, bytes]]:
    items: list[tuple[str, bytes]] = []
    for response in responses:
        items.append((f"{response.where} headers", response.head))
        items.append((f"{response.where} body", bytes(response.body or b"")))
    return items


def sqlite_snapshot(directories: Iterable[Path], moment: str) -> list[tuple[str, bytes]]:
    """The raw bytes of every SQLite file (database, ``-wal``, ``-shm``, ``-journal``)."""
    return [
        (f"{path.parent.name}/{path.name} ({moment})", path.read_bytes())
        for directory in directories
        for path in sorted(directory.glob("*.sqlite3*"))
    ]


Tables = dict[str, list[dict[str, Any]]]


def sqlite_tables(path: Path) -> Tables:
    """Every row of every table of a SQLite file."""
    db = sqlite3.connect(path)
    try:
        db.row_factory = sqlite3.Row
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: [dict(row) for row in db.execute(f'SELECT * FROM "{name}"')]  # noqa: S608
            for name in names
        }
    finally:
        db.close()


async def postgres_tables(url: str) -> Tables:
    """Every row of every table of the PostgreSQL database."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        names = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {
            name: [dict(r) for r in await conn.fetch(f'SELECT * FROM "{name}"')]  # noqa: S608
            for name in names
        }
    finally:
        await conn.close()


def row_items(tables: Tables, label: str) -> list[tuple[str, bytes]]:
    """Each row as text, cells separated, so short secrets are found as whole cells."""

    def cell(value: Any) -> bytes:
        if value is None:
            return b""
        return bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()

    return [
        (f"{label} {name} row {number}", b"\x1f".join(cell(v) for v in row.values()))
        for name, rows in tables.items()
        for number, row in enumerate(rows)
    ]


def check_storage(tables: Tables, services: Services, result: FlowResult) -> None:
    """What the databases hold instead of the secrets: ciphertext and keyed hashes."""
    from certs.card_data import CardData
    from certs.card_digest import card_data_digest

    card = result.card
    issuer_dir, merchant_dir = services.issuer_dir, services.merchant_dir
    vault = IssuerCardVault(
        data_key=read_key_file(issuer_dir / "card-data.key", error=ValueError),
        lookup_key=read_key_file(issuer_dir / "pan-lookup.key", error=ValueError),
    )
    # Issuer: card data only as AES-256-GCM ciphertext bound to its row; PAN as keyed HMAC.
    [row] = tables["issuer_cards"]
    assert row["id"] == result.card_id
    sealed = bytes(row["card_data"])
    assert sealed[:1] == b"\x01"
    opened = vault.open(sealed, card_id=row["id"])
    # Compared as one flag: a failure must not print card data.
    same_card = (opened.pan, opened.security_code, opened.name) == (card.pan, card.cvc, card.name)
    assert same_card, "the issuer's ciphertext does not open to the registered card"
    assert row["pan_hash"] == vault.pan_lookup_hash(card.pan)
    # Activation codes as keyed HMACs; only the locator group in clear.
    hasher = ActivationCodeHasher(vault.activation_code_key())
    [code_row] = tables["issuer_activation_codes"]
    assert code_row["code_hash"] == hasher.code_hash(ActivationCode.parse(result.activation_code))
    assert code_row["locator"] == result.activation_code[:4]
    # Back-office and merchant API keys as SHA-256.
    assert [r["key_hash"] for r in tables["issuer_api_keys"]] == [
        hash_api_key(services.issuer_api_key)
    ]
    assert hash_api_key(services.merchant_api_key) in {
        r["key_hash"] for r in tables["merchant_api_keys"]
    }
    # The issuer kept the digest it bound into the certificate, not the secret behind it.
    typed = CardData.parse(pan=card.pan, expiry=card.mm_yy, security_code=card.cvc)
    [credential] = tables["issuer_credentials"]
    assert bytes(credential["card_data_digest"]) == card_data_digest(typed, result.device.secret)
    assert not [c for c in credential if "secret" in c]
    # Merchant: card data of a pending checkout as ciphertext; erased once a verdict exists.
    merchant_vault = MerchantCardVault(
        read_key_file(merchant_dir / "card-data.key", error=ValueError)
    )
    checkouts = {r["id"]: r for r in tables["merchant_checkouts"]}
    pending = checkouts.pop(result.pending_checkout_id)
    held = merchant_vault.open(bytes(pending["card_data"]), checkout_id=pending["id"])
    same_pan = held.pan == card.pan
    assert same_pan, "the pending checkout's ciphertext does not open to the card"
    assert checkouts
    assert all(r["card_data"] is None for r in checkouts.values())
    # The scan read these too: idempotency records of bodies that held card data, audit.
    assert tables["merchant_idempotency"]
    assert tables["issuer_audit_events"]


async def fetch_metrics(services: Services) -> list[tuple[str, bytes]]:
    items = []
    async with aiohttp.ClientSession() as session:
        for service, url in (("issuer", services.issuer_url), ("merchant", services.merchant_url)):
            async with session.get(url + "/metrics") as response:
                assert response.status == 200
                body = await response.read()
                assert b"http_request_duration_seconds" in body
                items.append((f"{service} /metrics", body))
    return items


def record(results: Iterable[ScanResult]) -> None:
    for scan in results:
        figures.add("secret bytes found", scan.place, scan.found_bytes)
        figures.add("bytes scanned", scan.place, scan.scanned)


# ------------------------------------------------------------------------------ the tests


def test_the_scanner_finds_every_form_it_searches(tmp_path: Path) -> None:
    """Positive control: each registered form of each secret, planted in other text, in a
    log record through the capture, and in a SQLite file, is found; innocent text is not."""
    card, device = Card.generate(), Device()
    code = ActivationCode.generate().display()
    key = "ik_" + b64url_encode(secrets.token_bytes(32))
    scanner = SecretScanner()
    card.register(scanner)
    scanner.add("card-data secret", binary_forms(device.secret))
    scanner.add("device private key", private_key_forms(device.key))
    scanner.add("activation code", activation_code_forms(code))
    scanner.add("issuer API key", api_key_forms(key))

    planted = scanner.forms()
    count = len(planted)
    assert count > 100
    for secret, form, needle in planted:
        text = b"x-0 " + secrets.token_bytes(8).hex().encode() + b" " + needle + b" ok"
        found = scanner.scan("probe", [("planted", text)])
        assert (secret, form) in {(f.secret, f.form) for f in found.findings}, (secret, form)

    # Embedded in JSON that is then base64url-encoded at every alignment (a pay URL).
    for pad in range(3):
        document = json.dumps({"p": "x" * pad, "cardData": card.json()}).encode()
        found = scanner.scan("probe", [("b64", b64url_encode(document).encode())])
        assert "PAN" in {f.secret for f in found.findings}

    with everything_at_debug() as capture:
        logging.getLogger("cardcert.probe").debug("card %s cvc=%s", card.spaced, card.cvc)
    found = scanner.scan("logs", capture.entries)
    assert {"PAN", "security code"} <= {f.secret for f in found.findings}
    # Twice each: in the formatted message and in the record's arguments.
    assert found.found_bytes == 2 * (len(card.spaced) + len(card.cvc))

    db = sqlite3.connect(tmp_path / "probe.sqlite3")
    db.execute("CREATE TABLE t (a TEXT, b BLOB)")
    db.execute("INSERT INTO t VALUES (?, ?)", (card.pan, device.secret))
    db.commit()
    db.close()
    found = scanner.scan("SQLite", sqlite_snapshot([tmp_path], "probe"))
    assert {"PAN", "card-data secret"} <= {f.secret for f in found.findings}

    innocent = (
        f"bin {card.pan[:6]} last4 {card.pan[-4:]} masked {card.pan[:6]}******{card.pan[-4:]} "
        f"locator {code[:4]} {secrets.token_hex(2000)} {b64url_encode(secrets.token_bytes(3000))}"
    )
    assert scanner.scan("probe", [("innocent", innocent)]).findings == []


def scan_sqlite(
    scanner: SecretScanner, directory: Path, snapshots: list[tuple[str, bytes]]
) -> tuple[ScanResult, Tables]:
    """The SQLite files' raw bytes (taken while running and after shutdown) and rows."""
    tables: Tables = {}
    for path in (
        directory / "issuer" / "issuer.sqlite3",
        directory / "merchant" / "merchant.sqlite3",
    ):
        tables |= sqlite_tables(path)
    return scanner.scan("SQLite", [*snapshots, *row_items(tables, "row")]), tables


async def scan_postgres(scanner: SecretScanner, database_url: str) -> tuple[ScanResult, Tables]:
    """``pg_dump`` of the whole database (bytea as hex text), and every row."""
    url = database_url.replace("postgresql+asyncpg://", "postgresql://")
    bin_dir = find_pg_bin()
    assert bin_dir is not None
    command = [str(bin_dir / "pg_dump"), "--no-owner", "--dbname", url]
    dump = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
    assert b"COPY public.issuer_cards" in dump
    assert b"COPY public.merchant_checkouts" in dump
    tables = await postgres_tables(url)
    result = scanner.scan("PostgreSQL", [("pg_dump", dump), *row_items(tables, "SELECT")])
    return result, tables


async def planted_postgres_findings(
    scanner: SecretScanner, database_url: str, pan: str, secret: bytes
) -> set[str]:
    """Positive control for the PostgreSQL path: plant a PAN (text) and a card-data secret
    (bytea, dumped as hex) in a scratch table; which secrets does the same scan find?"""
    import asyncpg

    url = database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE hygiene_probe (pan text, secret bytea)")
        await conn.execute("INSERT INTO hygiene_probe VALUES ($1, $2)", pan, secret)
    finally:
        await conn.close()
    result, _ = await scan_postgres(scanner, database_url)
    return {finding.secret for finding in result.findings}


def set_aside_by_design(scans: Iterable[ScanResult]) -> set[tuple[str, str]]:
    """Remove the findings of :data:`_BY_DESIGN` from ``scans``; return which were seen."""
    seen: set[tuple[str, str]] = set()
    for scan in scans:
        seen |= {(f.secret, f.where) for f in scan.findings} & _BY_DESIGN
        scan.findings[:] = [f for f in scan.findings if (f.secret, f.where) not in _BY_DESIGN]
    return seen


@pytest.fixture(params=["sqlite", "postgres"])
def service_database(request: pytest.FixtureRequest) -> str | None:
    """``None``: each service on its own SQLite file in its data directory (the default);
    else one fresh PostgreSQL database that both share (their tables are prefixed)."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


async def test_a_full_flow_at_debug_leaks_no_secret(
    service_database: str | None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """No secret of the flow, in any form searched, is in the logs, stdout/stderr, metrics,
    any response (body or headers, errors included) or the database; the database holds
    ciphertext and keyed hashes instead; the by-design exceptions are seen where expected."""
    database_url = service_database
    directories = [tmp_path / "issuer", tmp_path / "merchant"]
    with everything_at_debug() as capture:
        async with running_services(tmp_path, database_url) as services:
            result = await run_flow(services)
            metrics = await fetch_metrics(services)
            snapshots = sqlite_snapshot(directories, "while running")
        snapshots += sqlite_snapshot(directories, "after shutdown")
    output = capfd.readouterr()

    # The flow went where it should, and the captures were looking.
    assert result.refusals == [
        *("request_malformed", "unsupported_media_type", "request_malformed", "expiry_invalid"),
        *("unauthorized", "unauthorized", "activation_code_invalid", "signature_invalid"),
        *("request_malformed", "security_code_invalid", "request_malformed"),
    ]
    assert result.verdict_codes == [
        *(None, "nonce_replayed", "card_data_mismatch", None, "presentation_malformed"),
        "cert_revoked",
    ]
    assert {"cardcert.issuer.access", "aiohttp.access"} <= capture.logger_names
    assert logging.DEBUG in capture.levels
    responses = [r for r in services.responses if r.route != "/metrics"]
    assert [r.where for r in responses if r.body is None] == []
    assert ("issuer", "/ocsp") in {(r.service, r.route) for r in responses}  # live OCSP

    scanner = build_scanner(services, result)
    scans = [
        scanner.scan("logs", [*capture.entries, ("stdout", output.out), ("stderr", output.err)]),
        scanner.scan("metrics", metrics),
        scanner.scan("response bodies", response_items(responses)),
    ]
    if database_url is None:
        names = {where for where, _ in snapshots}
        for service in ("issuer", "merchant"):  # -wal and -shm too, whenever present
            assert f"{service}/{service}.sqlite3 (while running)" in names
        database, tables = scan_sqlite(scanner, tmp_path, snapshots)
    else:
        assert snapshots == []
        database, tables = await scan_postgres(scanner, database_url)
    scans.append(database)
    check_storage(tables, services, result)

    seen = set_aside_by_design(scans)
    record(scans)
    findings = [str(finding) for scan in scans for finding in scan.findings]
    assert not findings, "\n".join(findings)
    assert sum(scan.found_bytes for scan in scans) == 0
    # The exceptions were found where they belong: the scanner read the real responses.
    assert seen == _BY_DESIGN
    if database_url is not None:  # and it finds what is planted in the database it dumped
        planted = await planted_postgres_findings(
            scanner, database_url, result.card.pan, result.device.secret
        )
        assert planted == {"PAN", "card-data secret"}
