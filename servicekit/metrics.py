"""A small Prometheus text-format (exposition format 0.0.4) registry, per process.

Labels are fixed, low-cardinality values (endpoint names, error codes, verdicts): never
request data. With ``--workers N`` each worker exposes its own counters, as Prometheus'
multi-process convention expects the scraper to sum.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence

__all__ = ["Counter", "Histogram", "Registry"]

_DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(names: Sequence[str], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in zip(names, values, strict=True)
    )
    return "{" + inner + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self._values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._values[labels] += amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [
            f"{self.name}{_labels(self.label_names, k)} {v:g}"
            for k, v in sorted(self._values.items())
        ]
        return lines


class Histogram:
    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = _DEFAULT_BUCKETS,
    ) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.buckets = tuple(buckets)
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value: float, *labels: str) -> None:
        counts = self._counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self._sums[labels] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        names = (*self.label_names, "le")
        for labels, counts in sorted(self._counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f"{self.name}_bucket{_labels(names, (*labels, le))} {running}")
            lines.append(
                f"{self.name}_sum{_labels(self.label_names, labels)} {self._sums[labels]:g}"
            )
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {running}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: list[Counter | Histogram] = []
        self.request_latency = self.histogram(
            "http_request_duration_seconds", "HTTP request latency", ["route", "method", "status"]
        )

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labels)
        self._metrics.append(metric)
        return metric

    def histogram(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Histogram:
        metric = Histogram(name, help_text, labels)
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines += metric.render()
        return "\n".join(lines) + "\n"
