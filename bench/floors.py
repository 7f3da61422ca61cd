"""What the per-worker targets of issues 3 and 4 leave room for: the least each request pays.

A worker that is busy all the time serves 1/cost requests per second, so a throughput ratio
(endpoint ÷ core, endpoint ÷ ceiling) is a cost ratio, and it can be no higher than what the
request's unavoidable parts allow. Three of those parts are measured here:

* ``http``: the server's cost per request of a minimal aiohttp application (one route that
  answers a small JSON object; no middleware, no access log, no database), in its own
  process at saturation under ``wrk`` (one thread, 16 keep-alive connections), as
  1 / requests per second. Every endpoint of both services pays at least this per request.
* ``sqlite_write``: one durable write transaction on SQLite as the services configure it
  (WAL, ``synchronous=NORMAL``): ``BEGIN IMMEDIATE``, an ``UPDATE`` of one row by primary
  key, ``COMMIT``, on raw ``sqlite3``. A verification consumes its nonce and an enrollment
  consumes its activation code, so each pays at least one.
* the work the ratios divide by, in alternating rounds of this process: the core
  (``verify_presentation`` with the leaf cached, as the endpoint benchmark divides by), the
  enrollment ceiling (``bench.enrollment``'s), and a bare P-256 verify beside them.

Bounds, with nothing else in the request (no JSON body, no parsing of the presentation, no
evidence, no checkout lookup, no second HTTP request):

* verify endpoint ÷ core <= core / (http + core + sqlite_write);
* enrollment ÷ ceiling <= ceiling / (2 x http + ceiling + sqlite_write) (an enrollment is
  two requests: the challenge, then the enrollment).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.timing import Measurement, interleaved
from servicekit.local_service import free_loopback_port, wait_until_healthy

__all__ = ["Floors", "run"]

_ROOT = Path(__file__).resolve().parent.parent
_WRK_SECONDS = 4
_CONNECTIONS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class Floors:
    """Seconds per operation; ``http_requests`` is what wrk counted."""

    http: float
    http_requests: int
    measured: dict[str, Measurement]  # bare_verify, core, ceiling, sqlite_write

    def seconds(self, name: str) -> float:
        return self.measured[name].seconds_per_op

    @property
    def verify_bound(self) -> float:
        core = self.seconds("core")
        return core / (self.http + core + self.seconds("sqlite_write"))

    @property
    def enrollment_bound(self) -> float:
        ceiling = self.seconds("ceiling")
        return ceiling / (2 * self.http + ceiling + self.seconds("sqlite_write"))


def _serve(port: int) -> None:
    """The minimal application, for ``python -m bench.floors --serve PORT``."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _http_seconds_per_request() -> tuple[float, int]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.floors", "--serve", str(port)],
        cwd=_ROOT,
        env={**os.environ, "PYTHONPATH": str(_ROOT)},
    )
    try:
        wait_until_healthy(url, server, within=30, what="minimal aiohttp application")
        command = [wrk, "-t1", f"-c{_CONNECTIONS}", "-d1s", f"{url}/health"]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - warm-up
        command[3] = f"-d{_WRK_SECONDS}s"
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    finally:
        server.terminate()
        server.wait(timeout=10)
    per_second = float(output.split("Requests/sec:")[1].split()[0])
    requests = int(output.split(" requests in ")[0].split()[-1])
    return 1 / per_second, requests


def _sqlite_write(directory: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(directory / "floor.sqlite3", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE nonces (id INTEGER PRIMARY KEY, consumed_at TEXT)")
    connection.executemany("INSERT INTO nonces (id) VALUES (?)", ((i,) for i in range(1000)))
    return connection


def run(*, rounds: int = 15, ops: int = 200) -> Floors:
    from bench import core
    from bench.enrollment import enrollment_contenders
    from certs.card_data import CardData
    from certs.dev_pki import DevPki

    http, requests = _http_seconds_per_request()
    verification = core.contenders()
    pki = DevPki.create(now=verification.now)
    card = CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123")
    ceiling = enrollment_contenders(
        issuer_key=pki.issuer_key,
        issuer_ca=pki.issuer_ca,
        crl_url="http://issuer.localhost:8001/crl",
        ocsp_url="http://issuer.localhost:8001/ocsp",
        validity=timedelta(days=90),
        card=card,
    )["ceiling"]
    with tempfile.TemporaryDirectory(prefix="cardcert-floors-") as directory:
        connection = _sqlite_write(Path(directory))
        row = iter(range(10**9))
        now = json.dumps(time.time())

        def sqlite_write() -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "UPDATE nonces SET consumed_at = ? WHERE id = ?", (now, next(row) % 1000)
            )
            connection.execute("COMMIT")

        try:
            measured = interleaved(
                {
                    "bare_verify": verification.functions["bare_verify"],
                    "core": verification.functions["core_warm"],
                    "ceiling": ceiling,
                    "sqlite_write": sqlite_write,
                },
                rounds=rounds,
                ops=ops,
            )
        finally:
            connection.close()
    return Floors(http=http, http_requests=requests, measured=measured)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve(int(sys.argv[2]))
    else:
        result = run()
        print(f"http {result.http * 1e6:.0f} us/request ({result.http_requests} requests)")
        for name, measurement in result.measured.items():
            print(f"{name} {measurement.microseconds:.1f} us")
        print(f"verify endpoint ÷ core <= {result.verify_bound:.1%}")
        print(f"enrollment ÷ ceiling <= {result.enrollment_bound:.1%}")
