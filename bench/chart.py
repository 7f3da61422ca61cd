"""build/bench/report.png: the "ratios at a glance" table as a bar chart.

One horizontal bar per measure, each on its own axis (the measures mix x, % and ms), with a
dashed line at its target where the target is a number. matplotlib is an optional extra
(``pip install -e '.[bench]'``): imported lazily, and without it :func:`write` returns None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bar", "bars", "write"]

_NUMBER = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)\s*(x|%|ms|us)?")
_TARGET = re.compile(r"(<=|>=|<|>)\s*(-?\d[\d,]*(?:\.\d+)?)\s*(x|%|ms|us)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    measure: str
    text: str  # as in the table
    value: float | None  # None: not available
    unit: str
    target: float | None
    target_text: str
    comparison: str  # "<=", ">=", "<", ">" or "" (no numeric target)

    @property
    def met(self) -> bool | None:
        """Whether the value meets its target; None without a value or a numeric target."""
        if self.value is None or self.target is None:
            return None
        return {
            "<=": self.value <= self.target,
            ">=": self.value >= self.target,
            "<": self.value < self.target,
            ">": self.value > self.target,
        }[self.comparison]


def _number(text: str) -> tuple[float, str] | None:
    match = _NUMBER.search(text)
    if match is None:
        return None
    return float(match.group(1).replace(",", "")), match.group(2) or ""


def bars(rows: list[tuple[str, str, str]]) -> list[Bar]:
    """Parse Headlines rows ``(measure, "3.50x" | "2.1%" | "50 ms (63 ms)", "<= 2.5x")``."""
    result = []
    for measure, value, target in rows:
        parsed = _number(value)
        goal = _TARGET.search(target)
        result.append(
            Bar(
                measure=measure,
                text=value,
                value=parsed[0] if parsed else None,
                unit=parsed[1] if parsed else "",
                target=float(goal.group(2).replace(",", "")) if goal else None,
                target_text=target,
                comparison=goal.group(1) if goal else "",
            )
        )
    return result


def write(rows: list[tuple[str, str, str]], path: Path) -> Path | None:
    """Draw ``rows`` to ``path`` (PNG); None when matplotlib is not installed."""
    try:
        import matplotlib as mpl
    except ImportError:
        return None
    mpl.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt

    items = bars(rows)
    if not items:
        return None
    figure, axes = plt.subplots(
        len(items), 1, figsize=(10.5, 0.75 * len(items) + 0.6), squeeze=False
    )
    for axis, bar in zip(axes[:, 0], items, strict=True):
        axis.set_yticks([0], [bar.measure], fontsize=8)
        axis.set_ylim(-0.5, 0.5)
        axis.tick_params(axis="x", labelsize=7)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
        if bar.value is None:
            axis.set_xlim(0, 1)
            axis.set_xticks([])
            axis.text(0.01, 0, "not available", va="center", fontsize=8, color="grey")
            continue
        color = {True: "tab:green", False: "tab:red", None: "tab:blue"}[bar.met]
        axis.barh([0], [bar.value], height=0.6, color=color)
        limit = max(bar.value, bar.target or 0.0) * 1.6 or 1.0
        axis.set_xlim(0, limit)
        label = bar.text + (f"  (target {bar.target_text})" if bar.target is not None else "")
        axis.text(bar.value + limit * 0.01, 0, label, va="center", fontsize=8)
        if bar.target is not None:
            axis.axvline(bar.target, color="black", linestyle="--", linewidth=1)
    figure.suptitle("cardcert: ratios at a glance (green: target met, red: missed)", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
