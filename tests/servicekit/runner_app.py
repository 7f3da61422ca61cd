"""A minimal service under servicekit.runner (``python -m tests.servicekit.runner_app PORT``)."""

from __future__ import annotations

import sys

from aiohttp import web

from servicekit.runner import serve


async def _app() -> web.Application:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    return app


if __name__ == "__main__":
    serve(_app, host="127.0.0.1", port=int(sys.argv[1]), workers=2)
