"""In-process benchmark: the verify endpoint against the bare core, on the same inputs.

``run()`` builds a throw-away PKI, a cardholder and a merchant service on 127.0.0.1 (SQLite
in a temporary directory, or ``database_url``), creates ``requests`` checkouts, signs one
presentation per checkout (with a stapled OCSP response, as the browser sends), then:

1. **core**: :func:`certs.verification.verify_presentation` per presentation, inputs
   pre-parsed, one ``ChainVerifier`` and one revocation status (the floor);
2. **core + parsing**: the same plus ``Presentation.parse`` of the wire JSON and
   ``read_ocsp_response`` of the staple per call (what a naive integrator pays);
3. **endpoint**: ``POST /v1/checkouts/{id}/verify`` over HTTP/1.1 keep-alive with
   ``concurrency`` requests in flight, client in the same process and on the same core.

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
from dataclasses import dataclass
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
from certs.revocation import StatusSource, read_ocsp_response
from certs.verification import verify_presentation
from merchant.app import create_app
from merchant.app_keys import ENGINE, STORE
from merchant.issuer_directory import parse_issuer_metadata, save_issuer
from merchant.settings import Settings
from servicekit.api_keys import generate_api_key, hash_api_key

__all__ = ["BenchResult", "main", "run"]

_ORIGIN = "http://shop.localhost:8002"
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
    authenticated: int

    def report(self) -> str:
        ratio = self.endpoint_per_second / self.core_per_second
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
            )
        )


async def _run(requests: int, concurrency: int, database_url: str | None) -> BenchResult:
    now = datetime.now(UTC)
    pki = DevPki.create(now=now - timedelta(days=1))
    card = CardData.parse(
        pan="4111111111111111", expiry=f"12/{(now.year + 3) % 100:02d}", security_code="737"
    )
    card_json = {"pan": "4111111111111111", "expiry": card.expiry.iso(), "securityCode": "737"}
    credential = CardholderCredential.issue(
        pki, card, now=now, crl_url=f"{_ISSUER}/crl", ocsp_url=f"{_ISSUER}/ocsp"
    )
    staple = pki.good_status(
        credential.certificate,
        this_update=now - timedelta(minutes=1),
        next_update=now + timedelta(days=1),
    )
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
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            key = generate_api_key("mk")
            await app[STORE].create_merchant(
                merchant_id="mer_" + secrets.token_hex(6),
                name="Bench Shop",
                allowed_origins=(_ORIGIN,),
                key_hash=hash_api_key(key),
                now=now,
            )
            metadata = {
                "version": 1,
                "issuerName": "Bench Bank",
                "issuerOrigin": _ISSUER,
                "caCertificate": pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode(),
                "binPrefixes": ["411111"],
                "payUrl": f"{_ISSUER}/pay",
            }
            await save_issuer(app[ENGINE], parse_issuer_metadata(metadata), source="bench", now=now)
            return await _measure(
                port=port,
                key=key,
                pki=pki,
                credential=credential,
                card=card,
                card_json=card_json,
                staple=staple,
                requests=requests,
                concurrency=concurrency,
                database="PostgreSQL" if database_url and "postgres" in database_url else "SQLite",
            )
        finally:
            await runner.cleanup()


async def _measure(
    *,
    port: int,
    key: str,
    pki: DevPki,
    credential: CardholderCredential,
    card: CardData,
    card_json: dict[str, str],
    staple: bytes,
    requests: int,
    concurrency: int,
    database: str,
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
        for _ in range(requests):
            async with session.post("/v1/checkouts", json=body, headers=headers) as response:
                checkouts.append(await response.json())
        signed_at = datetime.now(UTC)
        presentations = [
            credential.present(
                merchant_origin=_ORIGIN,
                merchant_name="Bench Shop",
                amount="12.30",
                currency="EUR",
                checkout_id=c["checkoutId"],
                nonce=c["nonce"],
                signed_at=signed_at,
                status=staple,
            )
            for c in checkouts
        ]
        wires = [p.to_json() for p in presentations]

        # 1. The core alone, everything pre-parsed (what the endpoint cannot go below).
        chains = ChainVerifier([pki.root])
        verified_at = datetime.now(UTC)
        status = read_ocsp_response(
            staple,
            certificate=credential.certificate,
            issuer_ca=pki.issuer_ca,
            now=verified_at,
            max_age=timedelta(hours=24),
            source=StatusSource.STAPLED,
        )

        def core(presentation: Presentation, checkout: dict[str, Any]) -> None:
            verify_presentation(
                presentation=presentation,
                expected_origin=_ORIGIN,
                expected_amount="12.30",
                expected_currency="EUR",
                expected_checkout_id=checkout["checkoutId"],
                expected_nonce=checkout["nonce"],
                expected_merchant_name="Bench Shop",
                card_data=card,
                chain_verifier=chains,
                revocation=status,
                nonce_unused=True,
                now=verified_at,
            )

        started = time.perf_counter()
        for presentation, checkout in zip(presentations, checkouts, strict=True):
            core(presentation, checkout)
        core_rate = requests / (time.perf_counter() - started)

        # 2. The core plus per-call parsing and staple reading.
        started = time.perf_counter()
        for wire, checkout in zip(wires, checkouts, strict=True):
            parsed = Presentation.parse(wire)
            read_ocsp_response(
                parsed.status or b"",
                certificate=x509.load_der_x509_certificate(parsed.certificate_chain[0]),
                issuer_ca=pki.issuer_ca,
                now=verified_at,
                max_age=timedelta(hours=24),
                source=StatusSource.STAPLED,
            )
            core(parsed, checkout)
        parsing_rate = requests / (time.perf_counter() - started)

        # 3. The endpoint.
        bodies = [
            json.dumps({"presentation": wire, "cardData": card_json}).encode() for wire in wires
        ]
        latencies: list[float] = []
        authenticated = 0
        queue = list(zip(checkouts, bodies, strict=True))

        async def worker() -> None:
            nonlocal authenticated
            while queue:
                checkout, payload = queue.pop()
                sent = time.perf_counter()
                async with session.post(
                    f"/v1/checkouts/{checkout['checkoutId']}/verify", data=payload, headers=headers
                ) as response:
                    result = await response.json()
                latencies.append(time.perf_counter() - sent)
                authenticated += result["verdict"]["result"] == "authenticated"

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        endpoint_rate = requests / (time.perf_counter() - started)
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
