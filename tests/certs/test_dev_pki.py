"""The development PKI's stapled status is a real, issuer-signed OCSP response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.revocation import CertStatus, StatusSource, read_ocsp_response


def test_good_status_reads_as_good_for_its_certificate() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    pki = DevPki.create(now=now)
    card = CardData.parse(pan="4111111111111111", expiry="12/30", security_code="123")
    credential = CardholderCredential.issue(
        pki, card, now=now, crl_url="http://127.0.0.1/crl", ocsp_url="http://127.0.0.1/ocsp"
    )
    der = pki.good_status(
        credential.certificate, this_update=now, next_update=now + timedelta(days=1)
    )
    status = read_ocsp_response(
        der,
        certificate=credential.certificate,
        issuer_ca=pki.issuer_ca,
        now=now + timedelta(hours=1),
        max_age=timedelta(days=1),
        source=StatusSource.STAPLED,
    )
    assert status.status is CertStatus.GOOD
    assert status.serial_number == credential.certificate.serial_number
