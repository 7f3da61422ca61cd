"""The latency benchmark hook runs (a few rounds) and the checkouts it measures make no
request to the issuer. The figures themselves are for ``make bench``, not asserted here:
they depend on the machine and its load."""

from __future__ import annotations

import pytest

from tests.browser.bench import run

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.browser]


async def test_latency_benchmark_runs() -> None:
    report = await run(rounds=3, warmup=1)
    assert report.issuer_requests_during_checkouts == 0
    assert report.frictionless.rounds == report.after_click.rounds == 3
    assert 0 < report.frictionless.median_ms < 5000
    assert 0 < report.after_click.median_ms < 5000
    print("\n".join(report.lines()))
