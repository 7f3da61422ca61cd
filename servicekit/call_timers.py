"""Wall time and call counts of labelled calls, for the in-process benchmarks.

A benchmark wraps the functions it wants to see (sync or async) for the length of a run
with :meth:`CallTimers.patched`, which puts the originals back however the run ends;
nothing in the services changes.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CallTimers", "Wrapper"]

# Makes the replacement of one patched function from its label and the original.
Wrapper = Callable[[str, Callable[..., Any]], Callable[..., Any]]


class CallTimers:
    """Seconds and number of calls per label, recorded only while ``active``."""

    def __init__(self, *, active: bool = True) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.active = active

    def add(self, label: str, seconds: float) -> None:
        """Count one call of ``label`` that took ``seconds`` (0.0 to count only)."""
        if self.active:
            self.seconds[label] = self.seconds.get(label, 0.0) + seconds
            self.calls[label] = self.calls.get(label, 0) + 1

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` timed under ``label``; a coroutine function stays one, timed until
        its coroutine finishes."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    self.add(label, time.perf_counter() - started)

            return timed_async

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        return timed

    @contextmanager
    def patched(
        self, targets: Iterable[tuple[object, str, str]], *, wrap: Wrapper | None = None
    ) -> Iterator[None]:
        """Replace ``owner.name`` by a timed wrapper for each ``(owner, name, label)`` (made
        by ``wrap(label, original)``, default :meth:`wrap`); restore the originals on exit."""
        make = wrap or self.wrap
        listed = list(targets)
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in listed]
        try:
            for owner, name, label in listed:
                setattr(owner, name, make(label, getattr(owner, name)))
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)
