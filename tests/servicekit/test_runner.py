"""servicekit.runner: a stop that signals the whole process group is a clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from servicekit.gc_tuning import OLDER, YOUNG
from servicekit.local_service import free_loopback_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _runner_app() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """tests/servicekit/runner_app.py (2 workers) in its own process group, once healthy;
    whatever is left of the group is killed on exit."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servicekit.runner_app", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(url, process, within=15, what="runner app")
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.mark.parametrize("attempt", range(5))
def test_sigterm_to_the_process_group_exits_zero(attempt: int) -> None:
    """systemd's default stop (and ``kill -TERM -PGID``) signals the parent and every
    worker at once; each worker then also gets the parent's SIGTERM. The second one used
    to raise aiohttp's GracefulExit again mid-shutdown, and the service exited 1 about one
    time in three; repeated to catch that race."""
    with _runner_app() as (_, process):
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (
            process.stderr.read().decode() if process.stderr else ""
        )


def test_workers_serve_with_the_collector_set_for_serving() -> None:
    """Each worker freezes what start-up built and raises the collection thresholds once
    its app has started (servicekit/gc_tuning.py)."""
    with _runner_app() as (url, _):
        for _ in range(4):  # connections land on either worker
            with urllib.request.urlopen(f"{url}/gc", timeout=5) as answer:  # noqa: S310
                settings = json.loads(answer.read())
            assert settings["threshold"] == [YOUNG, OLDER, OLDER]
            assert settings["frozen"] > 1000  # modules, aiohttp, the app
