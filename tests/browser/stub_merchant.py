"""A stand-in merchant return endpoint: records what the Service Worker POSTs.

Used to test the browser side without the merchant service, and by the latency benchmark
(the time from navigation to the arrival of the auto-POST does not depend on what the
merchant then does). ``/popup`` is a shop page that opens the pay URL in a popup and
forwards the opener message to the return endpoint, as docs/interfaces.md section 5 asks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

__all__ = ["Received", "StubMerchant"]

_HERE = Path(__file__).resolve().parent
_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'"


@dataclass(frozen=True, slots=True)
class Received:
    fields: dict[str, str]
    at: float  # time.perf_counter() when the POST arrived
    origin: str | None
    referer: str | None


@dataclass
class StubMerchant:
    received: list[Received] = field(default_factory=list)
    _arrival: asyncio.Condition | None = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> Received:
        """Wait until ``count`` POSTs have arrived; return the last one."""
        if self._arrival is None:
            self._arrival = asyncio.Condition()
        async with self._arrival:
            await asyncio.wait_for(
                self._arrival.wait_for(lambda: len(self.received) >= count), timeout
            )
        return self.received[count - 1]

    def app(self) -> web.Application:
        app = web.Application()

        async def checkout_return(request: web.Request) -> web.Response:
            at = time.perf_counter()
            form = await request.post()
            self.received.append(
                Received(
                    {k: str(v) for k, v in form.items()},
                    at,
                    request.headers.get("Origin"),
                    request.headers.get("Referer"),
                )
            )
            if self._arrival is not None:
                async with self._arrival:
                    self._arrival.notify_all()
            result = form.get("result", "")
            return web.Response(
                text=f'<!doctype html><title>received</title><p id="received">{result}</p>',
                content_type="text/html",
                headers={"Content-Security-Policy": _CSP},
            )

        async def popup_page(request: web.Request) -> web.Response:
            return web.Response(
                text=(
                    "<!doctype html><title>shop</title>"
                    '<button id="pay" data-pay-url="">Pay</button><p id="outcome"></p>'
                    '<script src="/popup.js"></script>'
                ),
                content_type="text/html",
                headers={"Content-Security-Policy": _CSP},
            )

        async def popup_script(request: web.Request) -> web.Response:
            return web.Response(
                text=(_HERE / "stub_popup.js").read_text(),
                content_type="text/javascript",
            )

        app.router.add_post("/checkout/return", checkout_return)
        app.router.add_get("/popup", popup_page)
        app.router.add_get("/popup.js", popup_script)
        return app
