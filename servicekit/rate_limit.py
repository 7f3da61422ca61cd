"""Per-process token-bucket rate limiting, keyed by (purpose, client).

Limits are a first line against online guessing and floods; the durable defences (the
activation code's attempt counter and lockout, single-use nonces) live in the database.
Exceeding a limit raises ``RateLimited`` (``rate_limited``, HTTP 429 with Retry-After).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from servicekit.errors import RateLimited

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per ``per`` seconds with bursts up to ``burst``, per key."""

    def __init__(self, *, rate: float, per: float, burst: int, max_keys: int = 100_000) -> None:
        self._refill = rate / per
        self._burst = float(burst)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_keys = max_keys

    def check(self, key: str, *, now: float | None = None) -> None:
        """Take one token for ``key`` or raise ``RateLimited``."""
        moment = time.monotonic() if now is None else now
        bucket = self._buckets.pop(key, None) or _Bucket(tokens=self._burst, updated=moment)
        bucket.tokens = min(self._burst, bucket.tokens + (moment - bucket.updated) * self._refill)
        bucket.updated = moment
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            raise RateLimited(retry_after=max(1, math.ceil((1.0 - bucket.tokens) / self._refill)))
        bucket.tokens -= 1.0
