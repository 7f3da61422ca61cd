"""A minimal service under servicekit.runner (``python -m tests.servicekit.runner_app PORT``)."""

from __future__ import annotations

import gc
import json
import sys

from aiohttp import web

from servicekit.runner import serve


async def _app() -> web.Application:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def collector(_request: web.Request) -> web.Response:
        # What the worker's garbage collector runs with (servicekit/gc_tuning.py).
        return web.Response(
            text=json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()})
        )

    app = web.Application()
    app.router.add_get("/health", hello)  # what servicekit.local_service waits for
    app.router.add_get("/gc", collector)
    return app


if __name__ == "__main__":
    serve(_app, host="127.0.0.1", port=int(sys.argv[1]), workers=2)
