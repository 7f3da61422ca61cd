"""servicekit.local_service: free loopback ports and waiting for a service's ``/health``."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from servicekit.local_service import ServiceNotHealthy, free_loopback_port, wait_until_healthy


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def healthy_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_free_loopback_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_loopback_port()))


def test_returns_once_health_answers_200(
    healthy_url: str, sleeper: subprocess.Popen[bytes]
) -> None:
    wait_until_healthy(healthy_url, sleeper, within=10, what="service")


def test_a_process_that_exits_is_reported_with_its_status() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ServiceNotHealthy) as raised:
        wait_until_healthy(
            f"http://127.0.0.1:{free_loopback_port()}", process, within=30, what="issuer"
        )
    assert raised.value.returncode == 3
    assert str(raised.value) == "the issuer exited with status 3"


def test_no_answer_within_the_deadline(sleeper: subprocess.Popen[bytes]) -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"
    with pytest.raises(ServiceNotHealthy) as raised:
        wait_until_healthy(url, sleeper, within=0.3, what="merchant")
    assert raised.value.returncode is None
    assert str(raised.value) == f"the merchant did not become healthy at {url}"


@pytest.mark.parametrize(
    "url", ["http://example.com:8000", "https://127.0.0.1:8000", "http://localhost:8000"]
)
def test_only_http_loopback_urls(url: str, sleeper: subprocess.Popen[bytes]) -> None:
    with pytest.raises(ValueError, match=r"http://127\.0\.0\.1"):
        wait_until_healthy(url, sleeper, within=1, what="service")
