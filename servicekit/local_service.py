"""A service subprocess on 127.0.0.1: a free port for it, and waiting until it is healthy.

For the dev tooling that starts ``python -m issuer serve`` / ``python -m merchant serve``
itself (``make demo``, ``make load``, ``make bench``, the fault-injection tests).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["ServiceNotHealthy", "free_loopback_port", "wait_until_healthy"]

_POLL_SECONDS = 0.05


class ServiceNotHealthy(RuntimeError):
    """A started service exited, or did not answer 200 on ``/health`` in time.

    ``returncode`` is the exit status, or None when the process is still running.
    """

    def __init__(self, *, what: str, url: str, returncode: int | None) -> None:
        self.what = what
        self.url = url
        self.returncode = returncode
        if returncode is None:
            message = f"the {what} did not become healthy at {url}"
        else:
            message = f"the {what} exited with status {returncode}"
        super().__init__(message)


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_health(url: str) -> bool:
    try:
        # Loopback only (checked by the caller): a service this process started itself.
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:  # refused, reset, timed out, or an HTTP error status
        return False


def wait_until_healthy(
    url: str, process: subprocess.Popen[Any], *, within: float, what: str
) -> None:
    """Poll ``{url}/health`` until it answers 200 while ``process`` is still running.

    Args:
        url: the service's base URL, ``http://127.0.0.1:PORT``.
        process: the service's process.
        within: seconds before giving up.
        what: the service's name in the error message, e.g. ``"merchant"``.

    Raises:
        ValueError: ``url`` is not an ``http://127.0.0.1`` URL.
        ServiceNotHealthy: the process exited, or ``within`` seconds passed.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http" or parsed.hostname != "127.0.0.1":
        raise ValueError(f"not an http://127.0.0.1 URL: {url!r}")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceNotHealthy(what=what, url=url, returncode=process.returncode)
        if _answers_health(url):
            return
        time.sleep(_POLL_SECONDS)
    raise ServiceNotHealthy(what=what, url=url, returncode=None)
