"""The merchant's verify endpoint against the bare core (issue 4), SQLite and PostgreSQL.

Calls :func:`merchant.bench.run` (read merchant/bench.py): in one process it measures the
core (:func:`certs.verification.verify_presentation`, inputs pre-parsed, one certificate so
the leaf check is cached), the core plus per-call parsing, and ``POST
/v1/checkouts/{id}/verify`` with ``concurrency`` requests in flight from a client on the
same event loop, then both again for first-time cardholders (nothing cached). Its core and
endpoint phases run one after the other, not interleaved, so this module alternates whole
runs (SQLite, PostgreSQL, SQLite, ...) ``repeats`` times and reports medians: each ratio is
taken within one run, then the median over runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from merchant.bench import BenchResult
from merchant.bench import run as run_merchant_bench

__all__ = ["MerchantSummary", "run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantSummary:
    """Medians over ``runs`` runs on one database."""

    database: str
    runs: tuple[BenchResult, ...]

    def _median(self, value: Callable[[BenchResult], float]) -> float:
        return statistics.median(value(run) for run in self.runs)

    @property
    def endpoint_per_second(self) -> float:
        return self._median(lambda r: r.endpoint_per_second)

    @property
    def core_per_second(self) -> float:
        return self._median(lambda r: r.core_per_second)

    @property
    def core_with_parsing_per_second(self) -> float:
        return self._median(lambda r: r.core_with_parsing_per_second)

    @property
    def ratio(self) -> float:
        """Endpoint ÷ core, per run, median."""
        return self._median(lambda r: r.endpoint_per_second / r.core_per_second)

    @property
    def first_time_ratio(self) -> float:
        """First-time cardholders (nothing cached): endpoint ÷ core, per run, median."""
        return self._median(
            lambda r: r.first_time_endpoint_per_second / r.first_time_core_per_second
        )

    @property
    def first_time_endpoint_per_second(self) -> float:
        return self._median(lambda r: r.first_time_endpoint_per_second)

    @property
    def first_time_core_per_second(self) -> float:
        return self._median(lambda r: r.first_time_core_per_second)

    @property
    def parsing_ratio(self) -> float:
        return self._median(lambda r: r.core_with_parsing_per_second / r.core_per_second)

    @property
    def p50_ms(self) -> float:
        return self._median(lambda r: r.endpoint_p50_ms)

    @property
    def p99_ms(self) -> float:
        return self._median(lambda r: r.endpoint_p99_ms)

    @property
    def authenticated(self) -> int:
        return sum(r.authenticated + r.first_time_authenticated for r in self.runs)

    @property
    def requests(self) -> int:
        return sum(2 * r.requests for r in self.runs)  # returning + first-time cardholders


def run(
    databases: dict[str, Callable[[], str | None]],
    *,
    requests: int = 600,
    concurrency: int = 16,
    repeats: int = 3,
    progress: Callable[[str], None] = print,
) -> dict[str, MerchantSummary]:
    """Alternate ``merchant.bench.run`` over ``databases`` (label -> a fresh database URL,
    or None for SQLite in a temporary directory) ``repeats`` times."""
    results: dict[str, list[BenchResult]] = {label: [] for label in databases}
    for repeat in range(repeats):
        for label, database_url in databases.items():
            progress(f"  merchant verify on {label}, run {repeat + 1}/{repeats}")
            results[label].append(
                run_merchant_bench(
                    requests=requests, concurrency=concurrency, database_url=database_url()
                )
            )
    return {
        label: MerchantSummary(database=label, runs=tuple(runs)) for label, runs in results.items()
    }
