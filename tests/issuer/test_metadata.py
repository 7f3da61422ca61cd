"""Metadata, health, metrics, OpenAPI, and the browser pages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509
from pytest_aiohttp import AiohttpClient

from certs.errors import all_error_classes
from certs.wire import b64url_decode
from issuer import errors as issuer_errors
from issuer.openapi import openapi_document
from issuer.settings import IssuerSettings
from tests.issuer.conftest import start_issuer
from tests.issuer.helpers import FakeClock, Issuer, TestCard, error_code

REPO_SERVICE_WORKER = Path(__file__).resolve().parents[2] / "service_worker"


async def test_well_known_metadata_follows_the_contract(issuer: Issuer) -> None:
    response = await issuer.client.get("/.well-known/cardcert-issuer")
    body = await response.json()
    origin = "http://issuer.localhost:8001"
    assert body == {
        "version": 1,
        "issuerName": "Demo Bank",
        "issuerOrigin": origin,
        "caCertificate": issuer.issuer_pem.read_text(),
        "binPrefixes": ["411111", "555555"],
        "payUrl": f"{origin}/pay",
        "enrollUrl": f"{origin}/enroll",
        "ocspUrl": f"{origin}/ocsp",
        "crlUrl": f"{origin}/crl",
        "statusUrl": f"{origin}/status/{{fingerprint}}",
        "serviceWorker": {"url": f"{origin}/sw.js", "scope": "/pay"},
        "statusFreshnessSeconds": 86400,
    }  # no "frictionless": off unless configured
    ca = x509.load_pem_x509_certificate(body["caCertificate"].encode())
    assert ca.issuer == issuer.root.subject


async def test_metadata_publishes_the_frictionless_policy_when_configured(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock
) -> None:
    """``ISSUER_FRICTIONLESS_LIMITS`` appears as ``frictionless`` in the shape the Service
    Worker reads (service_worker/static/policy.js); without it the field is absent."""
    limited = settings.with_changes(
        frictionless_limits=IssuerSettings.from_env(
            {"ISSUER_FRICTIONLESS_LIMITS": "EUR:30,USD:25.00"}
        ).frictionless_limits
    )
    issuer = await start_issuer(aiohttp_client, limited, clock)
    body = await (await issuer.client.get("/.well-known/cardcert-issuer")).json()
    assert body["frictionless"] == {"EUR": "30.00", "USD": "25.00"}
    document = openapi_document(limited)
    assert "frictionless" in document["components"]["schemas"]["IssuerMetadata"]["properties"]
    assert "frictionless" not in document["components"]["schemas"]["IssuerMetadata"]["required"]


async def test_health(issuer: Issuer) -> None:
    response = await issuer.client.get("/health")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_metrics_count_what_happened(issuer: Issuer) -> None:
    _, device, enrolled = await issuer.enrolled()
    await issuer.renew(device, enrolled["certificateChain"][0])
    await issuer.enroll(device, "0000-0000-0000-0000")
    await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")
    response = await issuer.client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert "issuer_certificates_minted_total 1" in text
    assert "issuer_certificates_renewed_total 1" in text
    assert 'issuer_certificates_revoked_total{reason="superseded"} 1' in text
    assert 'issuer_certificates_revoked_total{reason="keyCompromise"} 1' in text
    assert 'issuer_enrollment_failures_total{code="activation_code_invalid"} 1' in text
    assert (
        'http_request_duration_seconds_count{route="/v1/enrollment",method="POST",status="201"} 1'
        in text
    )


async def test_errors_are_json_with_stable_codes(issuer: Issuer) -> None:
    response = await issuer.client.get("/nowhere")
    assert response.status == 404
    assert await response.json() == {"error": {"code": "not_found", "message": "No such resource."}}
    response = await issuer.client.delete("/v1/cards")
    assert error_code(await response.json()) == "method_not_allowed"


async def test_openapi_documents_every_route_and_error_code(issuer: Issuer) -> None:
    document = await (await issuer.client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://issuer.localhost:8001"}]
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    routes = {
        (route.resource.canonical, route.method)
        for route in issuer.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert routes == documented
    # Every JSON operation declares its schemas; every issuer error code is listed somewhere.
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
    listed = {
        code
        for item in document["paths"].values()
        for op in item.values()
        for code in op.get("x-error-codes", [])
    }
    issuer_codes = {
        cls.code
        for cls in all_error_classes()
        if cls.__module__ == issuer_errors.__name__ and cls.__subclasses__() == []
    }
    assert issuer_codes - listed == {"card_data_unreadable"}  # an internal 500, not API
    schemas = document["components"]["schemas"]
    for name in ("Error", "Enrollment", "IssuedCredential", "Renewal", "CardRegistration"):
        assert name in schemas


def test_openapi_is_built_from_settings() -> None:
    settings = IssuerSettings(public_origin="https://issuer.example", issuer_name="Bank")
    document = openapi_document(settings)
    assert document["servers"] == [{"url": "https://issuer.example"}]
    assert "Bank" in document["info"]["title"]


async def test_browser_pages_are_placeholders_until_the_files_exist(issuer: Issuer) -> None:
    for method, path in (("GET", "/enroll"), ("GET", "/pay"), ("POST", "/pay")):
        response = await issuer.client.request(method, path)
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "not yet available" in await response.text()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cross-Origin-Opener-Policy"] == "unsafe-none"
    response = await issuer.client.get("/sw.js")
    assert response.status == 404
    assert error_code(await response.json()) == "not_found"


async def test_browser_files_are_served_when_present(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock, tmp_path: Path
) -> None:
    files = tmp_path / "service_worker"
    (files / "static").mkdir(parents=True)
    (files / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (files / "enroll.html").write_text("<!doctype html><title>enroll</title>\n")
    (files / "static" / "app.js").write_text("export const x = 1;\n")
    issuer = await start_issuer(
        aiohttp_client, settings.with_changes(service_worker_dir=files), clock
    )
    response = await issuer.client.get("/sw.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "addEventListener" in await response.text()
    assert "<title>enroll</title>" in await (await issuer.client.get("/enroll")).text()
    assert "not yet available" in await (await issuer.client.get("/pay")).text()
    assert "export const" in await (await issuer.client.get("/static/app.js")).text()
    # pay.html dropped in later is picked up without a restart.
    (files / "pay.html").write_text("<!doctype html><title>pay</title>\n")
    assert "<title>pay</title>" in await (await issuer.client.get("/pay")).text()
    assert (await issuer.client.get("/static/missing.js")).status == 404
    (files / "static" / "notes.txt").write_text("not a web asset\n")
    (files / "secret.js").write_text("outside static\n")
    (files / "static" / "link.js").symlink_to(files / "secret.js")
    for refused in ("notes.txt", "link.js"):
        response = await issuer.client.get(f"/static/{refused}")
        assert response.status == 404, refused
    # Raw request lines, so that no client normalises the dots away first.
    for raw in ("/static/..%2fsecret.js", "/static/%2e%2e/secret.js", "/static/../secret.js"):
        assert await _raw_status(issuer, raw) == 404, raw


async def _raw_status(issuer: Issuer, target: str) -> int:
    server = issuer.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_register_card_twice_reports_created_once(issuer: Issuer) -> None:
    card = TestCard()
    first = await issuer.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
    second = await issuer.client.post("/v1/cards", json=card.json(), headers=issuer.auth)
    assert (first.status, second.status) == (201, 200)


async def test_a_posted_pay_request_is_redirected_to_the_get_form(issuer: Issuer) -> None:
    request_json = '{"version":1,"merchantName":"Démo Shop","amount":"12.30"}'
    response = await issuer.client.post(
        "/pay", data={"request": request_json}, allow_redirects=False
    )
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/pay?request=")
    encoded = location.removeprefix("/pay?request=")
    assert b64url_decode(encoded, error=ValueError, what="request").decode() == request_json
    response = await issuer.client.post("/pay", data={}, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/pay")


@pytest.mark.skipif(not (REPO_SERVICE_WORKER / "sw.js").is_file(), reason="no service_worker/")
async def test_the_real_service_worker_files_are_served_as_the_browser_needs(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock
) -> None:
    issuer = await start_issuer(
        aiohttp_client, settings.with_changes(service_worker_dir=REPO_SERVICE_WORKER), clock
    )
    worker = await issuer.client.get("/sw.js")
    assert worker.status == 200
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Cache-Control"] == "no-cache"
    assert "Content-Security-Policy" not in worker.headers
    assert "Service-Worker-Allowed" not in worker.headers
    for path in ("/enroll", "/pay"):
        page = await issuer.client.get(path)
        assert page.status == 200
        assert page.content_type == "text/html"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cross-Origin-Opener-Policy"] == "unsafe-none"
    expected = {
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".svg": "image/svg+xml",
        ".png": "image/png",
        ".webmanifest": "application/manifest+json",
    }
    for file in sorted((REPO_SERVICE_WORKER / "static").iterdir()):
        if file.suffix in expected:
            response = await issuer.client.get(f"/static/{file.name}")
            assert response.status == 200, file.name
            assert response.content_type == expected[file.suffix], file.name
