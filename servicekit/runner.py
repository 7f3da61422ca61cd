"""Serving an aiohttp app with N worker processes sharing one port (SO_REUSEPORT).

The parent prepares shared state once (``prepare``: database migrations, PKI files), then
forks ``workers`` processes; each builds its own app and binds the same host/port with
``reuse_port=True`` so the kernel spreads connections across them. Workers share state
only through the database. SIGINT/SIGTERM stop all workers.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

__all__ = ["serve"]

log = logging.getLogger("cardcert.runner")


def _run_worker(
    app_factory: Callable[[], Awaitable[web.Application]], host: str, port: int, reuse_port: bool
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent coordinates shutdown
    web.run_app(
        app_factory(),
        host=host,
        port=port,
        reuse_port=reuse_port,
        print=None,
        access_log=None,
        handle_signals=True,
    )


def serve(
    app_factory: Callable[[], Awaitable[web.Application]],
    *,
    host: str,
    port: int,
    workers: int = 1,
    prepare: Callable[[], Coroutine[Any, Any, None]] | None = None,
    banner: str = "",
) -> None:
    """Run the app on ``host:port`` with ``workers`` processes until interrupted."""
    if prepare is not None:
        asyncio.run(prepare())
    if banner:
        print(banner, flush=True)
    if workers <= 1:
        web.run_app(app_factory(), host=host, port=port, print=None, access_log=None)
        return
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_run_worker, args=(app_factory, host, port, True), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    log.info("started %d workers on %s:%d", workers, host, port)

    def _stop(_signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    exit_code = 0
    for process in processes:
        process.join()
        exit_code = exit_code or (process.exitcode or 0)
    sys.exit(0 if exit_code in (0, -signal.SIGTERM) else exit_code)
