"""servicekit.gc_tuning: the serving settings, and the benches' scoped form restores."""

from __future__ import annotations

import gc

from servicekit.gc_tuning import OLDER, YOUNG, serving_collector


def test_serving_collector_sets_then_restores_the_process_settings() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with serving_collector():
        assert gc.get_threshold() == (YOUNG, OLDER, OLDER)
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
