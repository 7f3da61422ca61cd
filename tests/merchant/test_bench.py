"""merchant.bench: the benchmark still runs end to end and its breakdown adds up.

Numbers are not asserted (performance lives in ``make bench``); what is checked is that
every presentation was authenticated and that the per-part breakdown is consistent.
"""

from __future__ import annotations

import pytest

from merchant import bench


@pytest.fixture(scope="module")
def result() -> bench.BenchResult:
    return bench.run(requests=20, concurrency=4)


def test_every_presentation_of_the_run_is_authenticated(result: bench.BenchResult) -> None:
    assert result.authenticated == 20
    assert result.first_time_authenticated == 20
    assert result.first_time_endpoint_per_second > 0
    assert result.first_time_core_per_second > 0
    assert result.sequential_authenticated == bench._SEQUENTIAL
    assert result.endpoint_per_second > 0
    assert result.core_per_second > 0


def test_the_breakdown_parts_add_up_to_the_round_trip(result: bench.BenchResult) -> None:
    parts = result.breakdown_us
    round_trip = parts["round trip (client's wall time)"]
    server = parts[bench._SERVER]
    http = parts["aiohttp server + client + loopback"]
    assert round_trip == pytest.approx(server + http)
    inner = [value for name, value in parts.items() if name.startswith("  ")]
    assert sum(inner) == pytest.approx(server)
    timed = {name.strip() for name in parts if name.startswith("  ")}
    assert {
        "database: peek (API key + checkout)",
        "database: settle (nonce + verdict + evidence)",
        "core: verify_presentation (crypto)",
        "parse presentation (JSON, base64, JCS)",
        "evidence document",
    } <= timed
    assert all(parts[f"  {name}"] > 0 for name in timed if not name.startswith("rest"))


def test_the_report_prints_the_breakdown(result: bench.BenchResult) -> None:
    report = result.report()
    assert "per request, one in flight" in report
    assert "database: settle" in report
