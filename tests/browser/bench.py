"""Checkout latency in the browser: navigation to the pay URL -> the merchant receives the
auto-POSTed presentation. ``make bench`` can call :func:`run` (or run
``python -m tests.browser.bench``).

Two measurements, both without the human click and without the merchant's verification
(the clock stops when the POST arrives at the return endpoint):

* ``frictionless``: the issuer's policy lets the Service Worker sign 12.30 EUR silently;
  the clock starts when the browser is told to navigate to ``/pay?request=...`` and stops
  when the stub merchant receives the POST. This is the whole browser-side path: worker
  fetch event, IndexedDB read, RFC 8785 + ECDSA signing, result page, external
  auto-submit script from the worker's cache, form POST.
* ``after_click``: above the threshold, the confirmation page is shown; the clock starts at
  the click on "Pay" (dispatched in the page) and stops at the POST's arrival.

Runs against the stub issuer and a recording merchant (tests/browser/stub_*.py), in one
process, so both ends read the same ``time.perf_counter``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from playwright.async_api import Page, async_playwright

from servicekit.local_service import free_loopback_port
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS
from tests.browser.flows import enroll, new_pan, pay_url, transaction_request
from tests.browser.servers import RequestLog, serve
from tests.browser.stub_issuer import StubIssuer

__all__ = ["LatencyReport", "Summary", "main", "run"]

_ROOT = Path(__file__).resolve().parents[2]
REPORT = _ROOT / "build" / "bench" / "browser-latency.json"

# Navigation start and arrival are both read as wall-clock milliseconds: in the page
# (performance.timeOrigin + performance.now(), when the script asks for the navigation)
# and in the merchant's own process (time.time() when its handler starts), so neither
# Playwright's protocol round trip nor this process's event loop is counted.
_NAVIGATE = (
    "(url) => { const t = performance.timeOrigin + performance.now();"
    " location.href = url; return t; }"
)
_CLICK = (
    "() => { const t = performance.timeOrigin + performance.now();"
    " document.getElementById('confirm').click(); return t; }"
)


@dataclass(frozen=True, slots=True)
class Summary:
    rounds: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        ordered = sorted(samples)
        return cls(
            rounds=len(ordered),
            median_ms=round(statistics.median(ordered), 2),
            p90_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 2),
            min_ms=round(ordered[0], 2),
            max_ms=round(ordered[-1], 2),
        )


@dataclass(frozen=True, slots=True)
class LatencyReport:
    frictionless: Summary  # navigation -> merchant receives the POST
    after_click: Summary  # confirm click -> merchant receives the POST
    issuer_requests_during_checkouts: int

    def lines(self) -> list[str]:
        return [
            "## Browser checkout latency (headless Chromium, Service Worker)",
            "",
            "| path | rounds | median | p90 | min | max |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {label} | {s.rounds} | {s.median_ms:.1f} ms | {s.p90_ms:.1f} ms | "
                f"{s.min_ms:.1f} ms | {s.max_ms:.1f} ms |"
                for label, s in (
                    ("navigation -> merchant receives POST (frictionless)", self.frictionless),
                    ("confirm click -> merchant receives POST", self.after_click),
                )
            ),
            "",
            f"Requests to the issuer during the measured checkouts: "
            f"{self.issuer_requests_during_checkouts}. Target: < 50 ms headless.",
        ]


class _ReturnEndpoint:
    """tests/browser/return_endpoint.py in a child process, and what it reports."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> _ReturnEndpoint:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.browser.return_endpoint",
            str(self.port),
            cwd=str(_ROOT),
            env={**os.environ, "PYTHONPATH": str(_ROOT)},
            stdout=asyncio.subprocess.PIPE,
        )
        assert json.loads(await self._line()) == {"ready": True}
        for _ in range(200):  # until it listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
            else:
                writer.close()
                return self
        raise RuntimeError("the return endpoint did not start")

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        await self.process.wait()

    async def _line(self) -> bytes:
        assert self.process is not None
        assert self.process.stdout is not None
        return await asyncio.wait_for(self.process.stdout.readline(), 10)

    async def arrival(self, checkout_id: str) -> float:
        while True:
            report = json.loads(await self._line())
            if report["checkoutId"] == checkout_id:
                assert report["result"] == "presented"
                return float(report["arrivedMs"])


async def _one(
    page: Page, endpoint: _ReturnEndpoint, url: str, checkout_id: str, *, click: bool
) -> float:
    if click:
        await page.goto(url)
        await page.wait_for_selector("body[data-page='confirm']")
        started = await page.evaluate(_CLICK)
    else:
        started = await page.evaluate(_NAVIGATE, url)
    arrived = await endpoint.arrival(checkout_id)
    await page.wait_for_selector("#received")
    return arrived - float(started)


async def run(*, rounds: int = 30, warmup: int = 3, files: Path | None = None) -> LatencyReport:
    """Measure; see the module docstring. ``files``: another copy of service_worker/."""
    issuer_port, shop_port = free_loopback_port(), free_loopback_port()
    issuer_origin = f"http://issuer.localhost:{issuer_port}"
    shop_origin = f"http://shop.localhost:{shop_port}"
    issuer = StubIssuer(origin=issuer_origin, frictionless={"EUR": "30.00"})
    if files is not None:
        issuer.files = files
    issuer_log = RequestLog()
    async with (
        _ReturnEndpoint(shop_port) as endpoint,
        serve(issuer.app(), issuer_port, issuer_log),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            pan = new_pan()
            await enroll(page, issuer_origin, issuer.add_card(pan))
            card = (pan[:6], pan[-4:])
            results: dict[str, list[float]] = {"frictionless": [], "after_click": []}
            mark = issuer_log.mark()
            for index in range(warmup + rounds):
                for name, amount, click in (
                    ("frictionless", "12.30", False),
                    ("after_click", "99.00", True),
                ):
                    request = transaction_request(shop_origin=shop_origin, card=card, amount=amount)
                    url = pay_url(issuer_origin, request)
                    elapsed = await _one(page, endpoint, url, request["checkoutId"], click=click)
                    if index >= warmup:
                        results[name].append(elapsed)
            during = len(issuer_log.since(mark))
        finally:
            await browser.close()
    return LatencyReport(
        frictionless=Summary.of(results["frictionless"]),
        after_click=Summary.of(results["after_click"]),
        issuer_requests_during_checkouts=during,
    )


def main() -> int:
    report = asyncio.run(run())
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print("\n".join(report.lines()))
    print(f"written to {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
