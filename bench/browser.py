"""Browser checkout latency: navigation -> the merchant receives the auto-POST (headless
Chromium), from ``tests.browser.bench.run`` (another engineer's harness: stub issuer,
recording merchant, the real Service Worker; read tests/browser/bench.py).

That harness returns medians and p90s. For the p95 this module records the samples it
hands to ``Summary.of`` during the run (read only); if its shape changes, the p95 is
reported as not exposed rather than guessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["BrowserLatency", "LatencyPath", "run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyPath:
    label: str
    rounds: int
    median_ms: float
    p90_ms: float
    p95_ms: float | None  # None: the harness did not expose the samples
    min_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserLatency:
    paths: tuple[LatencyPath, ...]
    issuer_requests_during_checkouts: int


def _p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@contextlib.contextmanager
def _recording(summary: Any, into: list[list[float]]) -> Iterator[None]:
    original = summary.__dict__["of"]  # the classmethod object itself
    of: Callable[[list[float]], Any] = summary.of

    def recorded(cls: type, samples: list[float]) -> Any:
        into.append(list(samples))
        return of(samples)

    summary.of = classmethod(recorded)
    try:
        yield
    finally:
        summary.of = original


def run(*, rounds: int = 30, warmup: int = 3, timeout: float = 150.0) -> BrowserLatency:
    """Run the harness once (blocking).

    Raises:
        ImportError: Playwright (or the harness) is missing.
        TimeoutError: the run took longer than ``timeout`` seconds.
    """
    from tests.browser import bench as harness
    from tests.browser.chromium import chromium_available

    if not chromium_available():
        raise RuntimeError("Chromium is not installed at /usr/bin/chromium")
    samples: list[list[float]] = []
    with _recording(harness.Summary, samples):
        report = asyncio.run(asyncio.wait_for(harness.run(rounds=rounds, warmup=warmup), timeout))
    summaries = (
        ("navigation -> merchant receives POST (frictionless)", report.frictionless),
        ("confirm click -> merchant receives POST", report.after_click),
    )
    # The recorded samples must be the ones behind the summaries (same count and median).
    exposed = len(samples) == len(summaries) and all(
        len(values) == summary.rounds
        and round(statistics.median(values), 2) == round(summary.median_ms, 2)
        for values, (_, summary) in zip(samples, summaries, strict=True)
    )
    if not exposed:
        samples = [[] for _ in summaries]
    return BrowserLatency(
        paths=tuple(
            LatencyPath(
                label=label,
                rounds=summary.rounds,
                median_ms=summary.median_ms,
                p90_ms=summary.p90_ms,
                p95_ms=_p95(values) if values else None,
                min_ms=summary.min_ms,
                max_ms=summary.max_ms,
            )
            for (label, summary), values in zip(summaries, samples, strict=True)
        ),
        issuer_requests_during_checkouts=report.issuer_requests_during_checkouts,
    )
