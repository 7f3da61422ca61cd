"""servicekit.call_timers.CallTimers: timed sync and async calls, patched and restored."""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Callable
from typing import Any

import pytest

from servicekit.call_timers import CallTimers


def _target() -> types.SimpleNamespace:
    def add(a: int, b: int) -> int:
        return a + b

    async def fetch(value: str) -> str:
        await asyncio.sleep(0)
        return value

    def fail() -> None:
        raise LookupError("boom")

    return types.SimpleNamespace(add=add, fetch=fetch, fail=fail)


async def test_patched_times_sync_and_async_calls_and_restores() -> None:
    owner = _target()
    originals = (owner.add, owner.fetch)
    timers = CallTimers()
    with timers.patched([(owner, "add", "sum"), (owner, "fetch", "io")]):
        assert inspect.iscoroutinefunction(owner.fetch)
        assert owner.add(2, 3) == 5
        assert owner.add(1, 1) == 2
        assert await owner.fetch("x") == "x"
    assert (owner.add, owner.fetch) == originals
    assert timers.calls == {"sum": 2, "io": 1}
    assert set(timers.seconds) == {"sum", "io"}
    assert all(seconds >= 0 for seconds in timers.seconds.values())


def test_a_call_that_raises_is_timed_and_the_originals_come_back() -> None:
    owner = _target()
    original = owner.fail
    timers = CallTimers()
    with pytest.raises(LookupError), timers.patched([(owner, "fail", "failing")]):
        owner.fail()
    assert owner.fail is original
    assert timers.calls == {"failing": 1}


def test_nothing_is_recorded_while_inactive() -> None:
    timers = CallTimers(active=False)
    timed = timers.wrap("sum", _target().add)
    timed(1, 2)
    timers.add("direct", 1.0)
    assert timers.seconds == {}
    timers.active = True
    timed(1, 2)
    assert timers.calls == {"sum": 1}


def test_reset_and_counting_only() -> None:
    timers = CallTimers()
    timers.add("statements", 0.0)
    timers.add("statements", 0.0)
    assert timers.calls == {"statements": 2}
    assert timers.seconds == {"statements": 0.0}
    timers.reset()
    assert timers.calls == {}
    assert timers.seconds == {}


def test_patched_with_another_wrapper() -> None:
    owner = _target()
    made: list[str] = []

    def wrap(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        made.append(label)
        return function

    with CallTimers().patched([(owner, "add", "sum")], wrap=wrap):
        assert owner.add(1, 2) == 3
    assert made == ["sum"]
