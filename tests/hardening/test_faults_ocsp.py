"""The issuer's OCSP responder down or slow while the merchant verifies (issue 7).

A merchant (``python -m merchant serve``) with ``MERCHANT_OCSP_TIMEOUT=0.5`` verifies
presentations that carry no stapled status, so it must ask the OCSP URL in the card
certificate (merchant/status.py). Each certificate names a real socket on 127.0.0.1 that
fails in its own way:

* **refused**: a bound port that is not listening (connection refused);
* **silent**: a server that accepts the connection and never reads or answers;
* **slow**: a server that answers a *valid* ``good`` response after 5 s, ten times the
  timeout: a merchant that waited would answer ``authenticated`` with liability shift.

Hard-fail (the default, ``MERCHANT_REVOCATION_MODE=hard``): every verdict is
``unavailable`` with ``status_unavailable``, never ``authenticated``; the checkout stays
open, and once the responder answers in time the same checkout verifies. Soft-fail: the
verdict is ``authenticated`` without revocation checked and never shifts liability
(merchant/verdict.py). The evidence records the live fetch as ``failed`` with a
connection error for the refused port and a timeout for the other two. No wall-clock
assertion: the timeout is shown to be honoured by the verdict itself, with pytest-timeout
as the guard against a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from certs.credential import CardholderCredential
from tests import figures
from tests.hardening.fault_helpers import (
    MerchantWorld,
    MisbehavingResponder,
    Tally,
    read_json,
    refusing_port,
    running_service,
)

pytestmark = pytest.mark.timeout(60)

OCSP_TIMEOUT = "0.5"
SLOW = 5.0  # seconds before the slow responder answers: ten times the timeout
CONCURRENT = 4  # checkouts verified at once against each failing responder


async def _verify(
    session: aiohttp.ClientSession,
    world: MerchantWorld,
    url: str,
    checkout: dict[str, str],
    credential: CardholderCredential,
    *,
    tally: Tally,
) -> dict[str, Any]:
    async with session.post(
        f"{url}/v1/checkouts/{checkout['checkoutId']}/verify",
        json=world.verify_body(checkout, credential=credential),
        headers=world.headers,
    ) as response:
        document = await read_json(response)
        tally.saw(response.status, document)
        assert response.status == 200, document
        return dict(document)


async def _live_outcome(
    session: aiohttp.ClientSession, world: MerchantWorld, url: str, evidence_id: str
) -> dict[str, Any]:
    async with session.get(f"{url}/v1/evidence/{evidence_id}", headers=world.headers) as response:
        assert response.status == 200
        document = await response.json(content_type=None)
    return dict(document["revocation"])


@pytest.mark.parametrize("mode", ["hard", "soft"])
async def test_ocsp_responder_down_or_slow(mode: str, tmp_path: Path) -> None:
    """Refused, silent and slow responders: ``unavailable``/``status_unavailable`` under
    hard-fail (``authenticated`` without revocation and without liability shift under
    soft-fail), within the configured timeout, and verification recovers with the
    responder."""
    world = MerchantWorld(
        tmp_path,
        staple=False,
        extra_env={"MERCHANT_OCSP_TIMEOUT": OCSP_TIMEOUT, "MERCHANT_REVOCATION_MODE": mode},
    )
    await world.prepare_database()
    tally = Tally()
    verdicts: dict[str, list[dict[str, Any]]] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        refused_port = stack.enter_context(refusing_port())
        merchant = stack.enter_context(
            running_service("merchant", env=world.env, workers=1, log=tmp_path / "merchant.log")
        )
        probe = world.issue(f"http://127.0.0.1:{refused_port}/ocsp")
        good = world.good_status(probe)  # any valid response will do for the servers below
        async with (
            MisbehavingResponder(good, delay=None) as silent,
            MisbehavingResponder(good, delay=SLOW) as slow,
            aiohttp.ClientSession() as session,
        ):
            credentials = {
                "refused": probe,
                "silent": world.issue(silent.url),
                "slow": world.issue(slow.url),
            }
            slow.response = world.good_status(credentials["slow"])
            checkouts = await world.create_checkouts(session, merchant.url, 3 * CONCURRENT + 1)
            for index, (fault, credential) in enumerate(credentials.items()):
                batch = checkouts[index * CONCURRENT : (index + 1) * CONCURRENT]
                verdicts[fault] = [
                    (await _verify(session, world, merchant.url, c, credential, tally=tally))[
                        "verdict"
                    ]
                    for c in batch[:1]
                ]
                # The rest at once: concurrent requests share one live fetch per certificate.
                verdicts[fault] += [
                    answer["verdict"]
                    for answer in await asyncio.gather(
                        *(
                            _verify(session, world, merchant.url, c, credential, tally=tally)
                            for c in batch[1:]
                        )
                    )
                ]
                outcomes[fault] = await _live_outcome(
                    session, world, merchant.url, verdicts[fault][0]["evidenceId"]
                )
                figures.add("faults injected", "OCSP responder down/slow")
            contacted = {"silent": silent.connections, "slow": slow.connections}

            # The responder is back and quick: a new checkout, and under hard-fail the very
            # checkout that was unavailable (its nonce was kept), verify with its answer.
            slow.delay = 0.0
            recovered = [
                (
                    await _verify(
                        session,
                        world,
                        merchant.url,
                        checkouts[-1],
                        credentials["slow"],
                        tally=tally,
                    )
                )["verdict"]
            ]
            if mode == "hard":
                again = checkouts[2 * CONCURRENT]  # the first "slow" checkout
                recovered.append(
                    (
                        await _verify(
                            session, world, merchant.url, again, credentials["slow"], tally=tally
                        )
                    )["verdict"]
                )

    failed_verdicts = [v for fault in verdicts for v in verdicts[fault]]
    if mode == "hard":
        authenticated = sum(v["result"] == "authenticated" for v in failed_verdicts)
        figures.add("invariants violated", "authenticated while unavailable", authenticated)
        assert authenticated == 0
        for verdict in failed_verdicts:
            assert verdict["result"] == "unavailable"
            assert verdict["code"] == "status_unavailable"
    else:
        for verdict in failed_verdicts:
            assert verdict["result"] == "authenticated"
            assert verdict["code"] is None
            assert verdict["revocationChecked"] is False
    assert not any(v["liabilityShift"] for v in failed_verdicts)
    assert tally.server_errors == 0
    # Each fault was the one injected: refused at connect, the others timed out.
    for fault, outcome in outcomes.items():
        assert outcome["live"] == "failed", (fault, outcome)
        assert outcome["status"] == "unavailable"
        timed_out = "Timeout" in str(outcome["liveError"])
        assert timed_out == (fault != "refused"), (fault, outcome)
    assert contacted["silent"] >= 1
    assert contacted["slow"] >= 1
    for verdict in recovered:
        assert verdict["result"] == "authenticated"
        assert verdict["revocationChecked"] is True
        assert verdict["revocationSource"] == "live"
        assert verdict["liabilityShift"] is True
