"""No card data, activation code, secret or key in any log record.

Every test in this package runs under the autouse ``_no_sensitive_data_in_logs`` fixture
(conftest.py): it captures all records at DEBUG, formats each one raw and through
servicekit's RedactingFilter, and fails the test if a registered sensitive value appears.
This test drives every flow, including failures and an unexpected exception, and checks
that records were indeed captured, so the fixture is known to be looking.
"""

from __future__ import annotations

import logging

import pytest

from certs.wire import b64url_encode
from issuer.activation_codes import ActivationCode
from tests.issuer.conftest import sensitive_leaks
from tests.issuer.helpers import SENSITIVE, Device, Issuer, TestCard, sensitive


async def test_a_full_day_at_the_issuer_logs_no_secrets(
    issuer: Issuer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    card, device, enrolled = await issuer.enrolled(TestCard(name="Alex Example"))
    await issuer.renew(device, enrolled["certificateChain"][0])
    registered = await issuer.register(TestCard())
    await issuer.enroll(Device(), ActivationCode.generate().display())
    await issuer.enroll(Device(), registered["activationCode"], signature=b64url_encode(b"x" * 64))
    await issuer.client.post(
        "/v1/cards", json=card.json() | {"expiry": "01/20"}, headers=issuer.auth
    )
    await issuer.client.post(
        "/v1/cards", json=card.json(), headers={"Authorization": "Bearer nope"}
    )
    await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")
    await issuer.client.get("/crl")

    # An unexpected exception while card data is in scope is logged with its traceback.
    async def boom(*_: object, **__: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr("issuer.backoffice_api.register_card", boom)
    response = await issuer.client.post("/v1/cards", json=TestCard().json(), headers=issuer.auth)
    assert response.status == 500

    messages = [record.getMessage() for record in caplog.records]
    assert any("POST /v1/enrollment 201" in m for m in messages)
    assert any("POST /v1/enrollment 400" in m for m in messages)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert all(r.exc_info is not None for r in errors)
    assert caplog.handler.level == logging.DEBUG == logging.getLogger().level
    assert card.pan in SENSITIVE
    assert b64url_encode(device.secret) in SENSITIVE


def test_the_leak_check_catches_a_leak() -> None:
    card = TestCard()
    code = sensitive(ActivationCode.generate().display())
    for message, args in (
        ("card %s", (card.pan,)),
        ("code %s", (code.replace("-", ""),)),
        ("body %r", ({"securityCode": card.cvc},)),
        ("all is well", ()),
    ):
        record = logging.LogRecord("probe", logging.INFO, __file__, 1, message, args, None)
        expected = [] if message == "all is well" else ["probe"]
        assert sensitive_leaks([record]) == expected, message
