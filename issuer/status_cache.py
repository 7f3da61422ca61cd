"""Per-process caches of signed revocation status (OCSP responses and the CRL).

Signing is cheap but not free, and a Service Worker refreshes its staple in the background
for every enrolled browser, so each worker keeps recently signed responses for a short
while (``ISSUER_STATUS_CACHE_TTL``). A cached response is reused only if the certificate's
state **in the database**, read on every request, is still the one it was signed for: the
cache key includes status, revocation time and reason. A revocation committed by any
worker is therefore visible on the very next request to every worker; the cache saves the
signature, never the database read.

The CRL itself lives in the database (``issuer_crls``, one shared sequence of numbers);
:class:`CachedCrl` only saves re-reading the newest one's bytes while its number is current.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["CachedCrl", "StatusCache"]


@dataclass(frozen=True, slots=True)
class _Entry:
    der: bytes
    stored: float


class StatusCache:
    """A bounded LRU map from (serial, hash, database state) to a signed DER response."""

    def __init__(self, *, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, *, now: float | None = None) -> bytes | None:
        """The cached response for ``key`` if younger than the TTL."""
        if self._ttl <= 0:
            return None
        moment = time.monotonic() if now is None else now
        entry = self._entries.get(key)
        if entry is None or moment - entry.stored >= self._ttl:
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.der

    def put(self, key: Hashable, der: bytes, *, now: float | None = None) -> None:
        if self._ttl <= 0:
            return
        self._entries[key] = _Entry(der, time.monotonic() if now is None else now)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class CachedCrl:
    """The bytes of the newest CRL this process has read, by CRL number."""

    number: int = -1
    der: bytes = b""
