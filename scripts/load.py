"""``make load``: issuer + merchant on 127.0.0.1, then locust against them, then a summary.

Starts both services on free loopback ports (SQLite in a temporary directory, or a private
PostgreSQL cluster with ``--postgres``; ``--workers N`` processes each), creates a
back-office API key and a merchant account, waits for ``/health``, runs
``loadtests/locustfile.py`` headless with bounded users and time, writes locust's CSVs and
HTML report under ``build/load/``, prints requests/s and p50/p95/p99 per endpoint and the
failures by code, checks the merchant database for double-accepted nonces, and exits

* 0: every request answered as expected and no nonce was accepted twice;
* 1: unexpected failures, locust errors, no traffic, or a double acceptance;
* 2: the services could not be started.

``--ui`` serves locust's web UI on 127.0.0.1 instead (``make load-ui``); ``--smoke`` is a
few seconds with a few users, for CI. ``--seed N`` first enrolls N cardholders in bulk
(``loadtests.seed --credentials``) and has locust draw its checkout pool from them instead
of enrolling through the API at start (exit 2 if seeding fails).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certs.wire import b64url_encode  # noqa: E402
from servicekit.local_service import free_loopback_port, wait_until_healthy  # noqa: E402
from tests.postgres_cluster import running_cluster  # noqa: E402

LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"


def _secret_line(output: str, marker: str) -> str:
    for line in output.splitlines():
        if marker in line:
            return line.rsplit(":", 1)[1].strip()
    raise RuntimeError(f"no {marker!r} in command output")


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


@contextlib.contextmanager
def _databases(postgres: bool) -> Iterator[tuple[str | None, str | None]]:
    """Database URLs for issuer and merchant (None: SQLite in each data directory)."""
    if not postgres:
        yield None, None
        return
    with running_cluster() as url:

        async def create() -> None:
            import asyncpg

            connection = await asyncpg.connect(url)
            try:
                await connection.execute("CREATE DATABASE load_issuer")
                await connection.execute("CREATE DATABASE load_merchant")
            finally:
                await connection.close()

        asyncio.run(create())
        base = url.rsplit("/", 1)[0]
        yield f"{base}/load_issuer", f"{base}/load_merchant"


@contextlib.contextmanager
def services(work: Path, *, workers: int, postgres: bool) -> Iterator[dict[str, str]]:
    """Start issuer and merchant; yield the locust environment (URLs, keys, database)."""
    python = sys.executable
    issuer_port, merchant_port = free_loopback_port(), free_loopback_port()
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    merchant_url = f"http://127.0.0.1:{merchant_port}"
    with _databases(postgres) as (issuer_db, merchant_db):
        env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "ISSUER_DATA_DIR": str(work / "issuer"),
                "ISSUER_PUBLIC_ORIGIN": issuer_url,
                "ISSUER_PORT": str(issuer_port),
                "ISSUER_WORKERS": str(workers),
                # One load generator address enrolls thousands of cards: lift the per-IP limits.
                "ISSUER_ENROLL_RATE": "100000",
                "ISSUER_ENROLL_BURST": "100000",
                "ISSUER_ENROLL_MAX_FAILURES": "100000",
                "ISSUER_LOG_LEVEL": "WARNING",
                "MERCHANT_DATA_DIR": str(work / "merchant"),
                "MERCHANT_PUBLIC_ORIGIN": merchant_url,
                "MERCHANT_TRUST_ROOTS": str(work / "issuer" / "root-ca.pem"),
                "MERCHANT_CARD_DATA_KEY": b64url_encode(secrets.token_bytes(32)),
                "MERCHANT_LOG_LEVEL": "WARNING",
                # One load generator creates thousands of checkouts: lift the abuse limits.
                "MERCHANT_CHECKOUT_RATE": "1000000",
                "MERCHANT_CHECKOUT_BURST": "1000000",
            }
        )
        if issuer_db:
            env["ISSUER_DATABASE_URL"] = issuer_db
        if merchant_db:
            env["MERCHANT_DATABASE_URL"] = merchant_db
        children: list[subprocess.Popen[bytes]] = []
        try:
            issuer = subprocess.Popen(
                [python, "-m", "issuer", "serve", "--port", str(issuer_port),
                 "--workers", str(workers)],
                env=env, cwd=ROOT,
            )  # fmt: skip
            children.append(issuer)
            wait_until_healthy(issuer_url, issuer, within=60, what="issuer")
            issuer_key = _run(
                [python, "-m", "issuer", "create-api-key", "--name", "load"], env
            ).split()[-1]
            merchant_key = _secret_line(
                _run(
                    [
                        python,
                        "-m",
                        "merchant",
                        "create-merchant",
                        "--name",
                        "Load Shop",
                        "--origin",
                        merchant_url,
                    ],
                    env,
                ),
                "API key",
            )
            # Registered once here, not with MERCHANT_ISSUER_METADATA_URLS: with that, every
            # merchant worker inserts the issuer at start-up and on PostgreSQL the workers
            # race (duplicate key on merchant_issuers_pkey kills one worker).
            _run([python, "-m", "merchant", "add-issuer", "--metadata-url", issuer_url], env)
            merchant = subprocess.Popen(
                [python, "-m", "merchant", "serve", "--port", str(merchant_port),
                 "--workers", str(workers)],
                env=env, cwd=ROOT,
            )  # fmt: skip
            children.append(merchant)
            wait_until_healthy(merchant_url, merchant, within=60, what="merchant")
            yield {
                **env,
                "LOAD_ISSUER_URL": issuer_url,
                "LOAD_MERCHANT_URL": merchant_url,
                "LOAD_ISSUER_API_KEY": issuer_key,
                "LOAD_MERCHANT_API_KEY": merchant_key,
                "LOAD_MERCHANT_DB": merchant_db or str(work / "merchant" / "merchant.sqlite3"),
            }
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()


# --- the nonce check -------------------------------------------------------------------

_DOUBLE_EVIDENCE = (
    "SELECT checkout_id, count(*) FROM merchant_evidence WHERE result = 'authenticated' "
    "GROUP BY checkout_id HAVING count(*) > 1"
)
_DOUBLE_NONCE = (
    "SELECT nonce, count(*) FROM merchant_checkouts WHERE verdict_result = 'authenticated' "
    "GROUP BY nonce HAVING count(*) > 1"
)
_TOTALS = (
    "SELECT (SELECT count(*) FROM merchant_checkouts WHERE verdict_result = 'authenticated'),"
    " (SELECT count(*) FROM merchant_evidence WHERE result = 'authenticated'),"
    " (SELECT count(*) FROM merchant_evidence WHERE code = 'nonce_replayed')"
)


def check_nonces(database: str) -> bool:
    """Print and return whether no checkout/nonce was accepted twice."""
    if database.startswith("postgresql"):

        async def query() -> tuple[list[object], list[object], tuple[int, ...]]:
            import asyncpg

            connection = await asyncpg.connect(database)
            try:
                return (
                    list(await connection.fetch(_DOUBLE_EVIDENCE)),
                    list(await connection.fetch(_DOUBLE_NONCE)),
                    tuple(await connection.fetchrow(_TOTALS)),
                )
            finally:
                await connection.close()

        doubles, nonces, totals = asyncio.run(query())
    else:
        with contextlib.closing(sqlite3.connect(database)) as connection:
            doubles = connection.execute(_DOUBLE_EVIDENCE).fetchall()
            nonces = connection.execute(_DOUBLE_NONCE).fetchall()
            totals = tuple(connection.execute(_TOTALS).fetchone())
    ok = not doubles and not nonces
    print(
        f"\nnonce check ({'PostgreSQL' if database.startswith('postgresql') else 'SQLite'}): "
        f"{totals[0]} authenticated checkouts, {totals[1]} authenticated evidence records, "
        f"{totals[2]} nonce_replayed verdicts; checkouts with >1 authenticated evidence: "
        f"{len(doubles)}; nonces authenticated twice: {len(nonces)} -> "
        f"{'OK' if ok else 'DOUBLE ACCEPTANCE'}"
    )
    return ok


# --- summary -----------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def summarize(prefix: Path) -> tuple[int, int, int]:
    """Print the per-endpoint table and failures; return (requests, failures, exceptions)."""
    stats = _rows(Path(f"{prefix}_stats.csv"))
    print(
        f"\n{'endpoint':<52} {'reqs':>7} {'fail':>5} {'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6}"
    )
    total_requests = total_failures = 0
    for row in stats:
        name = f"{row['Type']} {row['Name']}".strip()
        print(
            f"{name[:52]:<52} {row['Request Count']:>7} {row['Failure Count']:>5} "
            f"{float(row['Requests/s']):>8.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
        if row["Name"] == "Aggregated":
            total_requests = int(row["Request Count"])
            total_failures = int(row["Failure Count"])
    print("(latencies in ms)")
    failures = _rows(Path(f"{prefix}_failures.csv"))
    if failures:
        print("\nunexpected failures by code:")
        for row in failures:
            print(f"  {row['Occurrences']:>6}  {row['Method']} {row['Name']}: {row['Error']}")
    else:
        print("\nunexpected failures: none")
    exceptions = _rows(Path(f"{prefix}_exceptions.csv"))
    for row in exceptions:
        print(f"  locust exception x{row['Count']}: {row['Message'][:200]}")
    return total_requests, total_failures, len(exceptions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-u", "--users", type=int, default=20)
    parser.add_argument("-r", "--spawn-rate", type=float, default=10)
    parser.add_argument("-t", "--run-time", default="30s")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument("--postgres", action="store_true", help="use a private PostgreSQL")
    parser.add_argument("--smoke", action="store_true", help="5 s, 6 users, small pool (CI)")
    parser.add_argument("--ui", action="store_true", help="locust web UI on 127.0.0.1")
    parser.add_argument("--web-port", type=int, default=8089)
    parser.add_argument("--card-pool", type=int, default=None)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed N enrolled cardholders into the issuer first; locust draws its pool from them",
    )
    parser.add_argument("--bad-share", type=float, default=None)
    parser.add_argument("--status-mode", choices=("stapled", "live"), default=None)
    parser.add_argument("--bad-kinds", default=None, help="e.g. replayed (default: all kinds)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "load")
    parser.add_argument("user_classes", nargs="*", help="locust user classes (default: all)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.spawn_rate, args.run_time = 6, 6, "5s"
        args.card_pool = args.card_pool or 6
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = args.out / "locust"
    for old in args.out.glob("locust_*.csv"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="cardcert-load-") as tmp:
        try:
            stack = contextlib.ExitStack()
            env = stack.enter_context(
                services(Path(tmp), workers=args.workers, postgres=args.postgres)
            )
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            print(f"load: could not start the services: {exc}", file=sys.stderr)
            return 2
        with stack:
            if args.seed:
                pool_file = Path(tmp) / "pool.jsonl"
                seeded = subprocess.run(
                    [sys.executable, "-m", "loadtests.seed", "--cards", str(args.seed),
                     "--credentials", "--pool-out", str(pool_file)],
                    env=env, cwd=ROOT, check=False,
                )  # fmt: skip
                if seeded.returncode != 0:
                    print(f"load: seeding failed (exit {seeded.returncode})", file=sys.stderr)
                    return 2
                env["LOAD_POOL_FILE"] = str(pool_file)
                if args.card_pool is None:
                    args.card_pool = min(args.seed, 2000)
            for option, variable in (
                (args.card_pool, "LOAD_CARD_POOL"),
                (args.bad_share, "LOAD_BAD_SHARE"),
                (args.status_mode, "LOAD_STATUS_MODE"),
                (args.bad_kinds, "LOAD_BAD_KINDS"),
            ):
                if option is not None:
                    env[variable] = str(option)
            command = [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
                "--host", env["LOAD_MERCHANT_URL"],
            ]  # fmt: skip
            if args.ui:
                command += ["--web-host", "127.0.0.1", "--web-port", str(args.web_port)]
                print(
                    f"load: locust UI at http://127.0.0.1:{args.web_port} (Ctrl-C stops)",
                    flush=True,
                )
                with contextlib.suppress(KeyboardInterrupt):
                    subprocess.run([*command, *args.user_classes], env=env, cwd=ROOT, check=False)
                return 0
            command += [
                "--headless", "-u", str(args.users), "-r", str(args.spawn_rate),
                "-t", args.run_time, "--stop-timeout", "10", "--only-summary",
                "--csv", str(prefix), "--html", str(args.out / "report.html"),
                "--loglevel", "WARNING", *args.user_classes,
            ]  # fmt: skip
            print(
                f"load: {args.users} users, {args.run_time}, {args.workers} worker(s) per "
                f"service, {'PostgreSQL' if args.postgres else 'SQLite'}",
                flush=True,
            )
            done = subprocess.run(command, env=env, cwd=ROOT, check=False)
            requests, failures, exceptions = summarize(prefix)
            nonces_ok = check_nonces(env["LOAD_MERCHANT_DB"])
    print(f"\nreport: {args.out / 'report.html'}; CSVs: {prefix}_*.csv")
    # locust exits 1 when its final stats hold any failure (the CSVs may miss the last second).
    if requests == 0 or failures or exceptions or not nonces_ok or done.returncode != 0:
        print("load: FAILED", file=sys.stderr)
        return 1
    print("load: OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
