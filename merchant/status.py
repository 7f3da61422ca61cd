"""Revocation status for a presentation: stapled OCSP first, then live OCSP, else unavailable.

Order (docs/interfaces.md, sections 3 and 6):

1. The presentation's stapled response, read with
   :func:`certs.revocation.read_ocsp_response` (``source=STAPLED``, the merchant's maximum
   age). A stale or invalid staple is ignored (and recorded), not fatal: it is an
   optimisation, and the live responder can still answer.
2. Live OCSP (RFC 6960, RFC 5019 profile) to the OCSP URL in the card certificate's
   Authority Information Access: ``POST`` ``application/ocsp-request`` with one ``CertID``
   (SHA-1, as RFC 5019 2.1.1 asks), through one :class:`aiohttp.ClientSession` with a
   bounded timeout. The URL is only read from a certificate whose path has validated, so
   a forged certificate cannot make the merchant fetch arbitrary URLs.
3. :meth:`RevocationStatus.unavailable`: the core then fails ``status_unavailable``
   (hard-fail) or proceeds and records that revocation was not checked (soft-fail).

Responses are cached per process: a checked staple by its bytes (the same staple comes
back with every checkout of that card until the browser refreshes it), a live answer per
(issuer CA, serial) until its nextUpdate or the configured TTL, whichever is first.
Concurrent requests for the same certificate share one live fetch. Every use re-checks
freshness against the request's clock, so a cached answer never outlives its maximum age.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from certs.chain import VerifiedChain
from certs.errors import RevocationError
from certs.revocation import RevocationStatus, StatusSource, read_ocsp_response

__all__ = ["LiveOutcome", "ResolvedStatus", "StapleOutcome", "StatusResolver", "ocsp_url_of"]

log = logging.getLogger("cardcert.merchant.status")

_CLOCK_SKEW = timedelta(minutes=5)  # as certs.revocation: a thisUpdate this far ahead is tolerated
_MAX_RESPONSE_BYTES = 16 * 1024
_OCSP_REQUEST = "application/ocsp-request"
K = TypeVar("K")
V = TypeVar("V")


class StapleOutcome(StrEnum):
    """What became of the stapled status."""

    USED = "used"
    ABSENT = "absent"
    STALE = "stale"
    INVALID = "invalid"


class LiveOutcome(StrEnum):
    """What became of the live OCSP query."""

    NOT_NEEDED = "not_needed"
    FETCHED = "fetched"
    CACHED = "cached"
    NO_URL = "no_url"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedStatus:
    """The status handed to the core, and how it was obtained (for evidence)."""

    status: RevocationStatus
    staple: StapleOutcome
    live: LiveOutcome
    live_error: str | None = None


def ocsp_url_of(certificate: x509.Certificate) -> str | None:
    """The first http(s) OCSP URL in the certificate's Authority Information Access."""
    try:
        aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for description in aia.value:
        if description.access_method != AuthorityInformationAccessOID.OCSP:
            continue
        location = description.access_location
        if isinstance(location, x509.UniformResourceIdentifier):
            url = location.value
            if url.lower().startswith(("http://", "https://")):
                return url
    return None


def _usable(status: RevocationStatus, now: datetime, max_age: timedelta) -> bool:
    """Whether a previously checked status is still fresh at ``now`` (RFC 6960 3.2 (5)-(6))."""
    this_update = status.this_update
    if this_update is None or this_update > now + _CLOCK_SKEW or now - this_update > max_age:
        return False
    return status.next_update is None or now <= status.next_update


class _LruCache(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class StatusResolver:
    """Finds the revocation status of a validated card certificate. Build one per process."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        max_age: timedelta,
        timeout: float,
        cache_ttl: float,
        max_entries: int = 10_000,
    ) -> None:
        self._session = session
        self._max_age = max_age
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._cache_ttl = cache_ttl
        self._staples: _LruCache[tuple[bytes, bytes, int], RevocationStatus] = _LruCache(
            max_entries
        )
        self._live: _LruCache[tuple[bytes, int], tuple[RevocationStatus, float]] = _LruCache(
            max_entries
        )
        self._inflight: dict[tuple[bytes, int], asyncio.Future[RevocationStatus]] = {}
        self.live_fetches = 0

    @property
    def max_age(self) -> timedelta:
        return self._max_age

    def read_staple(self, staple: bytes, chain: VerifiedChain, now: datetime) -> RevocationStatus:
        """Check a stapled response (cached by its bytes once its signature has verified).

        Raises:
            StatusInvalid: ``status_invalid``.
            StatusStale: ``status_stale``.
        """
        key = (staple, chain.issuer_ca_der, chain.leaf.serial_number)
        cached = self._staples.get(key)
        if cached is not None and _usable(cached, now, self._max_age):
            return cached
        status = read_ocsp_response(
            staple,
            certificate=chain.leaf,
            issuer_ca=chain.issuer_ca,
            now=now,
            max_age=self._max_age,
            source=StatusSource.STAPLED,
        )
        self._staples.put(key, status)
        return status

    async def resolve(
        self, staple: bytes | None, chain: VerifiedChain, now: datetime
    ) -> ResolvedStatus:
        """Stapled, else live, else unavailable. Never raises for a missing status."""
        staple_outcome = StapleOutcome.ABSENT
        if staple is not None:
            try:
                status = self.read_staple(staple, chain, now)
            except RevocationError as exc:
                staple_outcome = (
                    StapleOutcome.STALE if exc.code == "status_stale" else StapleOutcome.INVALID
                )
            else:
                return ResolvedStatus(
                    status=status, staple=StapleOutcome.USED, live=LiveOutcome.NOT_NEEDED
                )
        url = ocsp_url_of(chain.leaf)
        if url is None:
            return ResolvedStatus(
                status=RevocationStatus.unavailable(),
                staple=staple_outcome,
                live=LiveOutcome.NO_URL,
            )
        key = (chain.issuer_ca_der, chain.leaf.serial_number)
        cached = self._live.get(key)
        if cached is not None:
            status, expires = cached
            if time.monotonic() < expires and _usable(status, now, self._max_age):
                return ResolvedStatus(status=status, staple=staple_outcome, live=LiveOutcome.CACHED)
            self._live.pop(key)
        try:
            status = await self._fetch_shared(key, url, chain, now)
        except (RevocationError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            code = exc.code if isinstance(exc, RevocationError) else type(exc).__name__
            log.warning("live OCSP failed: %s", code)
            return ResolvedStatus(
                status=RevocationStatus.unavailable(),
                staple=staple_outcome,
                live=LiveOutcome.FAILED,
                live_error=code,
            )
        return ResolvedStatus(status=status, staple=staple_outcome, live=LiveOutcome.FETCHED)

    async def _fetch_shared(
        self, key: tuple[bytes, int], url: str, chain: VerifiedChain, now: datetime
    ) -> RevocationStatus:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RevocationStatus] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            status = await self._fetch(url, chain, now)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        else:
            future.set_result(status)
            lifetime = self._cache_ttl
            if status.next_update is not None:
                lifetime = min(lifetime, (status.next_update - now).total_seconds())
            if lifetime > 0:
                self._live.put(key, (status, time.monotonic() + lifetime))
            return status
        finally:
            del self._inflight[key]

    async def _fetch(self, url: str, chain: VerifiedChain, now: datetime) -> RevocationStatus:
        if self._session is None:
            raise ValueError("no HTTP client configured")
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(chain.leaf, chain.issuer_ca, hashes.SHA1())  # noqa: S303 - RFC 5019 CertID
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        self.live_fetches += 1
        async with self._session.post(
            url,
            data=request,
            headers={"Content-Type": _OCSP_REQUEST, "Accept": "application/ocsp-response"},
            timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                raise ValueError(f"OCSP responder answered HTTP {response.status}")
            body = await response.content.read(_MAX_RESPONSE_BYTES + 1)
        if len(body) > _MAX_RESPONSE_BYTES:
            raise ValueError("OCSP response too large")
        return read_ocsp_response(
            body,
            certificate=chain.leaf,
            issuer_ca=chain.issuer_ca,
            now=now,
            max_age=self._max_age,
            source=StatusSource.LIVE,
        )
