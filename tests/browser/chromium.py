"""Launching Debian's Chromium with Playwright (flags found by trying, /work/shared/FACTS.md).

Never ``playwright install``: the browser is ``/usr/bin/chromium``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "SCREENSHOTS", "chromium_available"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()
