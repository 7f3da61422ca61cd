"""In-process aiohttp servers for the browser tests, and a request log per server.

Each server listens on 127.0.0.1 and is reached by the browser as ``http://NAME.localhost:PORT``
(Chromium resolves ``*.localhost`` to loopback and treats it as a secure context, so the
issuer and the shop are two sites without TLS). The request log is an aiohttp access
logger: it sees every request the server answered, without touching the application.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["LoggedRequest", "RequestLog", "serve"]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    received: float  # time.perf_counter() when the request arrived (approximately)
    answered: float  # time.perf_counter() when the response was written


@dataclass
class RequestLog:
    """Requests one server answered, in order."""

    entries: list[LoggedRequest] = field(default_factory=list)

    def mark(self) -> int:
        """A position; :meth:`since` lists what came after it."""
        return len(self.entries)

    def since(self, mark: int) -> list[LoggedRequest]:
        return self.entries[mark:]

    def paths(self, mark: int = 0) -> list[str]:
        return [f"{e.method} {e.path}" for e in self.entries[mark:]]


def _logger_class(log: RequestLog) -> type[AbstractAccessLogger]:
    class _Logger(AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time_: float) -> None:
            now = time.perf_counter()
            log.entries.append(
                LoggedRequest(request.method, request.path_qs, response.status, now - time_, now)
            )

        @property
        def enabled(self) -> bool:
            return True

    return _Logger


@asynccontextmanager
async def serve(app: web.Application, port: int, log: RequestLog) -> AsyncIterator[None]:
    """Run ``app`` on 127.0.0.1:``port`` until the block ends."""
    runner = web.AppRunner(app, access_log_class=_logger_class(log), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()
