"""Hardening figures the suite prints in its summary (issue 7).

Tests record what they tried: examples generated, faults injected, cases rejected, bytes
of secrets found. ``tests/conftest.py`` prints the totals at the end of the run and writes
them to ``build/test-figures.json`` so ``docs/security.md`` can quote a real run.

    from tests import figures
    figures.add("fuzz examples", "presentation JSON", 200)
    figures.add("secret bytes found", "logs", 0)

A figure recorded with 0 is still printed: "0 secret bytes found" is a result, not an
absence of one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

_FIGURES: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))


def add(group: str, name: str, count: int = 1) -> None:
    """Add ``count`` to the figure ``name`` in ``group`` (creating it at 0 first)."""
    if count < 0:
        raise ValueError("figures only grow")
    _FIGURES[group][name] += count


def snapshot() -> dict[str, dict[str, int]]:
    """Every figure recorded so far, sorted for stable output."""
    return {group: dict(sorted(names.items())) for group, names in sorted(_FIGURES.items())}


def summary_lines() -> list[str]:
    """The figures as lines for the terminal summary: group total, then each name."""
    lines: list[str] = []
    for group, names in snapshot().items():
        lines.append(f"{group}: {sum(names.values())}")
        lines.extend(f"    {name}: {value}" for name, value in names.items())
    return lines


def write(path: Path) -> None:
    """Write the figures as JSON (for docs/security.md's table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
