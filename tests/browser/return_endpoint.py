"""A merchant return endpoint in its own process, for the latency benchmark.

``python -m tests.browser.return_endpoint PORT`` serves ``POST /checkout/return`` on
127.0.0.1 and prints one JSON line per POST: ``{"checkoutId", "result", "arrivedMs"}``,
where ``arrivedMs`` is the wall clock (ms) when the handler started. A separate process, so
that the arrival time does not wait for the benchmark's own event loop (Playwright).
"""

from __future__ import annotations

import json
import sys
import time

from aiohttp import web

__all__ = ["main"]


async def checkout_return(request: web.Request) -> web.Response:
    arrived = time.time() * 1000
    form = await request.post()
    line = {
        "checkoutId": form.get("checkoutId"),
        "result": form.get("result"),
        "arrivedMs": arrived,
    }
    print(json.dumps(line), flush=True)
    return web.Response(
        text='<!doctype html><title>received</title><p id="received">ok</p>',
        content_type="text/html",
    )


def main() -> None:
    app = web.Application()
    app.router.add_post("/checkout/return", checkout_return)
    print(json.dumps({"ready": True}), flush=True)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
