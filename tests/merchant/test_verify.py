"""Verification through ``POST /v1/checkouts/{id}/verify`` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.x509 import ocsp
from sqlalchemy import select

from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.transaction import Confirmation
from merchant.app_keys import ENGINE, STATUS_RESOLVER
from merchant.models import Checkout, table_of
from merchant.settings import RevocationMode
from tests.merchant.conftest import (
    build_ocsp_response,
    card_json,
    closed_port,
    issue,
    present,
)

_CHECKOUTS = table_of(Checkout)


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


async def test_authenticated_with_live_ocsp(make_merchant, database_url, credential):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    assert result["state"] == "authenticated"
    verdict = result["verdict"]
    assert verdict["result"] == "authenticated"
    assert verdict["code"] is None
    assert verdict["liabilityShift"] is True
    assert verdict["revocationSource"] == "live"
    assert verdict["evidenceId"].startswith("ev_")
    status = await merchant.status(checkout["checkoutId"])
    assert status["state"] == "authenticated"
    assert status["verdict"]["evidenceId"] == verdict["evidenceId"]
    assert status["verdict"]["liabilityShift"] is True


async def test_authenticated_with_staple_makes_no_live_query(
    make_merchant, database_url, pki, credential, ocsp_responder
):
    merchant = await make_merchant(database_url)
    staple = build_ocsp_response(pki, credential.certificate)
    for _ in range(2):
        checkout = await merchant.create_checkout()
        result = await merchant.verify(
            checkout["checkoutId"],
            present(credential, checkout, staple=staple).to_json(),
            card=card_json(),
        )
        assert result["verdict"]["result"] == "authenticated"
        assert result["verdict"]["revocationSource"] == "stapled"
    assert ocsp_responder.calls == 0


async def test_live_ocsp_answers_are_cached(make_merchant, sqlite_url, credential, ocsp_responder):
    merchant = await make_merchant(sqlite_url)
    for _ in range(3):
        checkout = await merchant.create_checkout()
        result = await merchant.verify(
            checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
        )
        assert result["verdict"]["result"] == "authenticated"
    assert ocsp_responder.calls == 1
    assert merchant.app[STATUS_RESOLVER].live_fetches == 1


def _case_presentation(
    case: str, credential: CardholderCredential, checkout: dict[str, Any], pki: DevPki, **kw: Any
) -> Any:
    """The presentation (wire JSON) for one failure case."""
    now = datetime.now(UTC)
    if case == "origin_mismatch":
        return present(credential, checkout, merchant_origin="http://evil.localhost:8002").to_json()
    if case == "merchant_name_mismatch":
        return present(credential, checkout, merchant_name="Another Shop").to_json()
    if case == "amount_mismatch":
        return present(credential, checkout, amount="12.31").to_json()
    if case == "currency_mismatch":
        return present(credential, checkout, currency="USD").to_json()
    if case == "checkout_id_mismatch":
        return present(credential, checkout, checkout_id="co_someotherid").to_json()
    if case == "nonce_mismatch":
        return present(credential, checkout, nonce="A" * 43).to_json()
    if case == "signing_time_out_of_window":
        return present(credential, checkout, signed_at=now - timedelta(minutes=11)).to_json()
    if case == "signing_time_in_future":
        return present(credential, checkout, signed_at=now + timedelta(minutes=5)).to_json()
    if case == "signature_invalid":
        presentation = present(credential, checkout)
        return replace(presentation, signature=_flip_last_byte(presentation.signature)).to_json()
    if case == "signature_malformed":
        return replace(present(credential, checkout), signature=b"\x01" * 63).to_json()
    if case == "cert_signature_invalid":  # a tampered card certificate
        presentation = present(credential, checkout)
        chain = presentation.certificate_chain
        return replace(
            presentation, certificate_chain=(_flip_last_byte(chain[0]), chain[1])
        ).to_json()
    if case == "cert_malformed":
        presentation = present(credential, checkout)
        chain = presentation.certificate_chain
        return replace(presentation, certificate_chain=(chain[0][:-40], chain[1])).to_json()
    if case == "cert_expired":
        old = issue(
            pki, ocsp_url=kw["ocsp_url"], now=now - timedelta(days=100), validity=timedelta(days=30)
        )
        return present(old, checkout).to_json()
    if case == "cert_not_yet_valid":
        future = issue(pki, ocsp_url=kw["ocsp_url"], now=now + timedelta(days=2))
        return present(future, checkout).to_json()
    if case == "untrusted_root":
        stranger = issue(kw["other_pki"], ocsp_url=kw["ocsp_url"])
        return present(stranger, checkout).to_json()
    if case == "certificate_fingerprint_mismatch":
        other = issue(pki, ocsp_url=kw["ocsp_url"])
        presentation = present(credential, checkout)
        return replace(presentation, certificate_chain=other.certificate_chain).to_json()
    if case == "presentation_malformed":
        return {"version": 1, "transaction": "AAAA"}
    if case == "presentation_not_json":
        return "{not json"
    if case == "transaction_malformed":
        wire = present(credential, checkout).to_json()
        wire["transaction"] = "eyJhIjoxfQ"  # {"a":1}
        return wire
    if case == "card_data_secret_wrong_length":
        return replace(present(credential, checkout), card_data_secret=b"\x00" * 16).to_json()
    raise AssertionError(case)


FAILURES = {
    "origin_mismatch": "origin_mismatch",
    "merchant_name_mismatch": "merchant_name_mismatch",
    "amount_mismatch": "amount_mismatch",
    "currency_mismatch": "currency_mismatch",
    "checkout_id_mismatch": "checkout_id_mismatch",
    "nonce_mismatch": "nonce_mismatch",
    "signing_time_out_of_window": "signing_time_out_of_window",
    "signing_time_in_future": "signing_time_out_of_window",
    "signature_invalid": "signature_invalid",
    "signature_malformed": "signature_malformed",
    "cert_signature_invalid": "cert_signature_invalid",
    "cert_malformed": "cert_malformed",
    "cert_expired": "cert_expired",
    "cert_not_yet_valid": "cert_not_yet_valid",
    "untrusted_root": "untrusted_root",
    "certificate_fingerprint_mismatch": "certificate_fingerprint_mismatch",
    "presentation_malformed": "presentation_malformed",
    "presentation_not_json": "presentation_malformed",
    "transaction_malformed": "transaction_malformed",
    "card_data_secret_wrong_length": "presentation_malformed",
}
# Failures the cardholder's key is behind (signed for this checkout): they end the checkout.
ATTRIBUTABLE = {"origin_mismatch", "merchant_name_mismatch", "amount_mismatch",
                "currency_mismatch", "signing_time_out_of_window", "signing_time_in_future",
                "card_data_secret_wrong_length"}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FAILURES))
async def test_failure_codes(
    case, make_merchant, database_url, pki, *, other_pki, credential, ocsp_responder
):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    wire = _case_presentation(
        case, credential, checkout, pki, ocsp_url=ocsp_responder.url, other_pki=other_pki
    )
    result = await merchant.verify(checkout["checkoutId"], wire, card=card_json())
    verdict = result["verdict"]
    assert verdict["result"] == "failed"
    assert verdict["code"] == FAILURES[case]
    assert verdict["liabilityShift"] is False
    assert verdict["evidenceId"].startswith("ev_")
    expected_state = "failed" if case in ATTRIBUTABLE else "pending"
    assert result["state"] == expected_state
    status = await merchant.status(checkout["checkoutId"])
    assert status["state"] == expected_state
    if case in ATTRIBUTABLE:
        assert status["verdict"]["code"] == FAILURES[case]
    else:
        # Garbage cannot burn the nonce: the real cardholder can still pay.
        assert status["verdict"] is None
        good = await merchant.verify(
            checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
        )
        assert good["verdict"]["result"] == "authenticated"


async def test_wrong_card_data_fails_and_ends_the_checkout(make_merchant, database_url, credential):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    presentation = present(credential, checkout).to_json()
    result = await merchant.verify(checkout["checkoutId"], presentation, card=card_json("1234"))
    assert result["verdict"]["code"] == "card_data_mismatch"
    assert result["state"] == "failed"
    status = await merchant.status(checkout["checkoutId"])
    assert status["state"] == "failed"
    assert status["verdict"]["code"] == "card_data_mismatch"
    again = await merchant.verify(checkout["checkoutId"], presentation, card=card_json())
    assert again["verdict"]["code"] == "nonce_replayed"
    assert again["state"] == "failed"


async def test_replay_is_rejected(make_merchant, database_url, credential):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    presentation = present(credential, checkout).to_json()
    first = await merchant.verify(checkout["checkoutId"], presentation, card=card_json())
    assert first["verdict"]["result"] == "authenticated"
    second = await merchant.verify(checkout["checkoutId"], presentation, card=card_json())
    assert second["verdict"]["result"] == "failed"
    assert second["verdict"]["code"] == "nonce_replayed"
    assert second["state"] == "authenticated"
    status = await merchant.status(checkout["checkoutId"])
    assert status["verdict"]["evidenceId"] == first["verdict"]["evidenceId"]


async def test_expired_checkout_rejects_as_replayed(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    presentation = present(credential, checkout).to_json()
    merchant.clock.advance(timedelta(minutes=10, seconds=1))
    result = await merchant.verify(checkout["checkoutId"], presentation, card=card_json())
    # The signature is also 10 minutes old by the merchant's clock: the window fails first.
    assert result["verdict"]["code"] in ("signing_time_out_of_window", "nonce_replayed")
    assert (await merchant.status(checkout["checkoutId"]))["state"] == "expired"


async def test_revoked_staple(make_merchant, database_url, pki, credential):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    staple = build_ocsp_response(pki, credential.certificate, status=ocsp.OCSPCertStatus.REVOKED)
    result = await merchant.verify(
        checkout["checkoutId"],
        present(credential, checkout, staple=staple).to_json(),
        card=card_json(),
    )
    assert result["verdict"]["result"] == "failed"
    assert result["verdict"]["code"] == "cert_revoked"
    assert result["verdict"]["revocationSource"] == "stapled"
    assert result["state"] == "failed"


async def test_revoked_live(make_merchant, sqlite_url, credential, ocsp_responder):
    ocsp_responder.statuses[credential.certificate.serial_number] = ocsp.OCSPCertStatus.REVOKED
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    assert result["verdict"]["code"] == "cert_revoked"
    assert result["verdict"]["revocationSource"] == "live"


def _stale_staple(pki: DevPki, credential: CardholderCredential) -> bytes:
    old = datetime.now(UTC) - timedelta(hours=30)
    return build_ocsp_response(
        pki, credential.certificate, this_update=old, next_update=old + timedelta(days=3)
    )


async def test_stale_staple_falls_back_to_live_ocsp(
    make_merchant, database_url, pki, credential, ocsp_responder
):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    staple = _stale_staple(pki, credential)
    result = await merchant.verify(
        checkout["checkoutId"],
        present(credential, checkout, staple=staple).to_json(),
        card=card_json(),
    )
    assert result["verdict"]["result"] == "authenticated"
    assert result["verdict"]["revocationSource"] == "live"
    assert ocsp_responder.calls == 1


async def test_staple_within_a_longer_merchant_max_age_is_used(
    make_merchant, sqlite_url, pki, credential, ocsp_responder
):
    merchant = await make_merchant(sqlite_url, max_status_age=timedelta(hours=48))
    checkout = await merchant.create_checkout()
    staple = _stale_staple(pki, credential)
    result = await merchant.verify(
        checkout["checkoutId"],
        present(credential, checkout, staple=staple).to_json(),
        card=card_json(),
    )
    assert result["verdict"]["revocationSource"] == "stapled"
    assert ocsp_responder.calls == 0


async def test_stale_staple_and_issuer_unreachable_is_unavailable(make_merchant, database_url, pki):
    credential = issue(pki, ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    staple = _stale_staple(pki, credential)
    presentation = present(credential, checkout, staple=staple).to_json()
    result = await merchant.verify(checkout["checkoutId"], presentation, card=card_json())
    assert result["verdict"]["result"] == "unavailable"
    assert result["verdict"]["code"] == "status_unavailable"
    assert result["state"] == "unavailable"
    assert (await merchant.status(checkout["checkoutId"]))["state"] == "unavailable"


async def test_staple_signed_by_another_key_is_ignored(
    make_merchant, sqlite_url, pki, *, other_pki, credential, ocsp_responder
):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    forged = build_ocsp_response(pki, credential.certificate, signer=other_pki)
    good = build_ocsp_response(pki, credential.certificate)
    tampered = good[:-1] + bytes([good[-1] ^ 1])  # the last byte is in the signature
    for staple in (forged, tampered):
        checkout = await merchant.create_checkout()
        result = await merchant.verify(
            checkout["checkoutId"],
            present(credential, checkout, staple=staple).to_json(),
            card=card_json(),
        )
        assert result["verdict"]["result"] == "authenticated"
        assert result["verdict"]["revocationSource"] == "live"


async def test_issuer_unreachable_hard_fail(make_merchant, database_url, pki):
    credential = issue(pki, ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    assert result["verdict"] | {"evidenceId": None} == {
        "result": "unavailable",
        "code": "status_unavailable",
        "liabilityShift": False,
        "evidenceId": None,
        "confirmation": "explicit",
        "revocationChecked": False,
        "revocationSource": "none",
    }


async def test_issuer_unreachable_but_other_check_fails_reports_the_failure(
    make_merchant, sqlite_url, pki
):
    credential = issue(pki, ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json("1234")
    )
    assert result["verdict"]["code"] == "card_data_mismatch"
    assert result["state"] == "failed"


async def test_issuer_unreachable_soft_fail(make_merchant, database_url, pki):
    credential = issue(pki, ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    merchant = await make_merchant(database_url, revocation_mode=RevocationMode.SOFT)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    verdict = result["verdict"]
    assert verdict["result"] == "authenticated"
    assert verdict["revocationChecked"] is False
    assert verdict["revocationSource"] == "none"
    assert verdict["liabilityShift"] is False
    status = await merchant.status(checkout["checkoutId"])
    assert status["verdict"]["liabilityShift"] is False
    assert status["verdict"]["revocationChecked"] is False


async def test_slow_issuer_times_out(make_merchant, sqlite_url, pki, aiohttp_server):
    from aiohttp import web

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_post("/ocsp", slow)
    server = await aiohttp_server(app)
    credential = issue(pki, ocsp_url=str(server.make_url("/ocsp")))
    merchant = await make_merchant(sqlite_url, ocsp_timeout=0.2)
    checkout = await merchant.create_checkout()
    started = asyncio.get_running_loop().time()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    assert result["verdict"]["code"] == "status_unavailable"
    assert asyncio.get_running_loop().time() - started < 2


async def test_frictionless_confirmation(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    presentation = present(credential, checkout, confirmation=Confirmation.FRICTIONLESS)
    result = await merchant.verify(checkout["checkoutId"], presentation.to_json(), card=card_json())
    assert result["verdict"]["result"] == "authenticated"
    assert result["verdict"]["confirmation"] == "frictionless"
    assert result["verdict"]["liabilityShift"] is True

    strict = await make_merchant(
        sqlite_url.replace(".sqlite3", "-2.sqlite3"), allow_frictionless=False
    )
    checkout = await strict.create_checkout()
    presentation = present(credential, checkout, confirmation=Confirmation.FRICTIONLESS)
    result = await strict.verify(checkout["checkoutId"], presentation.to_json(), card=card_json())
    assert result["verdict"]["code"] == "confirmation_not_accepted"


async def test_card_data_required(make_merchant, sqlite_url, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), expect=422
    )
    assert result["error"]["code"] == "card_data_unavailable"
    bad = await merchant.verify(
        checkout["checkoutId"],
        present(credential, checkout).to_json(),
        card=card_json(pan="4111 1111 1111 1112"),
        expect=422,
    )
    assert bad["error"]["code"] == "pan_invalid"


async def test_stored_card_data_is_used_then_erased(make_merchant, database_url, credential):
    merchant = await make_merchant(database_url)
    checkout = await merchant.create_checkout(cardData=card_json())
    engine = merchant.app[ENGINE]

    async def stored() -> bytes | None:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    select(_CHECKOUTS.c.card_data).where(_CHECKOUTS.c.id == checkout["checkoutId"])
                )
            ).scalar_one()

    sealed = await stored()
    assert sealed is not None
    assert b"4111" not in sealed
    result = await merchant.verify(checkout["checkoutId"], present(credential, checkout).to_json())
    assert result["verdict"]["result"] == "authenticated"
    assert await stored() is None


async def test_concurrent_submissions_postgres(make_merchant, postgres_url, pki, credential):
    merchant = await make_merchant(postgres_url)
    checkout = await merchant.create_checkout()
    staple = build_ocsp_response(pki, credential.certificate)
    presentation = present(credential, checkout, staple=staple).to_json()
    results = await asyncio.gather(
        *(
            merchant.verify(checkout["checkoutId"], presentation, card=card_json())
            for _ in range(50)
        )
    )
    verdicts = [r["verdict"] for r in results]
    assert sum(v["result"] == "authenticated" for v in verdicts) == 1
    assert {v["code"] for v in verdicts if v["result"] != "authenticated"} == {"nonce_replayed"}
    assert all(r["state"] == "authenticated" for r in results)


async def test_concurrent_submissions_sqlite(make_merchant, sqlite_url, pki, credential):
    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    staple = build_ocsp_response(pki, credential.certificate)
    presentation = present(credential, checkout, staple=staple).to_json()
    results = await asyncio.gather(
        *(
            merchant.verify(checkout["checkoutId"], presentation, card=card_json())
            for _ in range(20)
        )
    )
    assert sum(r["verdict"]["result"] == "authenticated" for r in results) == 1


async def test_presentation_as_json_text(make_merchant, sqlite_url, credential):
    import json

    merchant = await make_merchant(sqlite_url)
    checkout = await merchant.create_checkout()
    text = json.dumps(present(credential, checkout).to_json())
    result = await merchant.verify(checkout["checkoutId"], text, card=card_json())
    assert result["verdict"]["result"] == "authenticated"


@pytest.mark.parametrize("mode", [RevocationMode.HARD, RevocationMode.SOFT])
async def test_issuer_answers_unknown(make_merchant, sqlite_url, credential, ocsp_responder, mode):
    ocsp_responder.statuses[credential.certificate.serial_number] = ocsp.OCSPCertStatus.UNKNOWN
    merchant = await make_merchant(sqlite_url, revocation_mode=mode)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(credential, checkout).to_json(), card=card_json()
    )
    verdict = result["verdict"]
    assert verdict["revocationSource"] == "live"
    assert verdict["revocationChecked"] is False
    assert verdict["liabilityShift"] is False
    if mode is RevocationMode.HARD:
        assert verdict["result"] == "unavailable"
        assert verdict["code"] == "status_unavailable"
    else:
        assert verdict["result"] == "authenticated"
        status = await merchant.status(checkout["checkoutId"])
        assert status["verdict"]["revocationChecked"] is False
        assert status["verdict"]["liabilityShift"] is False


async def test_the_ocsp_url_of_an_unvalidated_certificate_is_never_fetched(
    make_merchant, sqlite_url, other_pki: DevPki, ocsp_responder, credential
):
    """RFC 6960's AIA URL comes from the certificate, which the presenter chose: fetching it
    before the path validates would let anyone make the merchant send requests to any URL
    (server-side request forgery). A certificate from an untrusted issuer whose AIA points
    at a live responder is rejected without a single request reaching it."""
    merchant = await make_merchant(sqlite_url)
    stranger = issue(other_pki, ocsp_url=ocsp_responder.url, responder=ocsp_responder)
    checkout = await merchant.create_checkout()
    result = await merchant.verify(
        checkout["checkoutId"], present(stranger, checkout).to_json(), card=card_json()
    )
    assert result["verdict"]["result"] == "failed"
    assert result["verdict"]["code"] == "untrusted_root"
    assert ocsp_responder.calls == 0
    assert merchant.app[STATUS_RESOLVER].live_fetches == 0
    # The same responder is reachable and answers for a validated certificate (control).
    trusted_checkout = await merchant.create_checkout()
    good = await merchant.verify(
        trusted_checkout["checkoutId"],
        present(credential, trusted_checkout).to_json(),
        card=card_json(),
    )
    assert good["verdict"]["result"] == "authenticated"
    assert ocsp_responder.calls == 1
