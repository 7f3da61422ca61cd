"""Enrollment throughput of one issuer worker as a ratio to its bare ceiling (issue 3).

* **ceiling**: per enrollment, the work no implementation can skip: the proof-of-possession
  verify (:func:`certs.proof_of_possession.verify_proof_of_possession`, one P-256 verify),
  :func:`certs.card_digest.card_data_digest` and :func:`certs.profile.mint_card_certificate`
  (certificate builder + one P-256 sign), with the issuer's own CA key and settings;
* **endpoint**: the real issuer (:func:`issuer.app.create_app`) served by aiohttp's
  ``AppRunner``/``TCPSite`` on 127.0.0.1 in this process, SQLite in a temporary directory
  (or ``database_url``), and an aiohttp client in the same process (same event loop)
  keeping ``concurrency`` enrollments in flight. One enrollment = ``POST
  /v1/enrollment/challenge`` + signing the proof of possession + ``POST /v1/enrollment``
  (201 expected).

``cards`` cards are registered with :func:`issuer.cards.register_card` before any timing.
The throughput phase runs in ``batches`` that alternate with rounds of the ceiling, a bare
verify and a bare sign (:func:`bench.timing.interleaved`), so both sides see the same
machine noise; the ratio is the median batch rate over the ceiling's median rate.

The per-client limits are lifted for the run (``ISSUER_ENROLL_RATE``, ``_BURST`` and
``_MAX_FAILURES`` = 100000): every request comes from 127.0.0.1 and the default burst of
30 would refuse the rest.

Where the time goes, measured cheaply by wrapping calls for the run only (nothing in
``issuer/`` changes):

* a **sequential phase** (one enrollment in flight, so wall time is not shared with other
  requests) times, per enrollment: the server handlers (outermost middleware added to the
  app before start-up), the ceiling steps and the OCSP status signing inside them, every
  database round trip (each await of SQLAlchemy's async drivers: statement, fetch, cursor
  close, commit, rollback, pool ping), every statement and commit run inline on SQLite
  (``servicekit.inline_sqlite``), and the client's proof-of-possession signing;
* the **throughput phase** records CPU seconds per enrollment, split by thread (the event
  loop thread runs HTTP, SQL and crypto; the others are aiosqlite's connection threads),
  and the CPU the handlers spend in the ceiling steps and the status signing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event

import issuer.cardholder_api
import issuer.enrollment
import issuer.minting
from bench.timing import Measurement, interleaved
from certs.card_data import CardData, luhn_valid
from certs.card_digest import card_data_digest
from certs.keys import sign_raw
from certs.profile import CardCertificateRequest, mint_card_certificate
from certs.proof_of_possession import PopPurpose, pop_message, verify_proof_of_possession
from certs.wire import b64url_encode
from issuer.app import create_app
from issuer.app_keys import RESOURCES
from issuer.cards import register_card
from issuer.resources import IssuerResources
from issuer.settings import IssuerSettings
from servicekit.call_timers import CallTimers
from servicekit.gc_tuning import serving_collector
from servicekit.inline_sqlite import InlineConnection, InlineSqlite

__all__ = ["EnrollmentResult", "enrollment_contenders", "run"]

_ORIGIN = "http://issuer.localhost:8001"
_LIFTED = 100_000
_CEILING_STEPS = ("pop_verify", "digest", "mint")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentResult:
    """Figures of one run; times are seconds per enrollment unless named otherwise."""

    database: str
    cards: int
    concurrency: int
    enrollments: int  # in the throughput phase
    batches: int
    ceiling: Measurement  # PoP verify + digest + mint
    bare_verify: Measurement
    bare_sign: Measurement
    batch_rates: tuple[float, ...]  # enrollments/s per batch
    batch_ratios: tuple[float, ...]  # each batch ÷ the ceiling rounds before and after it
    pair_p50_ms: float
    pair_p99_ms: float
    statuses: dict[int, int]  # HTTP status of POST /v1/enrollment, throughput phase
    cpu: dict[str, float]  # throughput phase, CPU seconds per enrollment
    sequential_enrollments: int
    sequential: dict[str, float]  # sequential phase, wall seconds per enrollment
    counts: dict[str, float]  # per enrollment, sequential phase: round_trips (database
    # awaits, see _round_trip_targets), statements, commits, rollbacks; inline_statements
    # and inline_commits (SQLite on the event loop, _INLINE_TARGETS)

    @property
    def endpoint_per_second(self) -> float:
        return statistics.median(self.batch_rates)

    @property
    def ceiling_per_second(self) -> float:
        return 1.0 / self.ceiling.seconds_per_op

    @property
    def ratio(self) -> float:
        """Median over batches of batch rate ÷ the ceiling rate of its neighbouring rounds."""
        return statistics.median(self.batch_ratios)

    @property
    def sequential_per_second(self) -> float:
        return 1.0 / self.sequential["pair"]

    @property
    def sequential_ratio(self) -> float:
        return self.sequential_per_second / self.ceiling_per_second


_ISSUER_TARGETS = (
    (issuer.enrollment, "verify_proof_of_possession", "pop_verify"),
    (issuer.enrollment, "card_data_digest", "digest"),
    (issuer.minting, "mint_card_certificate", "mint"),
    (issuer.cardholder_api, "signed_status", "ocsp_status"),
)
"""The issuer's calls of the ceiling steps and of the status signing (module globals)."""


def _orm_targets() -> list[tuple[Any, str, str]]:
    """SQLAlchemy's ``greenlet_spawn``, through which every call of the async API
    (``AsyncSession.exec``, ``get``, ``commit``, ``close``, ...) runs the ORM and Core in a
    greenlet: the whole database layer (time outermost calls only, see :func:`_outermost`).
    """
    targets: list[tuple[Any, str, str]] = []
    for name in (
        "sqlalchemy.ext.asyncio.engine",
        "sqlalchemy.ext.asyncio.result",
        "sqlalchemy.ext.asyncio.session",
        "sqlmodel.ext.asyncio.session",
    ):
        module = importlib.import_module(name)
        if callable(getattr(module, "greenlet_spawn", None)):
            targets.append((module, "greenlet_spawn", "orm"))
    return targets


def _round_trip_targets() -> list[tuple[Any, str, str]]:
    """``await_`` in SQLAlchemy's async drivers: every database round trip (a statement, a
    fetch, a cursor close, a commit, a rollback, a pool ping) waits in it for the event loop.
    """
    targets: list[tuple[Any, str, str]] = []
    for name in (
        "sqlalchemy.connectors.asyncio",
        "sqlalchemy.dialects.sqlite.aiosqlite",
        "sqlalchemy.dialects.postgresql.asyncpg",
    ):
        module = importlib.import_module(name)
        if callable(getattr(module, "await_", None)):
            targets.append((module, "await_", "round_trips"))
    return targets


_INLINE_TARGETS = (
    (InlineConnection, "_run", "inline_statements"),
    (InlineSqlite, "_begin_immediate", "inline_begins"),
    (InlineSqlite, "_commit", "inline_commits"),
)
"""SQLite statements run inline on the event loop (servicekit/inline_sqlite.py): each
statement, each ``BEGIN IMMEDIATE`` and each ``COMMIT`` (its write to the WAL)."""


_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("bench_depth", default=0)


def _outermost(
    timers: CallTimers, name: str, function: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """Time ``function`` where it is not called from within itself (per task)."""

    async def timed(*args: Any, **kwargs: Any) -> Any:
        depth = _DEPTH.get()
        token = _DEPTH.set(depth + 1)
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            _DEPTH.reset(token)
            if depth == 0:
                timers.add(name, time.perf_counter() - started)

    return timed


@contextlib.contextmanager
def _sql_counted(res: IssuerResources, timers: CallTimers) -> Iterator[None]:
    """Count SQL statements, commits and explicit rollbacks (not pool resets) on the engines
    (PostgreSQL: the transactional one and the AUTOCOMMIT one of reads)."""
    # (On SQLite the two are one engine: listen once.)
    engines = list({id(e): e.sync_engine for e in (res.engine, res.sql.autocommit)}.values())
    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", lambda *_: timers.add("statements", 0.0)),
        ("commit", lambda *_: timers.add("commits", 0.0)),
        ("rollback", lambda *_: timers.add("rollbacks", 0.0)),
    ]
    for engine in engines:
        for name, listener in listeners:
            event.listen(engine, name, listener)
    try:
        yield
    finally:
        for engine in engines:
            for name, listener in listeners:
                event.remove(engine, name, listener)


def _cpu() -> tuple[float, float]:
    """CPU seconds of the whole process (threads that ended included) and of this thread."""
    return time.process_time(), time.thread_time()


def _pan(index: int) -> str:
    body = f"411111{index:09d}"
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


@dataclass(slots=True)
class _Device:
    """What a browser holds for one enrollment."""

    code: str
    key: ec.EllipticCurvePrivateKey
    spki: str
    secret: str


def enrollment_contenders(
    *,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_ca: x509.Certificate,
    crl_url: str,
    ocsp_url: str,
    validity: timedelta,
    card: CardData,
) -> dict[str, Callable[[], object]]:
    """The ceiling (one enrollment's PoP verify, digest and mint) and the two bare
    operations, on an issuer CA key (also used by bench.floors)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public_key = key.public_key()
    challenge = b64url_encode(secrets.token_bytes(32))
    message = pop_message(purpose=PopPurpose.ENROLLMENT, origin=_ORIGIN, challenge=challenge)
    signature = sign_raw(key, message)
    secret = secrets.token_bytes(32)
    now = datetime.now(UTC)
    ecdsa = ec.ECDSA(hashes.SHA256())
    der_signature = key.sign(message, ecdsa)

    def ceiling() -> object:
        verify_proof_of_possession(
            public_key,
            signature,
            purpose=PopPurpose.ENROLLMENT,
            origin=_ORIGIN,
            challenge=challenge,
        )
        digest = card_data_digest(card, secret)
        return mint_card_certificate(
            CardCertificateRequest(
                public_key=public_key,
                credential_id="cred_bench",
                card_expiry=card.expiry,
                card_data_digest=digest,
            ),
            issuer_key=issuer_key,
            issuer_ca=issuer_ca,
            crl_url=crl_url,
            ocsp_url=ocsp_url,
            now=now,
            validity=validity,
        )

    return {
        "ceiling": ceiling,
        "bare_verify": lambda: public_key.verify(der_signature, message, ecdsa),
        "bare_sign": lambda: issuer_key.sign(message, ecdsa),
    }


def _contenders(res: IssuerResources, card: CardData) -> dict[str, Callable[[], object]]:
    """The ceiling and the two bare operations, on the issuer's own key and settings."""
    return enrollment_contenders(
        issuer_key=res.pki.issuer_key,
        issuer_ca=res.pki.issuer_ca,
        crl_url=res.settings.crl_url,
        ocsp_url=res.settings.ocsp_url,
        validity=res.settings.certificate_validity,
        card=card,
    )


class _Client:
    """Enrolls devices over HTTP, ``concurrency`` at a time, and records what it saw."""

    def __init__(self, session: aiohttp.ClientSession, timers: CallTimers) -> None:
        self.session = session
        self.timers = timers
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []

    async def enroll(self, device: _Device) -> None:
        sent = time.perf_counter()
        async with self.session.post("/v1/enrollment/challenge", json={}) as response:
            challenge = (await response.json())["challenge"]
        signing = time.perf_counter()
        message = pop_message(purpose=PopPurpose.ENROLLMENT, origin=_ORIGIN, challenge=challenge)
        signature = b64url_encode(sign_raw(device.key, message))
        self.timers.add("client_sign", time.perf_counter() - signing)
        body = {
            "activationCode": device.code,
            "publicKey": device.spki,
            "cardDataSecret": device.secret,
            "challenge": challenge,
            "signature": signature,
        }
        async with self.session.post("/v1/enrollment", json=body) as response:
            await response.read()
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        self.latencies.append(time.perf_counter() - sent)

    async def batch(self, devices: list[_Device], concurrency: int) -> float:
        """Enroll all ``devices``; return enrollments per second."""
        queue = list(reversed(devices))

        async def worker() -> None:
            while queue:
                await self.enroll(queue.pop())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(devices) / (time.perf_counter() - started)

    def reset(self) -> None:
        self.statuses.clear()
        self.latencies.clear()


async def _register(res: IssuerResources, cards: int) -> tuple[list[_Device], CardData]:
    now = datetime.now(UTC)
    expiry = f"12/{(now.year + 3) % 100:02d}"
    devices: list[_Device] = []
    card = CardData.parse(pan=_pan(0), expiry=expiry, security_code="737")
    for index in range(cards):
        card = CardData.parse(pan=_pan(index), expiry=expiry, security_code="737")
        issued = await register_card(res, card, actor="bench", now=now)
        key = ec.generate_private_key(ec.SECP256R1())
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        devices.append(
            _Device(
                code=issued.activation_code.display(),
                key=key,
                spki=b64url_encode(spki),
                secret=b64url_encode(secrets.token_bytes(32)),
            )
        )
    return devices, card


async def _run(
    *, cards: int, concurrency: int, batches: int, sequential: int, database_url: str | None
) -> EnrollmentResult:
    warmup = max(concurrency, 10)
    per_batch = (cards - warmup - sequential) // batches
    if per_batch < concurrency:
        raise ValueError("too few cards for the batches and the concurrency")
    timers = CallTimers()

    @web.middleware
    async def handler_clock(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            timers.add("handlers", time.perf_counter() - started)

    with tempfile.TemporaryDirectory(prefix="cardcert-bench-issuer-") as directory:
        data_dir = Path(directory)
        settings = IssuerSettings(
            data_dir=data_dir,
            database_url=database_url or f"sqlite+aiosqlite:///{data_dir}/issuer.sqlite3",
            public_origin=_ORIGIN,
            service_worker_dir=data_dir / "no-service-worker",
            sweep_interval=3600.0,
            enroll_rate_per_minute=_LIFTED,
            enroll_burst=_LIFTED,
            enroll_max_failures=_LIFTED,
        )
        app = create_app(settings)
        app.middlewares.insert(0, handler_clock)  # outermost, before the app is frozen
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            # The garbage collector as a serving worker sets it (servicekit/gc_tuning.py).
            with serving_collector():
                res = app[RESOURCES]
                devices, card = await _register(res, cards)
                contenders = _contenders(res, card)
                samples: dict[str, list[float]] = {name: [] for name in contenders}
                rates: list[float] = []
                connector = aiohttp.TCPConnector(limit=concurrency)
                async with aiohttp.ClientSession(
                    base_url=f"http://127.0.0.1:{runner.addresses[0][1]}", connector=connector
                ) as session:
                    client = _Client(session, timers)
                    await client.batch(devices[:warmup], concurrency)
                    next_device = warmup

                    # Sequential phase: one enrollment in flight, every layer timed.
                    client.reset()
                    timers.reset()
                    with (
                        timers.patched(_ISSUER_TARGETS),
                        timers.patched(_round_trip_targets()),
                        timers.patched(_orm_targets(), wrap=functools.partial(_outermost, timers)),
                        timers.patched(_INLINE_TARGETS),
                        _sql_counted(res, timers),
                    ):
                        await client.batch(devices[next_device : next_device + sequential], 1)
                    next_device += sequential
                    seq = {"pair": sum(client.latencies)} | dict(timers.seconds)
                    seq = {
                        name: seconds / sequential
                        for name, seconds in seq.items()
                        if name not in ("statements", "commits", "rollbacks")  # counted, not timed
                    }
                    counts = {
                        name: timers.calls.get(name, 0) / sequential
                        for name in (
                            "round_trips",
                            "statements",
                            "commits",
                            "rollbacks",
                            "inline_statements",
                            "inline_commits",
                        )
                    }

                    # Throughput phase: batches alternating with rounds of the ceiling.
                    client.reset()
                    timers.reset()
                    cpu_process = cpu_loop = 0.0
                    ceiling_blocks: list[float] = []  # ceiling median of each block of rounds

                    def ceiling_block() -> None:
                        for name, measured in interleaved(contenders, rounds=3, ops=60).items():
                            samples[name].extend(measured.rounds)
                        ceiling_blocks.append(statistics.median(samples["ceiling"][-3:]))

                    with timers.patched(_ISSUER_TARGETS):
                        for _ in range(batches):
                            ceiling_block()
                            batch = devices[next_device : next_device + per_batch]
                            next_device += per_batch
                            before = _cpu()
                            rates.append(await client.batch(batch, concurrency))
                            after = _cpu()
                            cpu_process += after[0] - before[0]
                            cpu_loop += after[1] - before[1]
                        ceiling_block()
        finally:
            await runner.cleanup()
    enrolled = per_batch * batches
    measurements = {
        name: Measurement(name, statistics.median(values), tuple(values))
        for name, values in samples.items()
    }
    latencies = sorted(client.latencies)
    # Each batch against the ceiling rounds just before and just after it.
    batch_ratios = tuple(
        rate * statistics.mean(ceiling_blocks[index : index + 2])
        for index, rate in enumerate(rates)
    )
    cpu = {
        "process": cpu_process / enrolled,
        "event_loop_thread": cpu_loop / enrolled,
        "other_threads": max(0.0, cpu_process - cpu_loop) / enrolled,
    } | {
        name: seconds / enrolled
        for name, seconds in timers.seconds.items()
        if name != "handlers"  # wall time, shared between requests in flight
    }
    return EnrollmentResult(
        database="PostgreSQL" if database_url and "postgres" in database_url else "SQLite",
        cards=cards,
        concurrency=concurrency,
        enrollments=enrolled,
        batches=batches,
        ceiling=measurements["ceiling"],
        bare_verify=measurements["bare_verify"],
        bare_sign=measurements["bare_sign"],
        batch_rates=tuple(rates),
        batch_ratios=batch_ratios,
        pair_p50_ms=statistics.median(latencies) * 1000,
        pair_p99_ms=latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        statuses=dict(client.statuses),
        cpu=cpu,
        sequential_enrollments=sequential,
        sequential=seq,
        counts=counts,
    )


def run(
    *,
    cards: int = 300,
    concurrency: int = 8,
    batches: int = 5,
    sequential: int = 40,
    database_url: str | None = None,
    timeout: float = 120.0,
) -> EnrollmentResult:
    """Register ``cards`` cards, then measure (blocking); see the module docstring.

    Raises:
        TimeoutError: the run took longer than ``timeout`` seconds.
    """
    return asyncio.run(
        asyncio.wait_for(
            _run(
                cards=cards,
                concurrency=concurrency,
                batches=batches,
                sequential=sequential,
                database_url=database_url,
            ),
            timeout,
        )
    )
