"""bench.process_cpu: CPU seconds of a process tree, and finding the PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench.process_cpu import postmaster_pid, tree_cpu_seconds

# A parent that starts a child and both spin for a while: the tree's CPU counts both.
_SPIN = (
    "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
)
_PARENT = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
    + _SPIN.format(seconds=0.3)
    + "child.wait()\n"
    "input()\n"  # stay alive (and keep the reaped child's time) until the test reads it
)


def test_the_cpu_of_a_tree_counts_its_reaped_children() -> None:
    script = _PARENT.format(child=_SPIN.format(seconds=0.3))
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    try:
        # Poll until both have spun (the parent has reaped the child once it waits on input).
        spent = 0.0
        for _ in range(100):
            spent = tree_cpu_seconds(process.pid)
            if spent >= 0.55:
                break
            time.sleep(0.05)
        assert spent >= 0.55
    finally:
        process.communicate(b"\n", timeout=10)


def test_a_process_that_is_gone_counts_nothing() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert tree_cpu_seconds(process.pid) == 0.0


def test_the_postgresql_server_is_found_by_its_port(postgres_server: str) -> None:
    port = urlsplit(postgres_server).port
    assert port is not None
    pid = postmaster_pid(port)
    assert pid is not None
    assert tree_cpu_seconds(pid) > 0.0
    assert postmaster_pid(1) is None
