"""Per-client limits on the cardholder endpoints (enrollment, challenges, renewal).

Two layers, both keyed by the client IP address (docs/issuer.md, "Activation codes"):

* a request rate per worker process (:class:`servicekit.rate_limit.RateLimiter`,
  ``ISSUER_ENROLL_RATE`` per minute, bursts of ``ISSUER_ENROLL_BURST``): a cheap first
  line against floods; with ``--workers N`` the effective bound is N times higher;
* a **failure budget shared by all workers**: every enrollment refused for cause (4xx,
  not a 503 while the database is unavailable) is a row in
  ``issuer_enrollment_failures``, and a client with ``ISSUER_ENROLL_MAX_FAILURES`` of them
  within ``ISSUER_ENROLL_FAILURE_WINDOW`` is refused (``rate_limited``, with Retry-After)
  before its request is even looked at. This is what bounds online guessing of
  activation codes per address, independent of the number of workers.

The client address is the TCP peer, or with ``ISSUER_TRUST_FORWARDED_FOR=1`` the last
``X-Forwarded-For`` entry (the one the trusted reverse proxy appended;
:func:`servicekit.client_address.client_address`).
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select
from sqlmodel import col

from issuer.models import EnrollmentFailure, table_of
from issuer.resources import IssuerResources
from servicekit.errors import RateLimited
from servicekit.rate_limit import RateLimiter

__all__ = [
    "enforce_failure_budget",
    "make_request_limiter",
    "purge_failures",
    "record_failure",
]


_FAILURES = table_of(EnrollmentFailure)
_RECENT = select(func.count(), func.min(_FAILURES.c.at)).where(
    _FAILURES.c.client == bindparam("p_client"), _FAILURES.c.at > bindparam("p_since")
)
_INSERT = insert(_FAILURES).values(
    client=bindparam("p_client"), at=bindparam("p_at"), code=bindparam("p_code")
)


def make_request_limiter(*, per_minute: float, burst: int) -> RateLimiter:
    return RateLimiter(rate=per_minute, per=60.0, burst=burst)


async def enforce_failure_budget(res: IssuerResources, client: str, *, now: datetime) -> None:
    """Refuse a client that used up its failure budget.

    Raises:
        RateLimited: ``rate_limited`` with the seconds until the oldest failure ages out.
    """
    window = res.settings.enroll_failure_window
    async with res.sql.read() as conn:
        count, oldest = (
            await conn.execute(_RECENT, {"p_client": client, "p_since": now - window})
        ).first()
    if count >= res.settings.enroll_max_failures:
        wait = (oldest + window - now).total_seconds() if oldest is not None else 1.0
        raise RateLimited(
            retry_after=max(1, math.ceil(wait)),
            message="too many failed enrollments from this address; retry later",
        )


async def record_failure(res: IssuerResources, client: str, code: str, *, now: datetime) -> None:
    """Count one refused enrollment against ``client`` (and in the metrics)."""
    res.metrics.enrollment_failures.inc(code)
    async with res.sql.write() as conn:
        await conn.execute(_INSERT, {"p_client": client[:64], "p_at": now, "p_code": code[:64]})


async def purge_failures(res: IssuerResources, *, before: datetime) -> int:
    async with res.session() as session, session.begin():
        result = await session.exec(
            delete(EnrollmentFailure).where(col(EnrollmentFailure.at) < before)
        )
        return result.rowcount
