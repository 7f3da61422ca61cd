"""kill -9 of a service worker in the middle of enrollments and of verifications (issue 7).

Both services run as real ``python -m ... serve --workers 2`` processes (servicekit/runner.py:
SO_REUSEPORT workers, supervised by the parent). While many clients are mid-request, one
worker is sent SIGKILL. A client whose connection dies repeats the identical request, as
the Service Worker and a merchant backend do. Then the database is read directly.

What is allowed for the requests in flight on the killed worker: each one either committed
before the kill or left nothing behind (one database transaction: the activation-code claim
and the credential insert at the issuer, the nonce consumption and the verdict with its
evidence at the merchant); its identical retry is answered from that state (the same
credential, HTTP 200, or a fresh mint, 201; ``authenticated``, or ``nonce_replayed`` with
the checkout reporting ``authenticated``). Never two credentials for one activation code,
never a nonce accepted twice, never a verdict a client saw that the database lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from servicekit.local_service import free_loopback_port
from tests import figures
from tests.hardening.fault_helpers import (
    ROOT,
    Enrollee,
    MerchantWorld,
    Tally,
    base_environment,
    create_issuer_api_key,
    issuer_environment,
    kill_one_worker,
    post_until_answered,
    prepare_enrollment,
    read_json,
    register_cards,
    running_service,
    submit_enrollment,
    wait_for_workers,
)

pytestmark = pytest.mark.timeout(120)

ENROLLMENTS = 48
ENROLLMENTS_AFTER = 12
CHECKOUTS = 160
CHECKOUTS_AFTER = 30
CONCURRENCY = 16


async def _issuer_rows(database_url: str) -> tuple[list[Any], list[Any]]:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        credentials = await connection.fetch(
            "SELECT c.id, c.card_id, c.activation_code_id, c.public_key_sha256,"
            " (SELECT count(*) FROM issuer_certificates x WHERE x.credential_id = c.id)"
            " AS certificates FROM issuer_credentials c"
        )
        codes = await connection.fetch(
            "SELECT id, card_id, consumed_at IS NOT NULL AS consumed, credential_id,"
            " public_key_sha256 FROM issuer_activation_codes"
        )
    finally:
        await connection.close()
    return list(credentials), list(codes)


async def _enroll_all(
    session: aiohttp.ClientSession,
    url: str,
    enrollees: list[Enrollee],
    tally: Tally,
    *,
    kill_after: int | None = None,
    parent: int | None = None,
    port: int = 0,
) -> int | None:
    """Fetch every challenge, then submit every enrollment concurrently; with
    ``kill_after``, SIGKILL a worker of ``parent`` once that many enrollments were answered
    (the others are mid-request). Returns the killed pid."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def challenge(enrollee: Enrollee) -> None:
        async with limit:
            await prepare_enrollment(session, url, enrollee, tally=tally)

    async with asyncio.TaskGroup() as group:
        for enrollee in enrollees:
            group.create_task(challenge(enrollee))
    finished = 0
    enough = asyncio.Event()

    async def one(enrollee: Enrollee) -> None:
        nonlocal finished
        async with limit:
            await submit_enrollment(session, url, enrollee, tally=tally)
        finished += 1
        if kill_after is not None and finished >= kill_after:
            enough.set()

    victim = None
    async with asyncio.TaskGroup() as group:  # one failure cancels the rest
        for enrollee in enrollees:
            group.create_task(one(enrollee))
        if kill_after is not None and parent is not None:
            await enough.wait()
            victim = kill_one_worker(parent, port)
    return victim


@pytest.mark.postgres
async def test_worker_sigkill_during_enrollment(postgres_url: str, tmp_path: Path) -> None:
    """Issuer on PostgreSQL with 2 workers, SIGKILL one mid-enrollment: every enrollment a
    client saw succeed has exactly one credential (its key, its id), no activation code has
    two, none exists that no client holds, the runner replaces the worker, no 5xx at all."""
    port = free_loopback_port()
    env = issuer_environment(tmp_path, port=port, database_url=postgres_url)
    with running_service(
        "issuer", env=env, workers=2, log=tmp_path / "issuer.log", port=port
    ) as issuer:
        api_key = await create_issuer_api_key(tmp_path, issuer.url, postgres_url)
        during = Tally()
        async with aiohttp.ClientSession() as session:
            enrollees = await register_cards(session, issuer.url, api_key, ENROLLMENTS)
            victim = await _enroll_all(
                session,
                issuer.url,
                enrollees,
                during,
                kill_after=ENROLLMENTS // 4,
                parent=issuer.pid,
                port=issuer.port,
            )
        assert victim is not None
        figures.add("faults injected", "worker SIGKILL during enrollment")
        workers = await asyncio.to_thread(
            wait_for_workers, issuer.pid, 2, port=issuer.port, excluding={victim}
        )

        # The window after recovery: fresh clients, fresh cards, both workers serving.
        after = Tally()
        async with aiohttp.ClientSession() as session:
            later = await register_cards(session, issuer.url, api_key, ENROLLMENTS_AFTER)
            await _enroll_all(session, issuer.url, later, after)
        credentials, codes = await _issuer_rows(postgres_url)
        log_tail = issuer.log_tail()

    everyone = enrollees + later
    by_card = Counter(row["card_id"] for row in credentials)
    by_code = Counter(row["activation_code_id"] for row in credentials)
    held = {e.credential_id: e for e in everyone if e.credential_id is not None}
    rows = {row["id"]: row for row in credentials}
    duplicates = sum(n - 1 for n in by_card.values() if n > 1) + sum(
        n - 1 for n in by_code.values() if n > 1
    )
    unaccounted = [cid for cid in rows if cid not in held]
    lost = [
        e
        for e in everyone
        if e.status in (200, 201)
        and (
            e.credential_id not in rows
            or rows[e.credential_id]["card_id"] != e.card_id
            or rows[e.credential_id]["public_key_sha256"] != e.key_sha256
        )
    ]
    figures.add("invariants violated", "duplicate credentials", duplicates + len(unaccounted))
    figures.add("invariants violated", "lost credentials", len(lost))

    assert duplicates == 0
    assert unaccounted == []
    assert lost == []
    # Every cardholder got its credential, the interrupted ones by retrying.
    assert {e.status for e in everyone} <= {200, 201}, Counter(e.status for e in everyone)
    assert len(credentials) == len(everyone)
    # The kill hit enrollments in flight; those were answered, on retry, either with the
    # credential their first attempt had committed (200) or with a fresh one (201).
    interrupted = [e for e in enrollees if e.attempts_cut]
    assert interrupted, during  # the kill hit enrollments in flight
    print(
        f"enrollment SIGKILL: {during.transport_errors} connections cut, "
        f"{len(interrupted)} enrollments interrupted: "
        f"{sum(e.status == 200 for e in interrupted)} had committed, "
        f"{sum(e.status == 201 for e in interrupted)} minted on retry"
    )
    assert all(e.status in (200, 201) for e in interrupted)
    assert all(e.status == 201 for e in everyone if not e.attempts_cut)
    # One certificate per credential: an interrupted mint never left a second one.
    assert {row["certificates"] for row in credentials} == {1}
    # The activation code and the credential were written together or not at all.
    for code in codes:
        row = rows.get(code["credential_id"]) if code["consumed"] else None
        assert code["consumed"] == (row is not None)
        if row is not None:
            assert row["activation_code_id"] == code["id"]
            assert row["public_key_sha256"] == code["public_key_sha256"]
    # No 5xx during the kill or after it; the runner forked a replacement.
    assert during.server_errors == 0, (during, log_tail)
    assert after.server_errors == 0, (after, log_tail)
    assert after.transport_errors == 0
    assert victim not in workers
    assert len(workers) == 2


def _merchant_rows(database: Path) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        checkouts = connection.execute(
            "SELECT id, nonce, verdict_result, evidence_id, nonce_consumed_at"
            " FROM merchant_checkouts"
        ).fetchall()
        evidence = connection.execute(
            "SELECT id, checkout_id, result, code FROM merchant_evidence"
        ).fetchall()
    connection.close()
    return checkouts, evidence


async def _verify_all(
    session: aiohttp.ClientSession,
    world: MerchantWorld,
    url: str,
    submissions: list[tuple[str, dict[str, Any]]],
    tally: Tally,
    *,
    kill_after: int | None = None,
    parent: int | None = None,
    port: int = 0,
) -> tuple[list[tuple[str, int, Any, int]], int | None]:
    """Submit every (checkout id, body) concurrently, retrying cut connections; with
    ``kill_after``, SIGKILL a worker once that many were answered."""
    answers: list[tuple[str, int, Any, int]] = []
    enough = asyncio.Event()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(checkout_id: str, body: dict[str, Any]) -> None:
        async with limit:
            status, document, cut = await post_until_answered(
                session,
                f"{url}/v1/checkouts/{checkout_id}/verify",
                body,
                tally=tally,
                headers=world.headers,
            )
        answers.append((checkout_id, status, document, cut))
        if kill_after is not None and len(answers) >= kill_after:
            enough.set()

    victim = None
    async with asyncio.TaskGroup() as group:  # one failure cancels the rest
        for checkout_id, body in submissions:
            group.create_task(one(checkout_id, body))
        if kill_after is not None and parent is not None:
            await enough.wait()
            victim = kill_one_worker(parent, port)
    return answers, victim


async def test_worker_sigkill_during_verification(tmp_path: Path) -> None:
    """Merchant on SQLite with 2 workers, every presentation submitted twice at once (a
    replay), SIGKILL one worker mid-load: no nonce accepted twice (clients and database),
    every ``authenticated`` a client saw is the checkout's stored verdict with its
    evidence, every checkout ends ``authenticated`` once, no 5xx, the worker is replaced."""
    world = MerchantWorld(tmp_path)
    await world.prepare_database()
    database = tmp_path / "merchant" / "merchant.sqlite3"
    with running_service(
        "merchant", env=world.env, workers=2, log=tmp_path / "merchant.log"
    ) as merchant:
        during = Tally()
        async with aiohttp.ClientSession() as session:
            checkouts = await world.create_checkouts(session, merchant.url, CHECKOUTS)
            submissions = [
                (c["checkoutId"], body)
                for c in checkouts
                for body in [world.verify_body(c)] * 2  # the same presentation, twice
            ]
            answers, victim = await _verify_all(
                session,
                world,
                merchant.url,
                submissions,
                during,
                kill_after=len(submissions) // 4,
                parent=merchant.pid,
                port=merchant.port,
            )
        assert victim is not None
        figures.add("faults injected", "worker SIGKILL during verification")
        workers = await asyncio.to_thread(
            wait_for_workers, merchant.pid, 2, port=merchant.port, excluding={victim}
        )

        after = Tally()
        async with aiohttp.ClientSession() as session:
            fresh = await world.create_checkouts(session, merchant.url, CHECKOUTS_AFTER)
            late_answers, _ = await _verify_all(
                session,
                world,
                merchant.url,
                [(c["checkoutId"], world.verify_body(c)) for c in fresh],
                after,
            )
            states = {}
            for checkout in checkouts:
                async with session.get(
                    f"{merchant.url}/v1/checkouts/{checkout['checkoutId']}", headers=world.headers
                ) as response:
                    assert response.status == 200
                    states[checkout["checkoutId"]] = await read_json(response)
        rows, evidence = _merchant_rows(database)
        log_tail = merchant.log_tail()

    by_id = {row["id"]: row for row in rows}
    results = {e["id"]: e["result"] for e in evidence}
    authenticated_evidence = Counter(
        e["checkout_id"] for e in evidence if e["result"] == "authenticated"
    )
    nonces = Counter(row["nonce"] for row in rows if row["verdict_result"] == "authenticated")
    seen = Counter(
        cid
        for cid, _, doc, _ in answers + late_answers
        if doc["verdict"]["result"] == "authenticated"
    )
    twice = (
        sum(1 for n in authenticated_evidence.values() if n > 1)
        + sum(1 for n in nonces.values() if n > 1)
        + sum(1 for n in seen.values() if n > 1)
    )
    lost = [
        (cid, doc)
        for cid, _, doc, _ in answers + late_answers
        if doc["verdict"]["result"] == "authenticated"
        and (
            by_id[cid]["verdict_result"] != "authenticated"
            or by_id[cid]["evidence_id"] != doc["verdict"]["evidenceId"]
        )
    ]
    figures.add("invariants violated", "nonces accepted twice", twice)
    figures.add("invariants violated", "lost verdicts", len(lost))

    assert twice == 0
    assert lost == []
    assert {status for _, status, _, _ in answers + late_answers} == {200}
    codes = Counter(doc["verdict"]["code"] for _, _, doc, _ in answers)
    assert set(codes) <= {None, "nonce_replayed"}, codes
    # Every checkout ends authenticated exactly once, with its evidence stored. A checkout
    # no client saw authenticated had its winning request cut after the commit: the state
    # (GET) still reports the verdict, so nothing a shop relies on is lost.
    assert all(states[cid]["state"] == "authenticated" for cid in states)
    for checkout in checkouts + fresh:
        row = by_id[checkout["checkoutId"]]
        assert row["verdict_result"] == "authenticated"
        assert row["nonce_consumed_at"] is not None
        assert authenticated_evidence[row["id"]] == 1
        assert results[row["evidence_id"]] == "authenticated"
    unseen = [cid for cid in states if not seen[cid]]
    print(
        f"verification SIGKILL: {during.transport_errors} connections cut, "
        f"{len(unseen)} checkouts authenticated by a request cut after its commit"
    )
    assert during.transport_errors >= 1  # the kill hit requests in flight
    assert during.server_errors == 0, (during, log_tail)
    assert after.server_errors == 0, (after, log_tail)
    assert after.transport_errors == 0
    assert all(doc["verdict"]["result"] == "authenticated" for _, _, doc, _ in late_answers)
    assert victim not in workers
    assert len(workers) == 2


def test_runner_stops_a_worker_crash_loop(tmp_path: Path) -> None:
    """A worker that dies at every start is replaced a bounded number of times, then the
    service exits non-zero instead of forking for ever (servicekit/runner.py)."""
    script = (
        "from servicekit.runner import serve\n"
        "async def factory():\n"
        "    raise RuntimeError('this worker cannot start')\n"
        f"serve(factory, host='127.0.0.1', port={free_loopback_port()}, workers=2)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=base_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert completed.stderr.count("starting a replacement") == 5, completed.stderr[-2000:]
    assert "restarts in 30 s, stopping" in completed.stderr
