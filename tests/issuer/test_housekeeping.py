"""Request bodies read whole, and the periodic sweep of short-lived rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from sqlalchemy import func
from sqlmodel import select

from issuer.models import ChallengeRecord, CrlRecord, EnrollmentFailure
from issuer.sweeper import sweep_once
from tests.issuer.helpers import Device, Issuer, TestCard, error_code


async def test_a_body_arriving_in_pieces_is_read_whole(issuer: Issuer) -> None:
    text = json.dumps(TestCard().json()).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(text), 7):
            yield text[start : start + 7]
            await asyncio.sleep(0.001)

    response = await issuer.client.post(
        "/v1/cards", data=pieces(), headers={**issuer.auth, "Content-Type": "application/json"}
    )
    assert response.status == 201, await response.text()


async def test_oversized_bodies_are_refused(issuer: Issuer) -> None:
    response = await issuer.client.post(
        "/v1/enrollment/challenge",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert error_code(await response.json()) == "payload_too_large"


async def _count(
    issuer: Issuer, model: type[ChallengeRecord] | type[EnrollmentFailure] | type[CrlRecord]
) -> int:
    async with issuer.res.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_the_sweep_purges_what_no_request_needs(issuer: Issuer) -> None:
    await issuer.challenge()
    await issuer.enroll(Device(), "0000-0000-0000-0000")  # one challenge, one failure
    for _ in range(12):
        issuer.clock.advance(seconds=issuer.settings.crl_refresh + 1)
        await issuer.client.get("/crl")
    assert await _count(issuer, ChallengeRecord) == 2
    assert await _count(issuer, EnrollmentFailure) == 1
    assert await _count(issuer, CrlRecord) == 12

    await sweep_once(issuer.res, issuer.clock)

    assert await _count(issuer, ChallengeRecord) == 0
    assert await _count(issuer, EnrollmentFailure) == 0
    assert await _count(issuer, CrlRecord) == 10
    # The newest CRL is still served.
    response = await issuer.client.get("/crl")
    assert response.status == 200
