"""An aiohttp application served on 127.0.0.1 by its own event loop in a thread.

schemathesis and the HTTP-level fuzzers call the service with blocking clients, so the
service cannot share the test's thread; setup coroutines (API keys, rows in the database)
run on the service's loop with :meth:`LiveApp.run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from aiohttp import web

__all__ = ["LiveApp"]

T = TypeVar("T")
TIMEOUT = 30.0


@dataclass
class LiveApp:
    app: web.Application
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: web.AppRunner
    port: int

    @classmethod
    def start(cls, app: web.Application) -> Self:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="live-app", daemon=True)
        thread.start()
        runner = web.AppRunner(app, access_log=None)

        async def serve() -> int:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return int(runner.addresses[0][1])

        port = asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=TIMEOUT)
        return cls(app=app, loop=loop, thread=thread, runner=runner, port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the service's loop (where its database engine lives)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=TIMEOUT)

    def stop(self) -> None:
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=TIMEOUT)
        self.loop.close()
