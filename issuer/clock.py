"""The issuer's notion of "now": injected, so tests can move time (STYLE.md, 2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware UTC, truncated to whole seconds (as X.509 stores it)."""
    return datetime.now(UTC).replace(microsecond=0)
