"""``make bench``: run every benchmark in one process and write build/bench/report.md."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import core

REPORT = Path("build/bench/report.md")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    lines = [
        "# cardcert benchmark report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {machine()}.",
        "Ratios are measured side by side (interleaved rounds, medians) in one process;",
        "absolute figures are for this machine only.",
        "",
    ]
    print("core verification vs bare P-256 verify ...", flush=True)
    results = core.run()
    bare = results["bare_verify"].seconds_per_op
    lines += [
        "## Core verification (certs.verification.verify_presentation)",
        "",
        "| contender | ratio to bare verify | per op |",
        "|---|---:|---:|",
    ]
    for name, label in (
        ("bare_verify", "bare P-256 ECDSA verify"),
        ("core_cold", "core, new certificate (leaf parsed + verified)"),
        ("core_warm", "core, returning certificate (leaf check cached)"),
        ("parse", "presentation parse (wire JSON)"),
    ):
        m = results[name]
        lines.append(f"| {label} | {m.seconds_per_op / bare:.2f}x | {m.microseconds:.1f} us |")
    lines += [
        "",
        "Target: core at most 2.5x a bare verify; two signature checks are the floor (2.0x) "
        "for a new certificate, one for a returning one.",
        "",
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report written to {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
