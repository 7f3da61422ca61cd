"""In-process benchmark: the verify endpoint against the bare core, on the same inputs.

``run()`` builds a throw-away PKI, a cardholder and a merchant service on 127.0.0.1 (SQLite
in a temporary directory, or ``database_url``), creates ``requests`` checkouts, signs one
presentation per checkout (with a stapled OCSP response, as the browser sends), then:

1. **core**: :func:`certs.verification.verify_presentation` per presentation, inputs
   pre-parsed, one ``ChainVerifier`` and one revocation status (the floor);
2. **core + parsing**: the same plus ``Presentation.parse`` of the wire JSON and
   ``read_ocsp_response`` of the staple per call (what a naive integrator pays);
3. **endpoint**: ``POST /v1/checkouts/{id}/verify`` over HTTP/1.1 keep-alive with
   ``concurrency`` requests in flight, client in the same process and on the same core;
4. **first-time cardholders**: ``requests`` more presentations, each from its own
   cardholder with its own certificate and staple, so nothing is cached: the core is then
   ``read_ocsp_response`` of the staple plus ``verify_presentation`` with the leaf cache
   off (three signature checks: the staple, the card certificate, the transaction; the
   full path that issue 4's "the core is about 2.7 verifies" describes), and the endpoint
   verifies the same kind of presentations, each seen for the first time.

``python -m merchant.bench --requests 2000 --concurrency 16`` prints the numbers; ``make
bench`` can call :func:`run` and print :meth:`BenchResult.report`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.card_data import CardData
from certs.chain import ChainVerifier
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.presentation import Presentation
from certs.revocation import RevocationStatus, StatusSource, read_ocsp_response
from certs.verification import verify_presentation
from merchant.app import create_app
from merchant.app_keys import STORE
from merchant.issuer_directory import parse_issuer_metadata, save_issuer
from merchant.settings import Settings
from merchant.store import Store
from servicekit.api_keys import generate_api_key, hash_api_key
from servicekit.call_timers import CallTimers
from servicekit.gc_tuning import serving_collector

__all__ = [
    "BenchCardholder",
    "BenchResult",
    "bench_account",
    "main",
    "read_bench_staple",
    "run",
    "verify_as_core",
]

_ORIGIN = "http://shop.localhost:8002"
_SEQUENTIAL = 200  # requests of the sequential (breakdown) phase
_ISSUER = "http://issuer.localhost:8001"


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    requests: int
    concurrency: int
    database: str
    core_per_second: float
    core_with_parsing_per_second: float
    endpoint_per_second: float
    endpoint_p50_ms: float
    endpoint_p99_ms: float
    authenticated: int  # of the throughput phase's ``requests``
    first_time_core_per_second: float = 0.0
    first_time_endpoint_per_second: float = 0.0
    first_time_authenticated: int = 0
    sequential_authenticated: int = 0  # of the sequential phase's _SEQUENTIAL requests
    # Sequential phase: microseconds per request, by part (see _breakdown).
    breakdown_us: dict[str, float] = field(default_factory=dict)

    def report(self) -> str:
        ratio = self.endpoint_per_second / self.core_per_second
        first_core = self.first_time_core_per_second
        first_endpoint = self.first_time_endpoint_per_second
        return "\n".join(
            (
                f"merchant verify benchmark ({self.requests} presentations, "
                f"{self.database}, concurrency {self.concurrency}, one process)",
                f"  core verify_presentation           {self.core_per_second:9.0f} /s",
                f"  core + parse + staple read         {self.core_with_parsing_per_second:9.0f} /s",
                f"  POST /v1/checkouts/{{id}}/verify     {self.endpoint_per_second:9.0f} /s"
                f"  (p50 {self.endpoint_p50_ms:.2f} ms, p99 {self.endpoint_p99_ms:.2f} ms,"
                f" {ratio:.0%} of core)",
                f"  authenticated verdicts             {self.authenticated:9d}",
                "  first-time cardholders (nothing cached):",
                f"    core: staple read + verify_presentation {first_core:7.0f} /s",
                f"    POST /v1/checkouts/{{id}}/verify        {first_endpoint:7.0f} /s"
                f"  ({first_endpoint / first_core:.0%} of that core,"
                f" {self.first_time_authenticated} authenticated)",
                *self.breakdown_lines(),
            )
        )

    def breakdown_lines(self) -> list[str]:
        """Where one request's time goes (sequential phase, one request in flight)."""
        if not self.breakdown_us:
            return []
        total = self.breakdown_us["round trip (client's wall time)"]
        lines = ["  per request, one in flight (us, share of the round trip):"]
        lines += [
            f"    {part:44s} {value:7.0f}  {value / total:4.0%}"
            for part, value in self.breakdown_us.items()
        ]
        return lines


_SERVER = "server: middlewares + handler"
_PARTS = (
    ("database: peek (API key + checkout)", "checkout_for_key"),
    ("database: settle (nonce + verdict + evidence)", "settle"),
)


def _server_timing(timers: CallTimers) -> Callable[..., Awaitable[web.StreamResponse]]:
    """An outermost middleware that times every request under ``_SERVER``."""

    @web.middleware
    async def timing(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            timers.add(_SERVER, time.perf_counter() - started)

    return timing


def _breakdown(timers: CallTimers, round_trip: float, count: int) -> dict[str, float]:
    """Microseconds per request by part; "rest" and "HTTP" are what the parts leave."""
    per = {label: seconds / count * 1e6 for label, seconds in timers.seconds.items()}
    server = per.pop(_SERVER, 0.0)
    parts = dict(sorted(per.items()))
    rest = server - sum(parts.values())
    return {
        "round trip (client's wall time)": round_trip / count * 1e6,
        "aiohttp server + client + loopback": round_trip / count * 1e6 - server,
        _SERVER: server,
        **{f"  {label}": value for label, value in parts.items()},
        "  rest: JSON body, card data, checkout rules, response": rest,
    }


async def bench_account(store: Store, *, api_key: str, issuer_ca_pem: str, now: datetime) -> None:
    """The benchmarks' merchant account "Bench Shop" (origin ``_ORIGIN``) with ``api_key``,
    and the issuer "Bench Bank" of ``issuer_ca_pem`` for BIN 411111 (also bench.workers)."""
    await store.create_merchant(
        merchant_id="mer_" + secrets.token_hex(6),
        name="Bench Shop",
        allowed_origins=(_ORIGIN,),
        key_hash=hash_api_key(api_key),
        now=now,
    )
    metadata = {
        "version": 1,
        "issuerName": "Bench Bank",
        "issuerOrigin": _ISSUER,
        "caCertificate": issuer_ca_pem,
        "binPrefixes": ["411111"],
        "payUrl": f"{_ISSUER}/pay",
    }
    await save_issuer(store.engine, parse_issuer_metadata(metadata), source="bench", now=now)


@dataclass(frozen=True, slots=True)
class BenchCardholder:
    """A cardholder of the benchmarks (also bench.workers): credential and a stapled
    ``good`` status for its certificate."""

    credential: CardholderCredential
    staple: bytes

    @classmethod
    def issue(cls, pki: DevPki, card: CardData, *, now: datetime) -> BenchCardholder:
        credential = CardholderCredential.issue(
            pki, card, now=now, crl_url=f"{_ISSUER}/crl", ocsp_url=f"{_ISSUER}/ocsp"
        )
        staple = pki.good_status(
            credential.certificate,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(days=1),
        )
        return cls(credential=credential, staple=staple)

    def present(self, checkout: dict[str, Any], *, signed_at: datetime) -> Presentation:
        """A presentation for a checkout of "Bench Shop" (12.30 EUR), staple attached."""
        return self.credential.present(
            merchant_origin=_ORIGIN,
            merchant_name="Bench Shop",
            amount="12.30",
            currency="EUR",
            checkout_id=checkout["checkoutId"],
            nonce=checkout["nonce"],
            signed_at=signed_at,
            status=self.staple,
        )


def read_bench_staple(
    presentation: Presentation, *, pki: DevPki, now: datetime
) -> RevocationStatus:
    """The presentation's staple read as the merchant reads it (leaf parsed for its CertID)."""
    return read_ocsp_response(
        presentation.status or b"",
        certificate=x509.load_der_x509_certificate(presentation.certificate_chain[0]),
        issuer_ca=pki.issuer_ca,
        now=now,
        max_age=timedelta(hours=24),
        source=StatusSource.STAPLED,
    )


def verify_as_core(
    presentation: Presentation,
    checkout: dict[str, Any],
    *,
    card: CardData,
    chain_verifier: ChainVerifier,
    status: RevocationStatus,
    now: datetime,
) -> None:
    """:func:`verify_presentation` with a bench checkout's expectations (the core)."""
    verify_presentation(
        presentation=presentation,
        expected_origin=_ORIGIN,
        expected_amount="12.30",
        expected_currency="EUR",
        expected_checkout_id=checkout["checkoutId"],
        expected_nonce=checkout["nonce"],
        expected_merchant_name="Bench Shop",
        card_data=card,
        chain_verifier=chain_verifier,
        revocation=status,
        nonce_unused=True,
        now=now,
    )


async def _run(requests: int, concurrency: int, database_url: str | None) -> BenchResult:
    now = datetime.now(UTC)
    pki = DevPki.create(now=now - timedelta(days=1))
    card = CardData.parse(
        pan="4111111111111111", expiry=f"12/{(now.year + 3) % 100:02d}", security_code="737"
    )
    card_json = {"pan": "4111111111111111", "expiry": card.expiry.iso(), "securityCode": "737"}
    returning = BenchCardholder.issue(pki, card, now=now)
    first_time = [BenchCardholder.issue(pki, card, now=now) for _ in range(requests)]
    with tempfile.TemporaryDirectory(prefix="cardcert-bench-") as directory:
        root = Path(directory) / "root.pem"
        root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
        settings = Settings(
            data_dir=Path(directory),
            database_url=database_url,
            trust_roots=(root,),
            card_data_key=secrets.token_bytes(32),
            public_origin=_ORIGIN,
            shop_enabled=False,
            # One client creates every checkout of the run: lift the abuse limits.
            checkout_rate_per_minute=1_000_000,
            checkout_burst=1_000_000,
        )
        app = create_app(settings)
        # Collected only in the sequential phase: one request in flight, so a call's wall
        # time is its own.
        timers = CallTimers(active=False)
        app.middlewares.insert(0, _server_timing(timers))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            # The garbage collector as a serving worker sets it (servicekit/gc_tuning.py).
            with serving_collector():
                port = runner.addresses[0][1]
                key = generate_api_key("mk")
                await bench_account(
                    app[STORE],
                    api_key=key,
                    issuer_ca_pem=pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode(),
                    now=now,
                )
                return await _measure(
                    port=port,
                    key=key,
                    pki=pki,
                    returning=returning,
                    first_time=first_time,
                    card=card,
                    card_json=card_json,
                    requests=requests,
                    concurrency=concurrency,
                    database="PostgreSQL"
                    if database_url and "postgres" in database_url
                    else "SQLite",
                    timers=timers,
                    app=app,
                )
        finally:
            await runner.cleanup()


async def _measure(
    *,
    port: int,
    key: str,
    pki: DevPki,
    returning: BenchCardholder,
    first_time: list[BenchCardholder],
    card: CardData,
    card_json: dict[str, str],
    requests: int,
    concurrency: int,
    database: str,
    timers: CallTimers,
    app: web.Application,
) -> BenchResult:
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:
        checkouts: list[dict[str, Any]] = []
        body = {
            "amount": "12.30",
            "currency": "EUR",
            "returnUrl": f"{_ORIGIN}/checkout/return",
            "card": {"bin": "411111", "last4": "1111"},
        }
        for _ in range(2 * requests + _SEQUENTIAL):
            async with session.post("/v1/checkouts", json=body, headers=headers) as response:
                checkouts.append(await response.json())
        sequential_checkouts = checkouts[requests : requests + _SEQUENTIAL]
        first_time_checkouts = checkouts[requests + _SEQUENTIAL :]
        checkouts = checkouts[:requests]
        signed_at = datetime.now(UTC)

        presentations = [returning.present(c, signed_at=signed_at) for c in checkouts]
        wires = [p.to_json() for p in presentations]
        sequential_bodies = [
            (
                c["checkoutId"],
                json.dumps(
                    {
                        "presentation": returning.present(c, signed_at=signed_at).to_json(),
                        "cardData": card_json,
                    }
                ).encode(),
            )
            for c in sequential_checkouts
        ]

        # 1. The core alone, everything pre-parsed (what the endpoint cannot go below).
        chains = ChainVerifier([pki.root])
        verified_at = datetime.now(UTC)
        status = read_ocsp_response(
            returning.staple,
            certificate=returning.credential.certificate,
            issuer_ca=pki.issuer_ca,
            now=verified_at,
            max_age=timedelta(hours=24),
            source=StatusSource.STAPLED,
        )
        started = time.perf_counter()
        for presentation, checkout in zip(presentations, checkouts, strict=True):
            verify_as_core(
                presentation,
                checkout,
                card=card,
                chain_verifier=chains,
                status=status,
                now=verified_at,
            )
        core_rate = requests / (time.perf_counter() - started)

        # 2. The core plus per-call parsing and staple reading.
        started = time.perf_counter()
        for wire, checkout in zip(wires, checkouts, strict=True):
            parsed = Presentation.parse(wire)
            read_bench_staple(parsed, pki=pki, now=verified_at)
            verify_as_core(
                parsed, checkout, card=card, chain_verifier=chains, status=status, now=verified_at
            )
        parsing_rate = requests / (time.perf_counter() - started)

        # 3. The endpoint.
        async def drive(
            pairs: list[tuple[dict[str, Any], dict[str, Any]]],
        ) -> tuple[float, list[float], int]:
            """POST each (checkout, presentation wire) ``concurrency`` at a time: rate,
            latencies and authenticated verdicts."""
            queue = [
                (c, json.dumps({"presentation": w, "cardData": card_json}).encode())
                for c, w in pairs
            ]
            latencies: list[float] = []
            authenticated = 0

            async def worker() -> None:
                nonlocal authenticated
                while queue:
                    checkout, payload = queue.pop()
                    sent = time.perf_counter()
                    async with session.post(
                        f"/v1/checkouts/{checkout['checkoutId']}/verify",
                        data=payload,
                        headers=headers,
                    ) as response:
                        result = await response.json()
                    latencies.append(time.perf_counter() - sent)
                    authenticated += result["verdict"]["result"] == "authenticated"

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return len(pairs) / (time.perf_counter() - started), latencies, authenticated

        endpoint_rate, latencies, authenticated = await drive(
            list(zip(checkouts, wires, strict=True))
        )

        # First-time cardholders: nothing cached, on either side.
        first_presentations = [
            holder.present(c, signed_at=signed_at)
            for c, holder in zip(first_time_checkouts, first_time, strict=True)
        ]
        cold_chains = ChainVerifier([pki.root], leaf_cache_size=0)
        started = time.perf_counter()
        for presentation, checkout in zip(first_presentations, first_time_checkouts, strict=True):
            verify_as_core(
                presentation,
                checkout,
                card=card,
                chain_verifier=cold_chains,
                status=read_bench_staple(presentation, pki=pki, now=verified_at),
                now=verified_at,
            )
        first_core_rate = requests / (time.perf_counter() - started)
        first_endpoint_rate, _, first_authenticated = await drive(
            [
                (c, p.to_json())
                for c, p in zip(first_time_checkouts, first_presentations, strict=True)
            ]
        )

        # 4. Sequential: one request in flight, the parts of each timed (module docstring).
        import merchant.status
        import merchant.verifier

        targets: list[tuple[Any, str, str]] = [(app[STORE], name, label) for label, name in _PARTS]
        targets += [
            (merchant.verifier, "_parse_presentation", "parse presentation (JSON, base64, JCS)"),
            (
                merchant.status.StatusResolver,
                "read_staple",
                "stapled OCSP read (cached per staple)",
            ),
            (
                merchant.verifier.MemoizingChainVerifier,
                "verify",
                "certificate path before the status (cached per certificate)",
            ),
            (merchant.verifier, "verify_presentation", "core: verify_presentation (crypto)"),
            (merchant.verifier, "build_evidence", "evidence document"),
        ]
        round_trip = 0.0
        sequential_authenticated = 0
        with timers.patched(targets):
            timers.active = True
            for checkout_id, payload in sequential_bodies:
                sent = time.perf_counter()
                async with session.post(
                    f"/v1/checkouts/{checkout_id}/verify", data=payload, headers=headers
                ) as response:
                    result = await response.json()
                round_trip += time.perf_counter() - sent
                sequential_authenticated += result["verdict"]["result"] == "authenticated"
            timers.active = False
        breakdown = _breakdown(timers, round_trip, len(sequential_bodies))
    latencies.sort()
    return BenchResult(
        requests=requests,
        concurrency=concurrency,
        database=database,
        core_per_second=core_rate,
        core_with_parsing_per_second=parsing_rate,
        endpoint_per_second=endpoint_rate,
        endpoint_p50_ms=statistics.median(latencies) * 1000,
        endpoint_p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
        authenticated=authenticated,
        first_time_core_per_second=first_core_rate,
        first_time_endpoint_per_second=first_endpoint_rate,
        first_time_authenticated=first_authenticated,
        sequential_authenticated=sequential_authenticated,
        breakdown_us=breakdown,
    )


def run(
    requests: int = 2000, concurrency: int = 16, database_url: str | None = None
) -> BenchResult:
    """Run the benchmark (blocking); see the module docstring."""
    return asyncio.run(_run(requests, concurrency, database_url))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m merchant.bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    print(run(args.requests, args.concurrency, args.database_url).report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
