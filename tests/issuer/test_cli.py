"""``python -m issuer``: operator commands, and ``serve`` as a real multi-worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from certs.wire import b64url_encode
from issuer.cli import main
from servicekit.local_service import free_loopback_port
from tests.issuer.helpers import Device, TestCard, sensitive

REPO = Path(__file__).resolve().parents[2]


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ISSUER_") and key != "DATABASE_URL"
    }
    return environment | {"ISSUER_DATA_DIR": str(data_dir), "ISSUER_LOG_LEVEL": "DEBUG"} | extra


def _lines(text: str) -> dict[str, str]:
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in text.splitlines())
    }


def test_create_api_key_and_register_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("ISSUER_") or n == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    data = tmp_path / "issuer"
    assert main(["create-api-key", "--name", "ops", "--data-dir", str(data)]) == 0
    key = sensitive(capsys.readouterr().out.strip())
    assert key.startswith("ik_")
    assert len(key) == 46

    card = TestCard()
    arguments = ["register-card", "--pan", card.pan, "--expiry", card.expiry, "--cvc", card.cvc]
    assert main([*arguments, "--data-dir", str(data)]) == 0
    printed = _lines(capsys.readouterr().out)
    sensitive(printed["activation code"])
    assert printed["card id"].startswith("card_")
    assert printed["card"] == f"{card.pan[:6]}******{card.pan[-4:]}"
    assert len(printed["activation code"]) == 19
    # The data dir now holds the dev PKI and keys; nothing in it holds the PAN in clear.
    assert {p.name for p in data.iterdir()} >= {
        "issuer-ca.pem",
        "issuer-ca.key",
        "root-ca.pem",
        "card-data.key",
        "pan-lookup.key",
        "issuer.sqlite3",
    }
    for path in data.iterdir():
        assert card.pan.encode() not in path.read_bytes()

    assert (
        main(
            [
                "register-card",
                "--pan",
                "4111111111111112",
                "--expiry",
                "12/39",
                "--cvc",
                "123",
                "--data-dir",
                str(data),
            ]
        )
        == 1
    )
    assert "pan_invalid" in capsys.readouterr().err


def test_production_refuses_to_start_without_keys(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "issuer",
            "serve",
            "--production",
            "--data-dir",
            str(tmp_path / "empty"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=_environment(tmp_path / "unused"),
        check=False,
    )
    assert completed.returncode == 2
    assert "no issuer CA" in completed.stderr
    assert "production mode never generates one" in completed.stderr
    assert not (tmp_path / "empty").exists()


async def test_serve_with_two_workers_enrolls_and_logs_no_card_data(tmp_path: Path) -> None:
    data, port = tmp_path / "issuer", free_loopback_port()
    environment = _environment(data, ISSUER_PUBLIC_ORIGIN=f"http://127.0.0.1:{port}")
    card = TestCard()
    registered = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "issuer",
            "register-card",
            "--pan",
            card.pan,
            "--expiry",
            card.expiry,
            "--cvc",
            card.cvc,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=environment,
        check=True,
    )
    code = sensitive(_lines(registered.stdout)["activation code"])
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "issuer", "serve", "--port", str(port), "--workers", "2"],
            cwd=REPO,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{base}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.1)
            async with http.post(f"{base}/v1/enrollment/challenge", json={}) as response:
                challenge = (await response.json())["challenge"]
            device = Device()
            body = device.enrollment_body(code, base, challenge)
            statuses = []
            for _ in range(4):  # spread over both workers; one mints, the rest are retries
                async with http.post(f"{base}/v1/enrollment", json=body) as response:
                    statuses.append(response.status)
            assert sorted(statuses) == [200, 200, 200, 201]
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 30)
    output = log.read_text()
    assert "POST /v1/enrollment 201" in output
    # (A three-digit security code could match a pid or a latency by chance; the log has no
    # request bodies at all, which the PAN, code and secret checks show.)
    for secret in (card.pan, code, code.replace("-", ""), b64url_encode(device.secret)):
        assert secret not in output
