"""Idempotent enrollment and renewal under parallel identical requests.

The same request (same activation code, key, secret and challenge) sent 20 times at once
must produce exactly one credential and one certificate, and every response must carry
that certificate. The guarantee comes from the database (conditional UPDATE + UNIQUE
constraint), not from a lock in this process, so it holds across workers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func
from sqlmodel import select

from issuer.models import CertificateRecord, CredentialRecord
from tests.issuer.conftest import issuer_settings, start_issuer
from tests.issuer.helpers import Device, FakeClock, Issuer, TestCard

PARALLEL = 20


async def _count(issuer: Issuer, model: type[CredentialRecord] | type[CertificateRecord]) -> int:
    async with issuer.res.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def _parallel_enrollments(issuer: Issuer, twin: Issuer | None = None) -> None:
    registered = await issuer.register(TestCard())
    device = Device()
    challenge = await issuer.challenge()
    body = device.enrollment_body(registered["activationCode"], issuer.origin, challenge)

    async def one(target: Issuer) -> tuple[int, dict[str, object]]:
        response = await target.client.post("/v1/enrollment", json=body)
        return response.status, await response.json()

    targets = [issuer, twin or issuer]
    results = await asyncio.gather(*(one(targets[i % 2]) for i in range(PARALLEL)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (PARALLEL - 1) + [201], results
    chains: set[object] = {str(body["certificateChain"]) for _, body in results}
    assert len(chains) == 1
    assert await _count(issuer, CredentialRecord) == 1
    assert await _count(issuer, CertificateRecord) == 1


@pytest.mark.postgres
async def test_parallel_identical_enrollments_make_one_credential_on_postgres(
    aiohttp_client: AiohttpClient, tmp_path: Path, postgres_url: str
) -> None:
    settings = issuer_settings(tmp_path / "issuer", postgres_url)
    issuer = await start_issuer(aiohttp_client, settings, FakeClock())
    # A second app on the same database and keys: another worker, with its own engine.
    twin = await start_issuer(aiohttp_client, settings, FakeClock())
    await _parallel_enrollments(issuer, twin)


async def test_parallel_identical_enrollments_make_one_credential_on_sqlite(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/issuer.sqlite3"
    issuer = await start_issuer(
        aiohttp_client, issuer_settings(tmp_path / "issuer", url), FakeClock()
    )
    await _parallel_enrollments(issuer)


async def test_parallel_identical_renewals_make_one_new_certificate(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    challenge = await issuer.challenge()
    certificate = enrolled["certificateChain"][0]
    results = await asyncio.gather(
        *(issuer.renew(device, certificate, challenge=challenge) for _ in range(PARALLEL))
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (PARALLEL - 1) + [201], results
    assert len({body["fingerprint"] for _, body in results}) == 1
    assert await _count(issuer, CertificateRecord) == 2


async def test_renewal_racing_revocation_leaves_nothing_good(issuer: Issuer) -> None:
    for _ in range(3):
        _, device, enrolled = await issuer.enrolled()
        challenge = await issuer.challenge()
        renewal, revocation = await asyncio.gather(
            issuer.renew(device, enrolled["certificateChain"][0], challenge=challenge),
            issuer.client.post(
                f"/v1/credentials/{enrolled['credentialId']}/revoke",
                json={"reason": "keyCompromise"},
                headers=issuer.auth,
            ),
        )
        assert revocation.status == 200
        assert renewal[0] in (201, 403), renewal
        listing = await issuer.client.get(
            f"/v1/cards/{issuer.last_card_id}/credentials", headers=issuer.auth
        )
        (credential,) = (await listing.json())["credentials"]
        assert credential["status"] == "revoked"
        assert "good" not in {c["status"] for c in credential["certificates"]}


@pytest.mark.postgres
async def test_parallel_registrations_of_one_new_card_make_one_card_on_postgres(
    aiohttp_client: AiohttpClient, tmp_path: Path, postgres_url: str
) -> None:
    """The back office registering the same new card from two workers at once: every call
    answers with an activation code, and the card exists once (the loser of the insert
    race finds the winner's row)."""
    from issuer.models import CardRecord

    settings = issuer_settings(tmp_path / "issuer", postgres_url)
    issuer = await start_issuer(aiohttp_client, settings, FakeClock())
    twin = await start_issuer(aiohttp_client, settings, FakeClock())
    card = TestCard()

    async def one(target: Issuer) -> tuple[int, str]:
        response = await target.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
        body = await response.json()
        return response.status, str(body["cardId"])

    results = await asyncio.gather(*(one((issuer, twin)[i % 2]) for i in range(PARALLEL)))
    assert {status for status, _ in results} <= {200, 201}, results
    assert len({card_id for _, card_id in results}) == 1, results
    async with issuer.res.session() as session:
        cards = (await session.exec(select(func.count()).select_from(CardRecord))).one()
    assert cards == 1
