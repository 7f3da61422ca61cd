"""CPython's cyclic garbage collector, set for a long-running service worker.

Reference counting frees almost everything a request allocates; the cyclic collector only
exists for reference cycles, yet with CPython's default thresholds (700, 10, 10) it runs a
young collection every 700 net container allocations, which a verification makes a few
times over, and now and then a full collection that walks every tracked object: the
imported modules, the app, the trust objects, and the per-process caches (checked card
certificates, OCSP staples), which grow with traffic. So a worker:

* freezes what exists once the app has started (``gc.freeze``: moved to a permanent
  generation that collections skip; in a forked worker this also keeps the pages shared
  with the parent from being written by the collector, see the ``gc.freeze`` docs);
* collects the young generation every ``YOUNG`` allocations instead of 700, and the older
  ones ``OLDER`` times less often than the one below, instead of 10.

Cycles still get collected, only in larger batches: the garbage that can wait is at most
``YOUNG`` allocations' worth, a few MB. Measured with ``python -m merchant.bench`` (in
process, 600 presentations, two runs each): verifications of first-time cardholders, whose
certificates and staples join the caches, ~850 -> ~985 /s (+15%); returning cardholders
unchanged within noise.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["OLDER", "YOUNG", "serving_collector", "tune_for_serving"]

YOUNG = 50_000
OLDER = 20


def tune_for_serving() -> None:
    """Freeze the objects that exist now and raise the collection thresholds (call once
    the app has started, in the serving process)."""
    gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)


@contextlib.contextmanager
def serving_collector() -> Iterator[None]:
    """:func:`tune_for_serving` for the length of a block, then the process's settings back
    (for the in-process benchmarks, which serve an app as the workers do)."""
    thresholds = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
