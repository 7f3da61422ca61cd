"""``make bench``: run every benchmark in one process and write build/bench/report.md.

Sections, in order: core verification, the floors of the per-worker targets, enrollment
(issuer, SQLite and PostgreSQL), merchant verify endpoint (SQLite and PostgreSQL), merchant
verify with 1 vs 2 worker processes under wrk (PostgreSQL and SQLite), browser checkout
latency. A section that fails is reported as "not available (reason)" and the run goes on;
the report is rewritten after every section, so an interrupted run still leaves what it
measured. At the end the "ratios at a glance" table is drawn to build/bench/report.png
(needs matplotlib, the ``bench`` extra).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Each section imports its benchmark when it starts: a service that fails to import costs
# that section only.
from bench import postgres
from bench.report import Headlines

REPORT = Path("build/bench/report.md")
CHART = REPORT.with_suffix(".png")
NO_MATPLOTLIB = "chart: matplotlib not installed (pip install -e '.[bench]')"


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"unknown CPU, {os.cpu_count()} cores"


def machine() -> str:
    return f"{cpu()}, Python {platform.python_version()}"


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Run:
    """The report being built: sections in order, the headline table, progress output."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.head = Headlines()
        self.sections: list[str] = []
        self.timings: list[tuple[str, float]] = []
        self.chart = ""  # the line under the table that shows or explains report.png
        self.machine = machine()
        self.label = cpu()  # labels every absolute figure
        self.intro = [
            "# cardcert benchmark report",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {self.machine} "
            f"({load()} at the start).",
            "Ratios are measured side by side in one process (interleaved or alternating "
            "rounds, medians) and lead every section; absolute figures are for this machine "
            "only, a shared 2-core box whose other tenants run test suites: they drift "
            "between runs, the ratios much less.",
            "",
        ]

    def section(self, title: str, body: Callable[[], list[str]]) -> None:
        print(f"[{time.monotonic() - self.started:5.1f} s] {title} ...", flush=True)
        started = time.monotonic()
        try:
            lines = body()
        except Exception as error:  # a failing section must never abort the report
            traceback.print_exc()
            lines = [f"## {title}", "", f"{title}: not available ({_reason(error)})", ""]
            self.head.add(title, "not available", "")
        self.timings.append((title, time.monotonic() - started))
        self.sections.append("\n".join(lines))
        self.write()

    def text(self) -> str:
        return "\n".join(
            [
                *self.intro,
                "## Ratios at a glance",
                "",
                *self.head.lines(),
                "",
                *([self.chart, ""] if self.chart else []),
                *self.sections,
                "## Run",
                "",
                *(f"- {title}: {seconds:.1f} s" for title, seconds in self.timings),
                f"- total {time.monotonic() - self.started:.1f} s; {load()} at the end.",
                "",
            ]
        )

    def write(self) -> None:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(self.text())


def draw(run: Run) -> None:
    """The headline table as build/bench/report.png; a note instead without matplotlib."""
    from bench import chart

    try:
        written = chart.write(run.head.rows, CHART)
    except Exception as error:  # a chart must never cost the report
        traceback.print_exc()
        run.chart = f"chart: not drawn ({_reason(error)})"
        return
    if written is None:
        print(NO_MATPLOTLIB, flush=True)
        run.chart = NO_MATPLOTLIB
    else:
        run.chart = f"![ratios at a glance]({CHART.name})"


def main() -> int:
    CHART.unlink(missing_ok=True)  # never leave a chart from an earlier run beside this report
    run = Run()
    label = run.label

    def verification() -> list[str]:
        from bench import core
        from bench.report import core_lines

        return core_lines(core.run(), label, run.head)

    run.section("core verification vs bare P-256 verify", verification)

    def floors() -> list[str]:
        from bench import floors
        from bench.report import floors_lines

        return floors_lines(floors.run(), label, run.head)

    run.section("floors of the per-worker targets (issues 3 and 4)", floors)
    with contextlib.ExitStack() as stack:
        print(f"[{time.monotonic() - run.started:5.1f} s] private PostgreSQL cluster ...")
        cluster: postgres.Cluster | None = None
        no_postgres = ""
        try:
            cluster = stack.enter_context(postgres.cluster())
        except Exception as error:
            no_postgres = f"PostgreSQL: not available ({_reason(error)})"
            print(no_postgres, flush=True)

        def enrollments() -> list[str]:
            from bench import enrollment
            from bench.report import enrollment_lines

            databases: dict[str, Callable[[], str | None]] = {"SQLite": lambda: None}
            if cluster is not None:
                databases["PostgreSQL"] = lambda: cluster.database("bench_issuer")
            results = []
            missing = [no_postgres] if no_postgres else []
            for database, url in databases.items():
                print(f"  enrollment on {database}", flush=True)
                try:
                    results.append(
                        enrollment.run(cards=300, concurrency=8, batches=5, database_url=url())
                    )
                except Exception as error:
                    traceback.print_exc()
                    missing.append(f"{database}: not available ({_reason(error)})")
                    run.head.add(f"enrollment endpoint ÷ ceiling ({database})", "not available")
            return enrollment_lines(results, label, run.head, missing)

        run.section("enrollment (issuer, issue 3) vs bare ceiling", enrollments)

        def merchant() -> list[str]:
            from bench import merchant_endpoint
            from bench.report import merchant_lines

            databases: dict[str, Callable[[], str | None]] = {"SQLite": lambda: None}
            if cluster is not None:
                databases["PostgreSQL"] = lambda: cluster.database("bench_merchant")
            summaries = merchant_endpoint.run(databases, requests=600, concurrency=16, repeats=3)
            return merchant_lines(
                summaries, label, run.head, [no_postgres] if no_postgres else None
            )

        run.section("merchant verify endpoint (issue 4) vs core", merchant)

        def workers() -> list[str]:
            from bench import workers
            from bench.report import workers_lines

            databases: dict[str, Callable[[], str | None]] = {}
            if cluster is not None:  # first: 2 workers on SQLite serialise on its write lock
                databases["PostgreSQL"] = lambda: cluster.database("bench_workers")
            databases["SQLite"] = lambda: None
            results = []
            missing = [no_postgres] if no_postgres else []
            for database, url in databases.items():
                try:
                    results.append(workers.run(database=database, database_url=url()))
                except Exception as error:
                    traceback.print_exc()
                    missing.append(f"{database}: not available ({_reason(error)})")
                    run.head.add(
                        f"merchant verify, 2 workers ÷ 1 worker ({database}, wrk)",
                        "not available",
                        ">= 1.7x",
                    )
            return workers_lines(results, label, run.head, missing)

        run.section("merchant verify, 1 vs 2 worker processes (issue 6, wrk)", workers)

    def latency() -> list[str]:
        from bench import browser
        from bench.report import browser_lines

        try:
            result = browser.run(rounds=30, warmup=3)
        except Exception as error:
            traceback.print_exc()
            reason = f"browser latency: not available ({_reason(error)})"
            print(reason, flush=True)
            run.head.add("browser: navigation -> merchant receives POST", "not available", "")
            return ["## Browser checkout latency", "", reason, ""]
        return browser_lines(result, label, run.head)

    run.section("browser checkout latency (headless Chromium)", latency)
    draw(run)
    run.write()
    print(run.text())
    print(f"report written to {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
