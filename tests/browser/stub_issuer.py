"""A minimal issuer for testing the browser side on its own (docs/interfaces.md, 1-3).

It serves ``service_worker/`` the way the real issuer should (paths, content types,
headers: see docs/browser.md, "What the issuer serves") and implements enrollment,
renewal and the status endpoint with the ``certs`` core, with state in memory. The real
issuer (``issuer/``) replaces it in the end-to-end tests; this one keeps the JavaScript
testable in isolation and lets the tests drive edge cases (short validity, revocation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certs.card_data import CardData
from certs.card_digest import card_data_digest
from certs.credential import new_credential_id
from certs.dev_pki import DevPki
from certs.errors import CardcertError
from certs.keys import der_fingerprint, load_p256_spki
from certs.profile import CardCertificateRequest, mint_card_certificate
from certs.proof_of_possession import PopPurpose, verify_proof_of_possession
from certs.wire import b64url_decode, b64url_encode

__all__ = ["SERVICE_WORKER_DIR", "StubIssuer", "add_browser_routes", "page_headers"]

SERVICE_WORKER_DIR = Path(__file__).resolve().parents[2] / "service_worker"

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".html": "text/html",
}


def page_headers() -> dict[str, str]:
    """Headers of the issuer's own pages (/enroll, /pay)."""
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin",
        "Cache-Control": "no-cache",
    }


def _file(path: Path, headers: dict[str, str] | None = None) -> web.FileResponse:
    response = web.FileResponse(path, headers=headers or {})
    response.content_type = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    return response


def add_browser_routes(app: web.Application, directory: Path = SERVICE_WORKER_DIR) -> None:
    """/sw.js, /static/*, /enroll, /pay (GET; POST redirects to GET) from ``directory``."""

    async def service_worker(request: web.Request) -> web.StreamResponse:
        # No CSP on the worker script: a CSP here would govern the worker's own fetches.
        return _file(
            directory / "sw.js",
            {
                "Cache-Control": "no-cache",
                "Service-Worker-Allowed": "/pay",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (directory / "static" / name).resolve()
        if path.parent != (directory / "static").resolve() or not path.is_file():
            raise web.HTTPNotFound()
        return _file(path, {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    async def enroll(request: web.Request) -> web.StreamResponse:
        return _file(directory / "enroll.html", page_headers())

    async def pay(request: web.Request) -> web.StreamResponse:
        return _file(directory / "pay.html", page_headers())

    async def pay_post(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        text = form.get("request")
        if not isinstance(text, str) or not text:
            raise web.HTTPBadRequest()
        encoded = b64url_encode(text.encode("utf-8"))
        raise web.HTTPSeeOther(f"/pay?request={encoded}")

    app.router.add_get("/sw.js", service_worker)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/enroll", enroll)
    app.router.add_get("/pay", pay)
    app.router.add_post("/pay", pay_post)


@dataclass
class _Certificate:
    der: bytes
    credential_id: str
    public_key_spki: bytes
    card: CardData
    secret_digest: bytes
    revoked: bool = False


@dataclass
class StubIssuer:
    """In-memory issuer state; :meth:`app` builds the aiohttp application."""

    origin: str
    name: str = "Stub Bank"
    validity: timedelta = timedelta(days=90)
    status_freshness: int = 86400
    frictionless: dict[str, str] | None = None
    files: Path = SERVICE_WORKER_DIR
    pki: DevPki = field(default_factory=lambda: DevPki.create(now=datetime.now(UTC)))
    codes: dict[str, CardData] = field(default_factory=dict)
    used_codes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    challenges: set[str] = field(default_factory=set)
    certificates: dict[str, _Certificate] = field(default_factory=dict)  # by fingerprint

    def add_card(self, pan: str, expiry: str = "12/30", security_code: str = "123") -> str:
        """Register a card; returns its activation code."""
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
        self.codes[code] = CardData.parse(pan=pan, expiry=expiry, security_code=security_code)
        return code

    def revoke(self, fingerprint: str) -> None:
        self.certificates[fingerprint].revoked = True

    def metadata(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "version": 1,
            "issuerName": self.name,
            "issuerOrigin": self.origin,
            "caCertificate": self.pki.issuer_ca.public_bytes(serialization.Encoding.PEM).decode(),
            "binPrefixes": sorted({card.bin for card in self.codes.values()}),
            "payUrl": f"{self.origin}/pay",
            "enrollUrl": f"{self.origin}/enroll",
            "ocspUrl": f"{self.origin}/ocsp",
            "crlUrl": f"{self.origin}/crl",
            "statusUrl": f"{self.origin}/status/{{fingerprint}}",
            "serviceWorker": {"url": f"{self.origin}/sw.js", "scope": "/pay"},
            "statusFreshnessSeconds": self.status_freshness,
        }
        if self.frictionless is not None:
            body["frictionless"] = self.frictionless
        return body

    def ocsp_response(self, certificate: _Certificate) -> bytes:
        now = datetime.now(UTC)
        cert = x509.load_der_x509_certificate(certificate.der)
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=self.pki.issuer_ca,
                algorithm=hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID, not a signature
                cert_status=(
                    ocsp.OCSPCertStatus.REVOKED if certificate.revoked else ocsp.OCSPCertStatus.GOOD
                ),
                this_update=now,
                next_update=now + timedelta(seconds=self.status_freshness),
                revocation_time=now if certificate.revoked else None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.pki.issuer_ca)
        )
        response = builder.sign(self.pki.issuer_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def _mint(
        self, spki: bytes, card: CardData, secret_digest: bytes, credential_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        cert = mint_card_certificate(
            CardCertificateRequest(
                public_key=load_p256_spki(spki),
                credential_id=credential_id,
                card_expiry=card.expiry,
                card_data_digest=secret_digest,
            ),
            issuer_key=self.pki.issuer_key,
            issuer_ca=self.pki.issuer_ca,
            crl_url=f"{self.origin}/crl",
            ocsp_url=f"{self.origin}/ocsp",
            now=now,
            validity=self.validity,
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        record = _Certificate(der, credential_id, spki, card, secret_digest)
        fingerprint = der_fingerprint(der)
        self.certificates[fingerprint] = record
        return {
            "credentialId": credential_id,
            "certificateChain": [
                b64url_encode(der),
                b64url_encode(self.pki.issuer_ca.public_bytes(serialization.Encoding.DER)),
            ],
            "fingerprint": fingerprint,
            "notAfter": cert.not_valid_after_utc.isoformat(),
            "issuerName": self.name,
            "last4": card.last4,
            "bin": card.bin,
            "status": b64url_encode(self.ocsp_response(record)),
        }

    def app(self) -> web.Application:
        app = web.Application()
        add_browser_routes(app, self.files)

        def fail(code: str, status: int = 400) -> web.Response:
            return web.json_response({"error": {"code": code, "message": code}}, status=status)

        async def metadata(request: web.Request) -> web.Response:
            return web.json_response(self.metadata())

        async def challenge(request: web.Request) -> web.Response:
            value = b64url_encode(secrets.token_bytes(32))
            self.challenges.add(value)
            expires = datetime.now(UTC) + timedelta(minutes=5)
            return web.json_response({"challenge": value, "expiresAt": expires.isoformat()})

        def take_challenge(value: object) -> str | None:
            if isinstance(value, str) and value in self.challenges:
                self.challenges.discard(value)
                return value
            return None

        async def enrollment(request: web.Request) -> web.Response:
            body = await request.json()
            code = body.get("activationCode")
            challenge_value = take_challenge(body.get("challenge"))
            if challenge_value is None:
                return fail("challenge_invalid")
            try:
                spki = b64url_decode(body["publicKey"], error=ValueError, what="publicKey")
                secret = b64url_decode(body["cardDataSecret"], error=ValueError, what="secret")
                signature = b64url_decode(body["signature"], error=ValueError, what="signature")
                key = load_p256_spki(spki)
                verify_proof_of_possession(
                    key,
                    signature,
                    purpose=PopPurpose.ENROLLMENT,
                    origin=self.origin,
                    challenge=challenge_value,
                )
            except (CardcertError, ValueError, KeyError):
                return fail("proof_of_possession_invalid")
            if code in self.used_codes:
                used_spki, fingerprint = self.used_codes[code]
                if used_spki != spki:
                    return fail("activation_code_used", 409)
                existing = self.certificates[fingerprint]
                return web.json_response(self._describe(existing, fingerprint))
            card = self.codes.get(code)
            if card is None:
                return fail("activation_code_invalid", 404)
            answer = self._mint(spki, card, card_data_digest(card, secret), new_credential_id())
            self.used_codes[code] = (spki, answer["fingerprint"])
            return web.json_response(answer, status=201)

        async def renew(request: web.Request) -> web.Response:
            body = await request.json()
            challenge_value = take_challenge(body.get("challenge"))
            if challenge_value is None:
                return fail("challenge_invalid")
            try:
                der = b64url_decode(body["certificate"], error=ValueError, what="certificate")
                current = self.certificates[der_fingerprint(der)]
                signature = b64url_decode(body["signature"], error=ValueError, what="signature")
                verify_proof_of_possession(
                    load_p256_spki(current.public_key_spki),
                    signature,
                    purpose=PopPurpose.RENEWAL,
                    origin=self.origin,
                    challenge=challenge_value,
                )
            except (CardcertError, ValueError, KeyError):
                return fail("proof_of_possession_invalid")
            if current.revoked:
                return fail("cert_revoked", 409)
            return web.json_response(
                self._mint(
                    current.public_key_spki,
                    current.card,
                    current.secret_digest,
                    current.credential_id,
                )
            )

        async def status(request: web.Request) -> web.Response:
            record = self.certificates.get(request.match_info["fingerprint"])
            if record is None:
                return fail("not_found", 404)
            return web.Response(
                body=self.ocsp_response(record), content_type="application/ocsp-response"
            )

        async def blank(request: web.Request) -> web.Response:
            # A page on the issuer origin for in-browser unit tests of the modules.
            return web.Response(
                text="<!doctype html><title>blank</title>",
                content_type="text/html",
                headers=page_headers(),
            )

        app.router.add_get("/blank", blank)
        app.router.add_get("/.well-known/cardcert-issuer", metadata)
        app.router.add_post("/v1/enrollment/challenge", challenge)
        app.router.add_post("/v1/enrollment", enrollment)
        app.router.add_post("/v1/credentials/renew", renew)
        app.router.add_get("/status/{fingerprint}", status)
        return app

    def _describe(self, record: _Certificate, fingerprint: str) -> dict[str, Any]:
        cert = x509.load_der_x509_certificate(record.der)
        return {
            "credentialId": record.credential_id,
            "certificateChain": [
                b64url_encode(record.der),
                b64url_encode(self.pki.issuer_ca.public_bytes(serialization.Encoding.DER)),
            ],
            "fingerprint": fingerprint,
            "notAfter": cert.not_valid_after_utc.isoformat(),
            "issuerName": self.name,
            "last4": record.card.last4,
            "bin": record.card.bin,
            "status": b64url_encode(self.ocsp_response(record)),
        }
