"""``make demo``: issuer + merchant + demo shop on SQLite, a demo card, and the URLs to open.

Starts both services on 127.0.0.1 (reached as http://issuer.localhost:8001 and
http://shop.localhost:8002: two sites, both secure contexts in Chromium and Firefox),
registers a demo card at the issuer, prints its card data and activation code, and stays
up until Ctrl-C. State lives in .data/demo/ (delete it to start over).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from servicekit.local_service import ServiceNotHealthy, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data" / "demo"
ISSUER_PORT = int(os.environ.get("DEMO_ISSUER_PORT", "8001"))
SHOP_PORT = int(os.environ.get("DEMO_SHOP_PORT", "8002"))
ISSUER = f"http://issuer.localhost:{ISSUER_PORT}"
SHOP = f"http://shop.localhost:{SHOP_PORT}"
# A Luhn-valid test number in the demo issuer's BIN range (411111).
DEMO_PAN = "4111 1111 1111 1111"
DEMO_CVC = "123"


def _wait_healthy_or_exit(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Wait for the service on 127.0.0.1:``port``; exit the demo if it does not come up."""
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, within=30, what=what)
    except ServiceNotHealthy as exc:
        raise SystemExit(f"demo: {exc}") from exc


def _expiry() -> str:
    now = datetime.now(UTC)
    return f"{now.month:02d}/{(now.year + 3) % 100:02d}"


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = dict(os.environ)
    env.update(
        {
            "ISSUER_DATA_DIR": str(DATA / "issuer"),
            "ISSUER_PUBLIC_ORIGIN": ISSUER,
            "ISSUER_PORT": str(ISSUER_PORT),
            "MERCHANT_DATA_DIR": str(DATA / "merchant"),
            "MERCHANT_PUBLIC_ORIGIN": SHOP,
            "MERCHANT_TRUST_ROOTS": str(DATA / "issuer" / "root-ca.pem"),
            "MERCHANT_ISSUER_METADATA_URLS": ISSUER,
        }
    )
    python = sys.executable
    expiry = _expiry()
    print("demo: registering the demo card at the issuer ...", flush=True)
    registered = subprocess.run(
        [python, "-m", "issuer", "register-card", "--pan", DEMO_PAN, "--expiry", expiry,
         "--cvc", DEMO_CVC, "--name", "Demo Cardholder"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if registered.returncode != 0:
        print(registered.stderr, file=sys.stderr)
        return 1
    code_line = next(
        line for line in registered.stdout.splitlines() if line.startswith("activation code")
    )
    children: list[subprocess.Popen[bytes]] = []
    try:
        issuer = subprocess.Popen(
            [python, "-m", "issuer", "serve", "--port", str(ISSUER_PORT)], env=env, cwd=ROOT
        )
        children.append(issuer)
        _wait_healthy_or_exit(ISSUER_PORT, issuer, "issuer")
        merchant = subprocess.Popen(
            [python, "-m", "merchant", "serve", "--dev", "--port", str(SHOP_PORT)],
            env=env,
            cwd=ROOT,
        )
        children.append(merchant)
        _wait_healthy_or_exit(SHOP_PORT, merchant, "merchant")
        print(
            f"""
cardcert demo is running (Ctrl-C stops it; state in {DATA}).

1. Enroll this browser (issuer):  {ISSUER}/enroll
   {code_line}   (valid 10 minutes; rerun `make demo` for a new one)

2. Buy something (demo shop):     {SHOP}/shop
   card number    {DEMO_PAN}
   expiry         {expiry}
   security code  {DEMO_CVC}
   name           anything: the name is not bound to the certificate

Open both in Chromium, Chrome or Firefox on this machine (*.localhost resolves to 127.0.0.1).
""",
            flush=True,
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(0.5):
            for child in children:
                if child.poll() is not None:
                    print(f"demo: a service exited with status {child.returncode}", file=sys.stderr)
                    stop.set()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    print("demo: stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
