"""Card data and card-data secrets never show up in repr, str or error messages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.errors import CardcertError
from certs.presentation import Presentation
from certs.verification import VerifiedPresentation
from certs.wire import b64url_encode
from tests.certs.vectors import card_data, cases, read, run_case

TABLE: dict[str, Any] = json.loads(read("card-data/parse-cases.json"))
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def _digits(text: Any) -> str:
    return "".join(ch for ch in str(text) if ch.isascii() and ch.isdigit())


def _exception_texts(exc: BaseException) -> Iterator[str]:
    """str and repr of ``exc`` and of every exception chained to it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        if isinstance(current, CardcertError):
            yield current.message
            yield json.dumps(current.to_dict())
        current = current.__cause__ or current.__context__


def _secret_forms(secret: bytes) -> list[str]:
    return [
        b64url_encode(secret),
        base64.b64encode(secret).decode(),
        secret.hex(),
        repr(secret)[2:-1],
    ]


@pytest.mark.parametrize("row", [r for r in TABLE["cases"] if r["expected"] == "ok"])
def test_card_data_repr_and_str_hide_pan_and_security_code(row: dict[str, Any]) -> None:
    values = row["input"]
    card = CardData.parse(
        pan=values["pan"],
        expiry=values["expiry"],
        security_code=values["security_code"],
        name=values["name"],
    )
    for text in (repr(card), str(card), f"{card}", f"{card!r}", repr([card]), repr({"c": card})):
        assert card.pan not in text
        assert card.pan[:-4] not in text  # more than the last four digits
        assert values["pan"] not in text
        assert f"security_code={card.security_code}" not in text
        assert card.security_code not in text.replace(card.expiry.iso(), "")
    assert card.last4 in repr(card)  # the part that may be shown is shown


@pytest.mark.parametrize("row", [r for r in TABLE["cases"] if r["expected"] != "ok"])
def test_card_data_errors_do_not_echo_the_input(row: dict[str, Any]) -> None:
    values = row["input"]
    with pytest.raises(CardcertError) as excinfo:
        CardData.parse(
            pan=values["pan"],
            expiry=values["expiry"],
            security_code=values["security_code"],
            name=values["name"],
        )
    texts = list(_exception_texts(excinfo.value))
    for secret in (values["pan"], _digits(values["pan"]), values["security_code"]):
        if len(secret.strip()) >= 3:
            assert all(secret.strip() not in text for text in texts), secret


def test_card_data_mismatch_error_does_not_echo_card_data() -> None:
    (case,) = [c for c in cases() if c["name"] == "card_data_wrong_pan"]
    typed = card_data(case["files"]["card_data"])
    enrolled = card_data("card-data/card.json")
    with pytest.raises(CardcertError) as excinfo:
        run_case(case)
    assert excinfo.value.code == "card_data_mismatch"
    for text in _exception_texts(excinfo.value):
        for card in (typed, enrolled):
            assert card.pan not in text
            assert card.pan[:-4] not in text


def test_presentation_repr_hides_the_card_data_secret() -> None:
    presentation = Presentation.parse(read("presentations/ok.json"))
    for text in (repr(presentation), str(presentation)):
        for form in _secret_forms(presentation.card_data_secret):
            assert form not in text
    assert presentation.transaction.checkout_id in repr(presentation)


def test_verified_presentation_repr_hides_the_card_data_secret() -> None:
    (case,) = [c for c in cases() if c["name"] == "ok"]
    result = run_case(case)
    assert isinstance(result, VerifiedPresentation)
    secret = Presentation.parse(read(case["files"]["presentation"])).card_data_secret
    text = repr(result)
    for form in _secret_forms(secret):
        assert form not in text


def test_credential_repr_hides_secret_and_private_key() -> None:
    pki = DevPki.create(now=NOW)
    card = card_data("card-data/card.json")
    credential = CardholderCredential.issue(
        pki,
        card,
        now=NOW,
        crl_url="http://issuer.localhost/crl",
        ocsp_url="http://issuer.localhost/ocsp",
        validity=timedelta(days=30),
    )
    scalar = credential.private_key.private_numbers().private_value
    for text in (repr(credential), str(credential)):
        for form in _secret_forms(credential.card_data_secret):
            assert form not in text
        assert str(scalar) not in text
        assert f"{scalar:x}" not in text
        assert card.pan not in text
    assert credential.fingerprint in repr(credential)


def test_card_certificate_does_not_contain_the_pan() -> None:
    card = card_data("card-data/card.json")
    der = base64.urlsafe_b64decode(
        json.loads(read("presentations/ok.json"))["certificateChain"][0] + "=="
    )
    assert card.pan.encode() not in der
    assert bytes.fromhex(card.pan) not in der  # packed BCD
    assert int(card.pan).to_bytes(8, "big").lstrip(b"\x00") not in der
