"""Side-by-side timing: interleave the contenders in rounds and report medians.

These machines are noisy (2 shared cores), so absolute figures drift between runs; ratios of
contenders measured in alternating rounds of the same process are what the reports lead with.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Measurement", "interleaved"]


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    seconds_per_op: float
    rounds: tuple[float, ...]

    @property
    def microseconds(self) -> float:
        return self.seconds_per_op * 1e6


def interleaved(
    contenders: dict[str, Callable[[], object]], *, rounds: int = 15, ops: int = 200
) -> dict[str, Measurement]:
    """Run each contender ``ops`` times per round, alternating, ``rounds`` rounds; medians."""
    for function in contenders.values():  # warm-up: caches, allocators, branch predictors
        for _ in range(max(1, ops // 10)):
            function()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            started = time.perf_counter()
            for _ in range(ops):
                function()
            samples[name].append((time.perf_counter() - started) / ops)
    return {
        name: Measurement(name, statistics.median(values), tuple(values))
        for name, values in samples.items()
    }
