"""Revocation status: OCSP (POST and GET), the stapling endpoint and the CRL."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID
from pytest_aiohttp import AiohttpClient

from certs.dev_pki import DevPki
from certs.revocation import CertStatus, StatusSource, read_ocsp_response
from servicekit import inline_sqlite
from servicekit.errors import DatabaseBusy
from tests.issuer.conftest import issuer_settings, start_issuer
from tests.issuer.helpers import FakeClock, Issuer, error_code, leaf_of


def _request(
    certificate: x509.Certificate,
    issuer_ca: x509.Certificate,
    *,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificate,
        issuer_ca,
        algorithm or hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _issuer_ca(issuer: Issuer) -> x509.Certificate:
    return x509.load_pem_x509_certificate(issuer.issuer_pem.read_bytes())


async def _post(issuer: Issuer, der: bytes) -> ocsp.OCSPResponse:
    response = await issuer.client.post(
        "/ocsp", data=der, headers={"Content-Type": "application/ocsp-request"}
    )
    assert response.status == 200
    assert response.content_type == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(await response.read())


async def test_ocsp_post_and_get_answer_good_then_revoked(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    leaf, issuer_ca = leaf_of(enrolled), _issuer_ca(issuer)
    request = _request(leaf, issuer_ca)

    good = await _post(issuer, request)
    assert good.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert good.serial_number == leaf.serial_number
    assert isinstance(good.hash_algorithm, hashes.SHA1)
    # Signed by the issuer CA itself, identified by key hash (RFC 6960 4.2.2.2, 4.2.1).
    assert good.responder_name is None
    assert good.responder_key_hash is not None
    assert good.certificates == []
    checked = read_ocsp_response(
        await (await issuer.client.post("/ocsp", data=request)).read(),
        certificate=leaf,
        issuer_ca=issuer_ca,
        now=issuer.clock(),
        max_age=issuer.settings.status_freshness,
        source=StatusSource.LIVE,
    )
    assert checked.status is CertStatus.GOOD
    assert checked.next_update is not None
    assert checked.this_update is not None
    assert checked.next_update - checked.this_update == issuer.settings.status_freshness

    await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")

    revoked = await _post(issuer, request)
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.key_compromise
    encoded = quote(base64.b64encode(request).decode("ascii"), safe="")
    response = await issuer.client.get(f"/ocsp/{encoded}")
    by_get = ocsp.load_der_ocsp_response(await response.read())
    assert by_get.certificate_status is ocsp.OCSPCertStatus.REVOKED


async def test_a_post_body_sent_in_chunks_is_read_whole(issuer: Issuer) -> None:
    """A request that arrives in pieces (chunked, a few bytes at a time) is answered, not
    cut short into malformedRequest."""
    _, _, enrolled = await issuer.enrolled()
    request = _request(leaf_of(enrolled), _issuer_ca(issuer))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(request), 7):
            yield request[start : start + 7]
            await asyncio.sleep(0)

    response = await issuer.client.post(
        "/ocsp", data=pieces(), headers={"Content-Type": "application/ocsp-request"}
    )
    answer = ocsp.load_der_ocsp_response(await response.read())
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD


async def test_revocation_shows_at_once_despite_the_status_cache(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    url = f"/status/{enrolled['fingerprint']}"
    first = await (await issuer.client.get(url)).read()
    second = await (await issuer.client.get(url)).read()
    assert first == second  # served from the per-process cache
    await issuer.revoke_credential(enrolled["credentialId"], "cessationOfOperation")
    response = await issuer.client.get(url)
    parsed = ocsp.load_der_ocsp_response(await response.read())
    assert parsed.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason is x509.ReasonFlags.cessation_of_operation
    assert response.headers["Cache-Control"] == "no-cache"


async def test_unspecified_reason_is_left_out(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    await issuer.revoke_credential(enrolled["credentialId"], "unspecified")
    response = await issuer.client.get(f"/status/{enrolled['fingerprint']}")
    parsed = ocsp.load_der_ocsp_response(await response.read())
    assert parsed.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason is None  # RFC 5280 5.3.1


async def test_ocsp_nonce_is_echoed_and_sha256_cert_ids_work(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    nonce = secrets.token_bytes(16)
    parsed = await _post(
        issuer,
        _request(leaf_of(enrolled), _issuer_ca(issuer), algorithm=hashes.SHA256(), nonce=nonce),
    )
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert isinstance(parsed.hash_algorithm, hashes.SHA256)
    echoed = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value
    assert echoed.nonce == nonce


async def test_ocsp_unknown_serial_unauthorized_issuer_and_malformed(issuer: Issuer) -> None:
    _, _, enrolled = await issuer.enrolled()
    issuer_ca = _issuer_ca(issuer)
    ours = ocsp.load_der_ocsp_request(_request(leaf_of(enrolled), issuer_ca))
    name_hash, key_hash = ours.issuer_name_hash, ours.issuer_key_hash
    unknown = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash, 12345, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert (await _post(issuer, unknown)).certificate_status is ocsp.OCSPCertStatus.UNKNOWN

    other = DevPki.create(now=issuer.clock())
    foreign = _request(leaf_of(enrolled), other.issuer_ca)
    assert (await _post(issuer, foreign)).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED

    for junk in (b"", b"\x30\x03\x02\x01\x00", secrets.token_bytes(100)):
        parsed = await _post(issuer, junk)
        assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    response = await issuer.client.get("/ocsp/not*base64")
    parsed = ocsp.load_der_ocsp_response(await response.read())
    assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    too_long = _request(leaf_of(enrolled), issuer_ca, nonce=b"\x01" * 33)
    parsed = await _post(issuer, too_long)
    assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


async def test_status_for_an_unknown_fingerprint(issuer: Issuer) -> None:
    for fingerprint in ("A" * 43, "short", "A" * 44, "+" * 43):
        response = await issuer.client.get(f"/status/{fingerprint}")
        assert response.status == 404
        assert error_code(await response.json()) == "credential_unknown"


async def test_crl_lists_revoked_and_superseded_certificates(issuer: Issuer) -> None:
    issuer_ca = _issuer_ca(issuer)
    empty = x509.load_der_x509_crl(await (await issuer.client.get("/crl")).read())
    assert empty.is_signature_valid(issuer_ca.public_key())  # type: ignore[arg-type]
    assert len(empty) == 0

    _, device, renewed_one = await issuer.enrolled()
    _, _, revoked_one = await issuer.enrolled()
    _, _, kept = await issuer.enrolled()
    status, _ = await issuer.renew(device, renewed_one["certificateChain"][0])
    assert status == 201
    await issuer.revoke_credential(revoked_one["credentialId"], "keyCompromise")

    response = await issuer.client.get("/crl")
    assert response.content_type == "application/pkix-crl"
    crl = x509.load_der_x509_crl(await response.read())
    assert crl.is_signature_valid(issuer_ca.public_key())  # type: ignore[arg-type]
    assert crl.issuer == issuer_ca.subject
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > empty.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    aki = crl.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    ski = issuer_ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest  # type: ignore[attr-defined]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == issuer.settings.crl_validity
    reasons = {
        entry.serial_number: entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        for entry in crl
    }
    assert reasons == {
        leaf_of(renewed_one).serial_number: x509.ReasonFlags.superseded,
        leaf_of(revoked_one).serial_number: x509.ReasonFlags.key_compromise,
    }
    assert leaf_of(kept).serial_number not in reasons

    # Unchanged: the same CRL is served again; a revocation makes a new, higher number.
    again = x509.load_der_x509_crl(await (await issuer.client.get("/crl")).read())
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number
    await issuer.revoke_credential(kept["credentialId"], "affiliationChanged")
    newer = x509.load_der_x509_crl(await (await issuer.client.get("/crl")).read())
    assert newer.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
    assert len(newer) == 3


async def test_crl_is_re_signed_after_the_refresh_interval(issuer: Issuer) -> None:
    first = x509.load_der_x509_crl(await (await issuer.client.get("/crl")).read())
    issuer.clock.advance(seconds=issuer.settings.crl_refresh + 1)
    second = x509.load_der_x509_crl(await (await issuer.client.get("/crl")).read())
    assert second.last_update_utc > first.last_update_utc
    number = second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


async def test_ocsp_says_try_later_while_sqlite_stays_locked(
    aiohttp_client: AiohttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the status lookup runs inline (servicekit.inline_sqlite); when the file
    stays locked past the lock timeout it raises service_unavailable, and the OCSP
    responder answers tryLater (RFC 6960 2.3) as it does while PostgreSQL is down."""
    url = f"sqlite+aiosqlite:///{tmp_path}/issuer.sqlite3"
    issuer = await start_issuer(
        aiohttp_client, issuer_settings(tmp_path / "issuer", url), FakeClock()
    )
    assert issuer.res.sql.inline is not None
    _, _, enrolled = await issuer.enrolled()
    request = _request(leaf_of(enrolled), _issuer_ca(issuer))
    assert (await _post(issuer, request)).certificate_status is ocsp.OCSPCertStatus.GOOD

    async def locked(action: object, timeout: float) -> object:
        raise DatabaseBusy("the database is busy")  # what _when_unlocked raises

    monkeypatch.setattr(inline_sqlite, "_when_unlocked", locked)
    parsed = await _post(issuer, request)
    assert parsed.response_status is ocsp.OCSPResponseStatus.TRY_LATER
    response = await issuer.client.get(f"/status/{enrolled['fingerprint']}")
    assert response.status == 503
    assert error_code(await response.json()) == "service_unavailable"
