"""Periodic clean-up of short-lived rows: expired challenges, old failure records, old CRLs.

Runs in every worker (the statements are idempotent) every ``ISSUER_SWEEP_INTERVAL``
seconds; a failed sweep is logged (without data) and retried next time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select

from issuer.challenges import purge_challenges
from issuer.client_limits import purge_failures
from issuer.clock import Clock
from issuer.models import CrlRecord
from issuer.resources import IssuerResources

__all__ = ["run_sweeper", "sweep_once"]

log = logging.getLogger("cardcert.issuer.sweeper")
_CHALLENGE_GRACE = timedelta(hours=1)
_CRLS_KEPT = 10


async def sweep_once(res: IssuerResources, clock: Clock) -> None:
    """Delete what no request can need any more."""
    now = clock()
    async with res.session() as session, session.begin():
        await purge_challenges(session, before=now - _CHALLENGE_GRACE)
        newest = (await session.exec(select(func.max(CrlRecord.number)))).one()
        if newest is not None:
            await session.exec(
                delete(CrlRecord).where(col(CrlRecord.number) <= newest - _CRLS_KEPT)
            )
    await purge_failures(res, before=now - res.settings.enroll_failure_window)


async def run_sweeper(res: IssuerResources, clock: Clock) -> None:
    """Sweep forever (cancel to stop)."""
    while True:
        await asyncio.sleep(res.settings.sweep_interval)
        try:
            await sweep_once(res, clock)
        except Exception:
            log.exception("sweep failed; retrying in %.0f s", res.settings.sweep_interval)
