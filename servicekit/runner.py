"""Serving an aiohttp app with N worker processes sharing one port (SO_REUSEPORT).

The parent prepares shared state once (``prepare``: database migrations, PKI files), then
forks ``workers`` processes; each builds its own app and binds the same host/port with
``reuse_port=True`` so the kernel spreads connections across them. Workers share state
only through the database. SIGINT/SIGTERM stop all workers. Each worker sets the garbage
collector for serving once its app has started (servicekit/gc_tuning.py).

The parent supervises: a worker that exits while the service is not stopping (killed by
the OOM killer or ``kill -9``, or crashed) is replaced by a fresh fork; meanwhile the other
workers keep serving the port. More than ``_MAX_RESTARTS`` replacements within
``_RESTART_WINDOW`` seconds (a worker that cannot start) stop the service with an error
instead of looping. tests/hardening/test_faults_workers.py kills workers mid-request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from multiprocessing.process import BaseProcess
from typing import Any

from aiohttp import web

from servicekit.gc_tuning import tune_for_serving

__all__ = ["serve"]

log = logging.getLogger("cardcert.runner")

_MAX_RESTARTS = 5
_RESTART_WINDOW = 30.0


async def _tune_after_startup(app: web.Application) -> None:
    tune_for_serving()  # servicekit/gc_tuning.py: what start-up built is frozen


async def _serving_app(app_factory: Callable[[], Awaitable[web.Application]]) -> web.Application:
    app = await app_factory()
    # on_startup runs in order: the app's own cleanup contexts (databases, verifiers) first.
    app.on_startup.append(_tune_after_startup)
    return app


def _run_worker(
    app_factory: Callable[[], Awaitable[web.Application]], host: str, port: int, reuse_port: bool
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent coordinates shutdown
    # A replacement is forked after the parent installed its own SIGTERM handler; a
    # SIGTERM before the loop's handler is in place must not run the parent's.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The first SIGTERM starts a graceful exit; later ones are ignored. A stop that signals
    # the whole process group (systemd's default KillMode, ``kill -TERM -PGID``) reaches a
    # worker twice, from the signal and from the parent, and aiohttp's own handler would
    # raise GracefulExit (exit code 1) again in the middle of the shutdown.
    loop = asyncio.new_event_loop()
    terminating = False

    def _terminate() -> None:
        nonlocal terminating
        if terminating:
            return
        terminating = True
        raise web.GracefulExit()

    loop.add_signal_handler(signal.SIGTERM, _terminate)
    web.run_app(
        _serving_app(app_factory),
        host=host,
        port=port,
        reuse_port=reuse_port,
        print=None,
        access_log=None,
        handle_signals=False,
        loop=loop,
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
        web.run_app(_serving_app(app_factory), host=host, port=port, print=None, access_log=None)
        return
    # Python's gc docs for servers that fork: freeze right before fork(), so collections in
    # the workers do not write to the pages they share with the parent.
    gc.freeze()
    context = multiprocessing.get_context("fork")

    def spawn() -> BaseProcess:
        process = context.Process(
            target=_run_worker, args=(app_factory, host, port, True), daemon=True
        )
        process.start()
        return process

    processes = [spawn() for _ in range(workers)]
    log.info("started %d workers on %s:%d", workers, host, port)
    stopping = False
    gave_up = False
    restarts: deque[float] = deque()

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping:
        multiprocessing.connection.wait([process.sentinel for process in processes])
        for slot, process in enumerate(processes):
            if stopping or process.exitcode is None:
                continue
            now = time.monotonic()
            while restarts and now - restarts[0] > _RESTART_WINDOW:
                restarts.popleft()
            if len(restarts) >= _MAX_RESTARTS:
                log.error(
                    "worker %d exited with %s; %d restarts in %.0f s, stopping",
                    process.pid,
                    process.exitcode,
                    len(restarts),
                    _RESTART_WINDOW,
                )
                gave_up = True
                _stop(0, None)
                break
            log.warning(
                "worker %d exited with %s; starting a replacement", process.pid, process.exitcode
            )
            restarts.append(now)
            processes[slot] = spawn()
    exit_code = 0
    for process in processes:
        process.join()
        code = process.exitcode or 0
        exit_code = exit_code or (0 if code == -signal.SIGTERM else code)
    sys.exit(exit_code or (1 if gave_up else 0))
