"""Renewal (docs/interfaces.md section 2.3): same key, same card binding, old one superseded."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from certs.card_digest import check_card_data
from certs.chain import ChainVerifier
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.digest_extension import decode_digest_extension
from certs.proof_of_possession import PopPurpose
from certs.wire import b64url_encode
from tests.issuer.helpers import Device, Issuer, TestCard, chain_of, error_code, leaf_of


async def _ocsp_status(issuer: Issuer, fingerprint: str) -> ocsp.OCSPResponse:
    response = await issuer.client.get(f"/status/{fingerprint}")
    assert response.status == 200
    return ocsp.load_der_ocsp_response(await response.read())


async def test_renewal_reissues_for_the_same_key_and_card(issuer: Issuer) -> None:
    card, device, enrolled = await issuer.enrolled()
    issuer.clock.advance(days=30)

    status, renewed = await issuer.renew(device, enrolled["certificateChain"][0])

    assert status == 201, renewed
    assert renewed["credentialId"] == enrolled["credentialId"]
    assert renewed["fingerprint"] != enrolled["fingerprint"]
    old, new = leaf_of(enrolled), leaf_of(renewed)
    assert new.serial_number != old.serial_number
    assert new.public_key().public_numbers() == device.key.public_key().public_numbers()  # type: ignore[union-attr]
    assert new.subject == old.subject
    assert decode_digest_extension(new).digest == decode_digest_extension(old).digest
    assert new.not_valid_after_utc > old.not_valid_after_utc
    verified = ChainVerifier([issuer.root]).verify(chain_of(renewed), now=issuer.clock())
    check_card_data(card.data, device.secret, verified.card_data_digest)

    superseded = await _ocsp_status(issuer, enrolled["fingerprint"])
    assert superseded.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert superseded.revocation_reason is x509.ReasonFlags.superseded
    current = await _ocsp_status(issuer, renewed["fingerprint"])
    assert current.certificate_status is ocsp.OCSPCertStatus.GOOD

    listing = await issuer.client.get(
        f"/v1/cards/{issuer.last_card_id}/credentials", headers=issuer.auth
    )
    credential = (await listing.json())["credentials"][0]
    assert credential["renewedAt"] is not None
    assert [c["status"] for c in credential["certificates"]] == ["good", "superseded"]


async def test_renewing_the_old_certificate_again_returns_the_current_one(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    status, renewed = await issuer.renew(device, enrolled["certificateChain"][0])
    assert status == 201
    status, again = await issuer.renew(device, enrolled["certificateChain"][0])
    assert (status, again["fingerprint"]) == (200, renewed["fingerprint"])


async def test_renewal_with_a_revoked_credential_is_refused(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")
    status, body = await issuer.renew(device, enrolled["certificateChain"][0])
    assert (status, error_code(body)) == (403, "credential_revoked")


async def test_renewal_with_an_unknown_certificate_is_refused(issuer: Issuer) -> None:
    stranger = CardholderCredential.issue(
        DevPki.create(now=issuer.clock()),
        TestCard().data,
        now=issuer.clock(),
        crl_url=issuer.settings.crl_url,
        ocsp_url=issuer.settings.ocsp_url,
    )
    device = Device(key=stranger.private_key)
    status, body = await issuer.renew(device, b64url_encode(stranger.certificate_chain[0]))
    assert (status, error_code(body)) == (404, "credential_unknown")


async def test_renewal_needs_the_certificate_key(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    status, body = await issuer.renew(Device(), enrolled["certificateChain"][0])
    assert (status, error_code(body)) == (400, "signature_invalid")


async def test_renewal_after_the_card_expired_is_refused(issuer: Issuer) -> None:
    now = issuer.clock()
    card = TestCard(expiry=f"{now.month:02d}/{now.year % 100:02d}")
    _, device, enrolled = await issuer.enrolled(card)
    # The certificate ends with the card's expiry month.
    assert leaf_of(enrolled).not_valid_after_utc.month == now.month
    issuer.clock.now = datetime(
        now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 0, 1, tzinfo=UTC
    )
    status, body = await issuer.renew(device, enrolled["certificateChain"][0])
    assert (status, error_code(body)) == (422, "card_expired")


async def test_renewal_of_an_expired_certificate_is_refused(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    issuer.clock.advance(days=issuer.settings.certificate_validity.days + 1)
    status, body = await issuer.renew(device, enrolled["certificateChain"][0])
    assert (status, error_code(body)) == (400, "cert_expired")


async def test_renewal_challenge_is_single_use(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    _, other_device, other = await issuer.enrolled()
    challenge = await issuer.challenge()
    status, _ = await issuer.renew(device, enrolled["certificateChain"][0], challenge=challenge)
    assert status == 201
    status, body = await issuer.renew(
        other_device, other["certificateChain"][0], challenge=challenge
    )
    assert error_code(body) == "challenge_invalid"


async def test_renewal_signature_is_bound_to_the_renewal_purpose(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    challenge = await issuer.challenge()
    response = await issuer.client.post(
        "/v1/credentials/renew",
        json={
            "certificate": enrolled["certificateChain"][0],
            "challenge": challenge,
            "signature": device.sign(PopPurpose.ENROLLMENT, issuer.origin, challenge),
        },
    )
    assert error_code(await response.json()) == "signature_invalid"


async def test_renewal_keeps_the_subject(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    _, renewed = await issuer.renew(device, enrolled["certificateChain"][0])
    common_name = leaf_of(renewed).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == enrolled["credentialId"]
