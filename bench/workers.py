"""1 vs 2 worker processes on the merchant's verify endpoint, driven by wrk (issue 6).

For one database, :func:`run`:

1. builds a throw-away PKI and cardholder (as :mod:`merchant.bench` does), a merchant
   account with an API key and the issuer record, straight into the database;
2. starts the real service (``python -m merchant serve --workers 2`` on 127.0.0.1) and
   creates every checkout the runs will need through ``POST /v1/checkouts`` (each nonce is
   single use), then stops it and signs one presentation per checkout with a stapled OCSP
   response; one file of ``PATH<TAB>BODY`` lines per run;
3. alternates runs with 1 and 2 workers (``1, 2`` four times): start the service, let ``wrk``
   (one thread, ``connections`` keep-alive connections, bench/verify.lua) send ``warmup``
   then ``requests`` timed ``POST /v1/checkouts/{id}/verify``, stop the service.

4. then one more 1-worker run on **first-time cardholders**: each presentation from its own
   cardholder, certificate and staple (nothing cached in the worker), divided by the core
   for such a presentation timed in this process just before (the staple's
   ``read_ocsp_response`` + ``verify_presentation`` with the leaf cache off: three
   signature checks, the full path issue 4 counts as "about 2.7 verifies").

wrk runs in its own process; its CPU time comes from ``os.wait4`` (user + system), so the
generator's share of the machine is CPU time ÷ (wall time x cores). Before each run, with
the service stopped, the core (``verify_presentation``, as :mod:`bench.core` times it with
the leaf cached) is timed in this process: a 1-worker run ÷ that core is issue 4's
endpoint ÷ core ratio for the worker alone, its client in another process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from bench.process_cpu import postmaster_pid, tree_cpu_seconds
from certs.card_data import CardData
from certs.chain import ChainVerifier
from certs.dev_pki import DevPki
from certs.presentation import Presentation
from servicekit.local_service import free_loopback_port, wait_until_healthy

__all__ = ["WorkersResult", "WrkRun", "run"]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "verify.lua"
_ORIGIN = "http://shop.localhost:8002"
_PAN = "4111111111111111"


@dataclass(frozen=True, slots=True, kw_only=True)
class WrkRun:
    """One timed run against ``workers`` worker processes."""

    workers: int
    requests: int
    seconds: float
    authenticated: int
    connections: int
    generator_cpu_seconds: float  # wrk's user + system time, warm-up and loading included
    generator_wall_seconds: float
    cores: int
    core_per_second: float  # verify_presentation (leaf cached) in this process, just before
    # CPU seconds over wrk's whole life (warm-up included) of the service's process tree
    # and of the database server's (PostgreSQL; None on SQLite), bench.process_cpu.
    service_cpu_seconds: float = 0.0
    database_cpu_seconds: float | None = None
    warmup: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def cpu_per_request(self) -> dict[str, float]:
        """Seconds of CPU per request (warm-up requests included) by process group."""
        sent = self.requests + self.warmup
        parts = {"workers": self.service_cpu_seconds / sent}
        if self.database_cpu_seconds is not None:
            parts["PostgreSQL"] = self.database_cpu_seconds / sent
        parts["wrk"] = self.generator_cpu_seconds / sent
        return parts

    @property
    def generator_share(self) -> float:
        """wrk's CPU time ÷ (its wall time x cores): its share of the machine."""
        return self.generator_cpu_seconds / (self.generator_wall_seconds * self.cores)

    @property
    def core_ratio(self) -> float:
        """This run's verifies/s ÷ the core's, measured just before it (issue 4's ratio,
        with the client in another process)."""
        return self.per_second / self.core_per_second

    @property
    def mean_latency_ms(self) -> float:
        """Little's law: connections in flight ÷ throughput."""
        return self.connections / self.per_second * 1e3


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkersResult:
    database: str
    runs: tuple[WrkRun, ...]
    setup_seconds: float
    # One worker on first-time cardholders; its core_per_second is the first-time core.
    first_time: WrkRun | None = None

    def _rates(self, workers: int) -> list[float]:
        return [r.per_second for r in self.runs if r.workers == workers]

    def per_second(self, workers: int) -> float:
        return statistics.median(self._rates(workers))

    @property
    def ratio(self) -> float:
        """Median of the paired ratios: each pair is two runs next to each other in time,
        so the machine's other tenants drift less between its two halves than across the
        whole alternation."""
        return statistics.median(self.paired_ratios)

    @property
    def paired_ratios(self) -> list[float]:
        """Each 2-worker run ÷ the 1-worker run just before it."""
        return [
            two.per_second / one.per_second
            for one, two in zip(self.runs[::2], self.runs[1::2], strict=False)
        ]

    @property
    def cpu_bound_ratios(self) -> list[float]:
        """Per pair, an estimate: the most the machine's cores allow two workers at the CPU
        per request their run used (workers + database + wrk; warm-up included), ÷ the
        1-worker run's throughput."""
        return [
            two.cores / sum(two.cpu_per_request().values()) / one.per_second
            for one, two in zip(self.runs[::2], self.runs[1::2], strict=False)
            if two.service_cpu_seconds > 0
        ]

    @property
    def cpu_bound_ratio(self) -> float | None:
        bounds = self.cpu_bound_ratios
        return statistics.median(bounds) if bounds else None

    @property
    def core_ratio(self) -> float:
        """Median over the 1-worker runs of verifies/s ÷ the core's measured just before."""
        return statistics.median(r.core_ratio for r in self.runs if r.workers == 1)

    @property
    def generator_share(self) -> float:
        return statistics.median(r.generator_share for r in self.runs)

    @property
    def authenticated(self) -> int:
        return sum(r.authenticated for r in self.runs)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)


async def _prepare_database(database_url: str, api_key: str, issuer_ca_pem: str) -> None:
    """Schema, one merchant account with ``api_key``, the issuer record."""
    from merchant.bench import bench_account
    from merchant.migrations import migrate_database
    from merchant.store import Store
    from servicekit.database import make_engine

    engine = make_engine(database_url)
    try:
        await migrate_database(engine)
        await bench_account(
            Store(engine), api_key=api_key, issuer_ca_pem=issuer_ca_pem, now=datetime.now(UTC)
        )
    finally:
        await engine.dispose()


async def _create_checkouts(url: str, api_key: str, count: int) -> list[dict[str, str]]:
    """``count`` checkouts through the API (setup, not timed)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {api_key}"}
    body = {
        "amount": "12.30",
        "currency": "EUR",
        "returnUrl": f"{_ORIGIN}/checkout/return",
        "card": {"bin": "411111", "last4": "1111"},
    }
    checkouts: list[dict[str, str]] = []
    remaining = count

    async with aiohttp.ClientSession(base_url=url, headers=headers) as session:

        async def create() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post("/v1/checkouts", json=body) as response:
                    if response.status != 201:
                        raise RuntimeError(f"POST /v1/checkouts: HTTP {response.status}")
                    checkouts.append(await response.json())

        await asyncio.gather(*(create() for _ in range(8)))
    return checkouts


@dataclass(frozen=True, slots=True)
class _Service:
    url: str
    pid: int  # the serving process (its workers are its children)


@contextmanager
def _service(env: dict[str, str], workers: int) -> Iterator[_Service]:
    """``python -m merchant serve --workers N`` on a free port."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "merchant", "serve", "--port", str(port), "--workers", f"{workers}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(url, process, within=30, what="merchant service")
        yield _Service(url=url, pid=process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wrk(
    wrk: str,
    service: _Service,
    requests_file: Path,
    api_key: str,
    *,
    warmup: int,
    requests: int,
    connections: int,
    workers: int,
    output: Path,
    core_per_second: float,
    database_pid: int | None,
) -> WrkRun:
    """One wrk run; its CPU time from ``os.wait4``, the service's and the database's from
    /proc over the same span."""
    command = [
        wrk, "-t1", f"-c{connections}", "-d60s", "-s", str(SCRIPT), service.url,
        "--", str(requests_file), api_key, str(warmup), str(requests),
    ]  # fmt: skip
    with output.open("wb") as sink:
        service_cpu = tree_cpu_seconds(service.pid)
        database_cpu = None if database_pid is None else tree_cpu_seconds(database_pid)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        service_cpu = tree_cpu_seconds(service.pid) - service_cpu
        if database_pid is not None and database_cpu is not None:
            database_cpu = tree_cpu_seconds(database_pid) - database_cpu
    process.returncode = os.waitstatus_to_exitcode(status)
    text = output.read_text()
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk exited with {process.returncode}: {text.strip()[-300:]}")
    result = json.loads(lines[-1])
    if result["other"]:
        raise RuntimeError(f"{result['other']} verify responses were not 'authenticated'")
    return WrkRun(
        workers=workers,
        requests=result["requests"],
        seconds=result["seconds"],
        authenticated=result["authenticated"],
        connections=connections,
        generator_cpu_seconds=usage.ru_utime + usage.ru_stime,
        generator_wall_seconds=wall,
        cores=os.cpu_count() or 1,
        core_per_second=core_per_second,
        service_cpu_seconds=service_cpu,
        database_cpu_seconds=database_cpu,
        warmup=warmup,
    )


def run(
    *,
    database: str,
    database_url: str | None,
    pattern: tuple[int, ...] = (1, 2) * 4,
    first_time: bool = True,
    requests: int = 1000,
    warmup: int = 200,
    connections: int = 16,
    progress: Callable[[str], None] = print,
) -> WorkersResult:
    """Alternate runs with ``pattern`` workers on one database (None: SQLite), then (with
    ``first_time``) one 1-worker run on first-time cardholders; see the module docstring."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    from cryptography.hazmat.primitives import serialization

    from bench.core import contenders as core_contenders
    from bench.timing import interleaved
    from certs.wire import b64url_encode
    from merchant.bench import BenchCardholder

    setup_started = time.monotonic()
    now = datetime.now(UTC)
    pki = DevPki.create(now=now - timedelta(days=1))
    card = CardData.parse(pan=_PAN, expiry=f"12/{(now.year + 3) % 100:02d}", security_code="737")
    card_json = {"pan": _PAN, "expiry": card.expiry.iso(), "securityCode": "737"}
    returning = BenchCardholder.issue(pki, card, now=now)
    per_run = warmup + requests + connections  # padded: wrk never runs out of nonces
    newcomers = [
        BenchCardholder.issue(pki, card, now=now) for _ in range(per_run if first_time else 0)
    ]
    with tempfile.TemporaryDirectory(prefix="cardcert-bench-workers-") as directory:
        work = Path(directory)
        root = work / "root.pem"
        root.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
        data_dir = work / "merchant"
        data_dir.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "MERCHANT_DATA_DIR": str(data_dir),
                "MERCHANT_TRUST_ROOTS": str(root),
                "MERCHANT_CARD_DATA_KEY": b64url_encode(secrets.token_bytes(32)),
                "MERCHANT_PUBLIC_ORIGIN": _ORIGIN,
                "MERCHANT_SHOP": "0",
                "MERCHANT_LOG_LEVEL": "WARNING",
                # One client creates every checkout of the run: lift the abuse limits.
                "MERCHANT_CHECKOUT_RATE": "1000000",
                "MERCHANT_CHECKOUT_BURST": "1000000",
                "MERCHANT_SWEEP_INTERVAL": "3600",
            }
        )
        if database_url is not None:
            env["MERCHANT_DATABASE_URL"] = database_url
        resolved = database_url or f"sqlite+aiosqlite:///{data_dir / 'merchant.sqlite3'}"
        database_pid = None if database_url is None else _database_pid(database_url)
        api_key = _api_key()
        issuer_pem = pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode()
        asyncio.run(_prepare_database(resolved, api_key, issuer_pem))

        total = per_run * len(pattern) + len(newcomers)
        progress(f"  {database}: creating {total} checkouts")
        with _service(env, workers=2) as service:
            checkouts = asyncio.run(_create_checkouts(service.url, api_key, total))
        signed_at = datetime.now(UTC)

        def write(path: Path, pairs: list[tuple[dict[str, str], Presentation]]) -> Path:
            with path.open("w") as handle:
                for checkout, presentation in pairs:
                    body = json.dumps(
                        {"presentation": presentation.to_json(), "cardData": card_json}
                    )
                    handle.write(f"/v1/checkouts/{checkout['checkoutId']}/verify\t{body}\n")
            return path

        files = [
            write(
                work / f"run-{index}.txt",
                [
                    (checkout, returning.present(checkout, signed_at=signed_at))
                    for checkout in checkouts[index * per_run : (index + 1) * per_run]
                ],
            )
            for index in range(len(pattern))
        ]
        first_pairs = [
            (checkout, holder.present(checkout, signed_at=signed_at))
            for checkout, holder in zip(checkouts[per_run * len(pattern) :], newcomers, strict=True)
        ]
        first_file = write(work / "first-time.txt", first_pairs)
        setup_seconds = time.monotonic() - setup_started

        core = core_contenders().functions["core_warm"]
        runs = []
        for index, workers in enumerate(pattern):
            # The core in this process, alone on the machine, right before the run: the
            # denominator of issue 4's ratio for the 1-worker runs.
            core_seconds = interleaved({"core": core}, rounds=9, ops=300)["core"].seconds_per_op
            with _service(env, workers=workers) as service:
                result = _wrk(
                    wrk,
                    service,
                    files[index],
                    api_key,
                    warmup=warmup,
                    requests=requests,
                    connections=connections,
                    workers=workers,
                    output=work / f"wrk-{index}.out",
                    core_per_second=1 / core_seconds,
                    database_pid=database_pid,
                )
            progress(
                f"  {database}, {workers} worker(s): {result.per_second:,.0f} verifies/s, "
                f"wrk {result.generator_share:.1%} of the machine"
            )
            runs.append(result)
        first_run = None
        if first_pairs:
            first_core = _first_time_core(pki, card, first_pairs[:300], now=signed_at)
            with _service(env, workers=1) as service:
                first_run = _wrk(
                    wrk,
                    service,
                    first_file,
                    api_key,
                    warmup=warmup,
                    requests=requests,
                    connections=connections,
                    workers=1,
                    output=work / "wrk-first-time.out",
                    core_per_second=1 / first_core,
                    database_pid=database_pid,
                )
            progress(
                f"  {database}, 1 worker, first-time cardholders: "
                f"{first_run.per_second:,.0f} verifies/s ({first_run.core_ratio:.0%} of that core)"
            )
    return WorkersResult(
        database=database, runs=tuple(runs), setup_seconds=setup_seconds, first_time=first_run
    )


def _first_time_core(
    pki: DevPki,
    card: CardData,
    pairs: list[tuple[dict[str, str], Presentation]],
    *,
    now: datetime,
) -> float:
    """Seconds per first-time presentation for the core alone (module docstring, step 4):
    the staple read and ``verify_presentation`` with the leaf cache off, in rounds."""
    from bench.timing import interleaved
    from merchant.bench import read_bench_staple, verify_as_core

    chains = ChainVerifier([pki.root], leaf_cache_size=0)
    cycle = itertools.cycle(pairs)

    def once() -> None:
        checkout, presentation = next(cycle)
        status = read_bench_staple(presentation, pki=pki, now=now)
        verify_as_core(
            presentation, checkout, card=card, chain_verifier=chains, status=status, now=now
        )

    rounds = interleaved({"first_time_core": once}, rounds=9, ops=100)
    return rounds["first_time_core"].seconds_per_op


def _database_pid(url: str) -> int | None:
    """The local PostgreSQL server of ``url`` (None if its port is not a local server's)."""
    port = urlsplit(url).port
    return None if port is None else postmaster_pid(port)


def _api_key() -> str:
    from servicekit.api_keys import generate_api_key

    return generate_api_key("mk")


if __name__ == "__main__":
    print(run(database="SQLite", database_url=None))
