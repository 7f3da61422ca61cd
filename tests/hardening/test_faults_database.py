"""PostgreSQL restarted under a serving merchant and issuer (issue 7, fault injection).

The merchant (``python -m merchant serve --workers 2``) and the issuer run on a private
cluster of their own (:class:`~tests.hardening.fault_helpers.RestartableCluster`; the
session cluster other tests share is never touched). The cluster is stopped (``pg_ctl
stop -m fast``: open transactions rolled back, every connection closed) and started again
on the same port and data, twice: once with requests arriving during the outage, once
while idle.

Proven: during the outage every API call of both services is answered 503
``service_unavailable`` (a stable code clients can retry on; never 500, never a verdict,
so never ``authenticated``); a checkout refused during the outage keeps its nonce and
verifies afterwards, an enrollment refused then goes through; after the
restart the same worker processes serve again at once with no 5xx, including the first
requests on connections pooled before an idle restart (servicekit.database.
discard_closed_connections); no nonce is accepted twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp

from loadtests.cardholders import card_json, random_pan
from servicekit.local_service import free_loopback_port
from tests import figures
from tests.hardening.fault_helpers import (
    MerchantWorld,
    RestartableCluster,
    Tally,
    create_issuer_api_key,
    issuer_environment,
    prepare_enrollment,
    read_json,
    register_cards,
    running_service,
    submit_enrollment,
    worker_pids,
)
from tests.postgres_cluster import find_pg_bin

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

CONCURRENCY = 16


@pytest.fixture
def cluster() -> Iterator[RestartableCluster]:
    """A cluster for this test alone: it is going to be restarted."""
    if find_pg_bin() is None:
        pytest.fail("PostgreSQL binaries are missing: run `make test`, which installs them")
    with RestartableCluster.running_cluster() as running:
        yield running


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    tally: Tally,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    async with session.request(method, url, json=body, headers=headers) as response:
        document = await read_json(response)
        tally.saw(response.status, document)
        return response.status, document


async def _verify(
    session: aiohttp.ClientSession,
    world: MerchantWorld,
    url: str,
    checkouts: list[dict[str, str]],
    tally: Tally,
) -> list[tuple[int, Any]]:
    """Verify a good presentation for each checkout, ``CONCURRENCY`` at a time."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(checkout: dict[str, str]) -> tuple[int, Any]:
        async with limit:
            return await _call(
                session,
                "POST",
                f"{url}/v1/checkouts/{checkout['checkoutId']}/verify",
                tally,
                headers=world.headers,
                body=world.verify_body(checkout),
            )

    return list(await asyncio.gather(*(one(c) for c in checkouts)))


async def _create(
    session: aiohttp.ClientSession, world: MerchantWorld, url: str, count: int, tally: Tally
) -> list[tuple[int, Any]]:
    return list(
        await asyncio.gather(
            *(
                _call(
                    session,
                    "POST",
                    f"{url}/v1/checkouts",
                    tally,
                    headers=world.headers,
                    body=world.checkout_body(),
                )
                for _ in range(count)
            )
        )
    )


async def _merchant_rows(database_url: str) -> list[Any]:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        return list(
            await connection.fetch(
                "SELECT c.id, c.nonce, c.verdict_result, (SELECT count(*) FROM merchant_evidence"
                " e WHERE e.checkout_id = c.id AND e.result = 'authenticated') AS accepted"
                " FROM merchant_checkouts c"
            )
        )
    finally:
        await connection.close()


async def _ocsp_request(session: aiohttp.ClientSession, issuer_url: str) -> bytes:
    """An OCSP request about serial 1 of this issuer (its CA from the metadata)."""
    async with session.get(f"{issuer_url}/.well-known/cardcert-issuer") as response:
        metadata = await response.json()
    ca = x509.load_pem_x509_certificate(metadata["caCertificate"].encode())
    name_hash = hashlib.sha1(ca.subject.public_bytes()).digest()  # noqa: S324 - CertID
    key_hash = hashlib.sha1(  # noqa: S324 - RFC 6960 4.1.1 CertID uses SHA-1 here
        ca.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    ).digest()
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash,
        key_hash,
        1,
        hashes.SHA1(),  # noqa: S303
    )
    return builder.build().public_bytes(Encoding.DER)


async def _ocsp_status(
    session: aiohttp.ClientSession, issuer_url: str, request: bytes
) -> tuple[int, ocsp.OCSPResponseStatus]:
    async with session.post(
        f"{issuer_url}/ocsp",
        data=request,
        headers={"Content-Type": "application/ocsp-request"},
    ) as response:
        return response.status, ocsp.load_der_ocsp_response(await response.read()).response_status


def _authenticated(answers: list[tuple[int, Any]]) -> int:
    return sum(
        1
        for _, document in answers
        if isinstance(document, dict)
        and isinstance(document.get("verdict"), dict)
        and document["verdict"].get("result") == "authenticated"
    )


async def test_database_restart_under_a_serving_merchant(
    cluster: RestartableCluster, tmp_path: Path
) -> None:
    """Outage: 503 ``service_unavailable`` on every call, no verdict; after the restart
    (with traffic during the outage, then idle): the same workers serve, no 5xx, the
    refused checkouts verify, no nonce accepted twice."""
    database_url = await cluster.create_database("merchant")
    issuer_database = await cluster.create_database("issuer")
    world = MerchantWorld(tmp_path, database_url=database_url)
    await world.prepare_database()
    issuer_port = free_loopback_port()
    issuer_env = issuer_environment(tmp_path, port=issuer_port, database_url=issuer_database)
    with (
        running_service(
            "merchant", env=world.env, workers=2, log=tmp_path / "merchant.log"
        ) as merchant,
        running_service(
            "issuer", env=issuer_env, workers=1, log=tmp_path / "issuer.log", port=issuer_port
        ) as issuer,
    ):
        workers_before = worker_pids(merchant.pid)
        url = merchant.url
        api_key = await create_issuer_api_key(tmp_path, issuer.url, issuer_database)
        async with aiohttp.ClientSession() as session:
            # A cardholder with its challenge and signed enrollment ready, submitted during
            # the outage and again after it.
            (cardholder,) = await register_cards(session, issuer.url, api_key, 1)
            await prepare_enrollment(session, issuer.url, cardholder, tally=Tally())
            ocsp_request = await _ocsp_request(session, issuer.url)
            checkouts = await world.create_checkouts(session, url, 100)
            warm, refused, after, idle = (
                checkouts[:20],
                checkouts[20:40],
                checkouts[40:70],
                checkouts[70:],
            )
            before = Tally()
            assert _authenticated(await _verify(session, world, url, warm, before)) == len(warm)

            # Restart 1, with calls arriving while the database is down.
            await asyncio.to_thread(cluster.stop)
            outage = Tally()
            answers = await _verify(session, world, url, refused, outage)
            answers += await _create(session, world, url, 8, outage)
            for checkout in warm[:8]:
                answers.append(
                    await _call(
                        session,
                        "GET",
                        f"{url}/v1/checkouts/{checkout['checkoutId']}",
                        outage,
                        headers=world.headers,
                    )
                )
            answers.append(await _call(session, "GET", f"{url}/health", outage))
            issuer_headers = {"Origin": issuer.url}
            for method, path, body in (
                ("POST", "/v1/enrollment", cardholder.body),
                ("POST", "/v1/enrollment/challenge", {}),
                ("POST", "/v1/cards", card_json(random_pan())),
                ("GET", "/health", None),
            ):
                headers = {**issuer_headers, "Authorization": f"Bearer {api_key}"}
                answers.append(
                    await _call(
                        session, method, issuer.url + path, outage, headers=headers, body=body
                    )
                )
            authenticated_while_down = _authenticated(answers)
            ocsp_while_down = await _ocsp_status(session, issuer.url, ocsp_request)
            await asyncio.to_thread(cluster.start)
            figures.add("faults injected", "database restarts")

            # Straight after the restart: the refused checkouts again, new ones, creations.
            recovered = Tally()
            retried = await _verify(session, world, url, refused, recovered)
            verified = await _verify(session, world, url, after, recovered)
            created = await _create(session, world, url, 8, recovered)
            await submit_enrollment(session, issuer.url, cardholder, tally=recovered)

            # Restart 2, idle: every pooled connection is stale when traffic resumes.
            await asyncio.to_thread(cluster.stop)
            await asyncio.to_thread(cluster.start)
            figures.add("faults injected", "database restarts")
            resumed = Tally()
            after_idle = await _verify(session, world, url, idle, resumed)
        workers_after = worker_pids(merchant.pid)
        rows = await _merchant_rows(database_url)
        log_tail = merchant.log_tail()

    twice = sum(1 for row in rows if row["accepted"] > 1) + sum(
        1
        for n in Counter(
            r["nonce"] for r in rows if r["verdict_result"] == "authenticated"
        ).values()
        if n > 1
    )
    figures.add("invariants violated", "authenticated while unavailable", authenticated_while_down)
    figures.add("invariants violated", "nonces accepted twice", twice)

    assert authenticated_while_down == 0
    assert outage.statuses == Counter({503: len(answers)}), (outage, log_tail)
    assert outage.codes == Counter({"service_unavailable": len(answers)})
    assert before.server_errors == 0
    assert recovered.server_errors == 0, (recovered, log_tail)
    assert resumed.server_errors == 0, (resumed, log_tail)
    assert _authenticated(retried) == len(refused)  # a 503 did not burn the nonce
    assert _authenticated(verified) == len(after)
    assert _authenticated(after_idle) == len(idle)
    assert {status for status, _ in created} == {201}
    assert cardholder.status == 201  # the enrollment refused during the outage went through
    assert workers_after == workers_before  # recovered without a restart of the service
    # RFC 6960 2.3: the OCSP responder says tryLater (an OCSP answer), not a JSON 503.
    assert ocsp_while_down == (200, ocsp.OCSPResponseStatus.TRY_LATER)
    assert twice == 0
    assert sum(1 for row in rows if row["verdict_result"] == "authenticated") == len(checkouts)
