"""Schema-driven API tests (issue 7): schemathesis against both services' served OpenAPI.

Each service runs for real on 127.0.0.1 (aiohttp in its own event loop and thread, SQLite
in a temporary directory); schemathesis loads the document the service serves at
``GET /openapi.json`` and sends generated requests, schema-valid and schema-violating, to
every operation (examples, coverage and fuzzing phases, a bounded number per operation).
Every answer must:

* not be a 5xx;
* conform to the document: a documented status code, content type, headers and response
  schema (schemathesis' checks, including its probes with undeclared methods and
  malformed content types);
* when it is a 4xx, be ``{"error": {"code", "message"}}`` whose code is a stable code of
  the project's error hierarchy, answered with that error's HTTP status, and listed in the
  operation's ``x-error-codes``.

Path parameters are half the time replaced by identifiers that exist (a registered card,
an enrolled credential, a checkout, an evidence record), so the success responses are
validated against their schemas with real data, not only the 404 paths.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from hypothesis import settings
from hypothesis import strategies as st

from certs.dev_pki import DevPki
from certs.errors import all_error_classes
from issuer import errors as issuer_errors
from merchant import errors as merchant_errors
from servicekit import errors as service_errors
from tests import figures
from tests.hardening.live_app import LiveApp

_ERROR_MODULES = (issuer_errors, merchant_errors, service_errors)

# Per operation (fuzzing phase; the examples and coverage phases add their own cases).
# In the suite: 50 and a fixed seed (reproducible); ``make fuzz`` sets
# CARDCERT_FUZZ_EXAMPLES: a tenth of it per operation (each is an HTTP round trip) with
# random seeds, as tests/hardening/test_parser_fuzz.py does.
_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")
MAX_EXAMPLES = max(50, int(_EXPLORE) // 10) if _EXPLORE else 50


@dataclass
class LiveService(LiveApp):
    """A service under schemathesis, with what its setup created and what it answered."""

    known: dict[str, str] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)


def _error_statuses() -> dict[str, set[int]]:
    """Every stable error code of the project's hierarchy, with the HTTP status it maps to
    (the error modules of both services are imported above, so all classes are loaded)."""
    assert all(module.__all__ for module in _ERROR_MODULES)
    statuses: dict[str, set[int]] = {}
    for cls in all_error_classes():
        statuses.setdefault(cls.code, set()).add(cls.http_status)
    return statuses


def _ocsp_requests(issuer_ca: x509.Certificate) -> st.SearchStrategy[bytes]:
    """OCSP request bodies: well-formed for this issuer (random serials), or arbitrary."""

    def build(serial: int) -> bytes:
        # RFC 6960 section 4.1; the CertID hash is SHA-1 as RFC 5019 profiles it.
        builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            issuer_name_hash=_name_hash(issuer_ca),
            issuer_key_hash=_key_hash(issuer_ca),
            serial_number=serial,
            algorithm=hashes.SHA1(),  # noqa: S303 - CertID, not a signature
        )
        return builder.build().public_bytes(serialization.Encoding.DER)

    return st.one_of(st.integers(min_value=1, max_value=2**159).map(build), st.binary(max_size=300))


def _name_hash(ca: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - CertID
    digest.update(ca.subject.public_bytes())
    return digest.finalize()


def _key_hash(ca: x509.Certificate) -> bytes:
    # SHA-1 of the subjectPublicKey BIT STRING: RFC 5280 method 1 key identifier.
    return x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest


@pytest.fixture(scope="module")
def issuer_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The issuer with the repository's Service Worker files, one back-office key, one
    enrolled card; generous per-client limits (test_abuse_limits proves the limits)."""
    from issuer.api_keys import create_api_key
    from issuer.app import create_app
    from issuer.app_keys import RESOURCES
    from issuer.settings import IssuerSettings
    from tests.issuer.helpers import Device, TestCard

    data_dir = tmp_path_factory.mktemp("issuer")
    settings = IssuerSettings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir}/issuer.sqlite3",
        sweep_interval=3600.0,
        enroll_rate_per_minute=100_000,
        enroll_burst=100_000,
        enroll_max_failures=100_000,
    )
    service = LiveService.start(create_app(settings))
    try:
        api_key = service.run(
            create_api_key(service.app[RESOURCES], name="schema", now=datetime.now(UTC))
        )
        auth = {"Authorization": f"Bearer {api_key}"}
        with requests.Session() as http:
            card = http.post(f"{service.url}/v1/cards", json=TestCard().json(), headers=auth)
            card.raise_for_status()
            registered = card.json()
            challenge = http.post(f"{service.url}/v1/enrollment/challenge", json={}).json()
            device = Device()
            enrolled = http.post(
                f"{service.url}/v1/enrollment",
                json=device.enrollment_body(
                    registered["activationCode"], settings.public_origin, challenge["challenge"]
                ),
            )
            enrolled.raise_for_status()
            service.document = http.get(f"{service.url}/openapi.json").json()
        service.known = {
            "card_id": registered["cardId"],
            "credential_id": enrolled.json()["credentialId"],
            "fingerprint": enrolled.json()["fingerprint"],
            "path": "enroll.js",
        }
        issuer_ca = x509.load_pem_x509_certificate((data_dir / "issuer-ca.pem").read_bytes())
        schemathesis.openapi.media_type("application/ocsp-request", _ocsp_requests(issuer_ca))
        service.known["apiKey"] = api_key
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def merchant_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The merchant with its demo shop, one merchant account, the test issuer's metadata,
    one pending checkout and one authenticated checkout with its evidence."""
    from merchant.app import create_app
    from merchant.app_keys import ENGINE, STORE
    from merchant.issuer_directory import parse_issuer_metadata, save_issuer
    from merchant.settings import Settings
    from servicekit.api_keys import generate_api_key, hash_api_key
    from tests.merchant.conftest import (
        RETURN_URL,
        SHOP_ORIGIN,
        card_json,
        issue,
        issuer_metadata,
        present,
    )

    data_dir = tmp_path_factory.mktemp("merchant")
    now = datetime.now(UTC)
    pki = DevPki.create(now=now - timedelta(days=1))
    root_pem = data_dir / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir}/merchant.sqlite3",
        trust_roots=(root_pem,),
        card_data_key=bytes(range(32)),
        public_origin=SHOP_ORIGIN,
        shop_enabled=True,
    )
    service = LiveService.start(create_app(settings))
    try:
        api_key = generate_api_key("mk")
        service.run(
            service.app[STORE].create_merchant(
                merchant_id="mer_schema",
                name="Schema Merchant",
                allowed_origins=(SHOP_ORIGIN,),
                key_hash=hash_api_key(api_key),
                now=now,
            )
        )
        service.run(
            save_issuer(
                service.app[ENGINE],
                parse_issuer_metadata(issuer_metadata(pki), roots=[pki.root]),
                source="test",
                now=now,
            )
        )
        credential = issue(pki, ocsp_url="http://127.0.0.1:9/ocsp")
        staple = pki.good_status(
            credential.certificate,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(days=1),
        )
        auth = {"Authorization": f"Bearer {api_key}"}
        body = {
            "amount": "12.30",
            "currency": "EUR",
            "returnUrl": RETURN_URL,
            "card": {"bin": "411111", "last4": "1111"},
        }
        with requests.Session() as http:
            pending = http.post(f"{service.url}/v1/checkouts", json=body, headers=auth).json()
            done = http.post(f"{service.url}/v1/checkouts", json=body, headers=auth).json()
            verified = http.post(
                f"{service.url}/v1/checkouts/{done['checkoutId']}/verify",
                json={
                    "presentation": present(credential, done, staple=staple).to_json(),
                    "cardData": card_json(),
                },
                headers=auth,
            ).json()
            assert verified["verdict"]["result"] == "authenticated", verified
            service.document = http.get(f"{service.url}/openapi.json").json()
        service.known = {
            "checkoutId": pending["checkoutId"],
            "evidenceId": verified["verdict"]["evidenceId"],
            "apiKey": api_key,
        }
        yield service
    finally:
        service.stop()


def _schema(service: LiveService, scheme: str) -> Any:
    """The served document, loaded by schemathesis with the service's API key."""
    config = schemathesis.Config.from_dict(
        {
            **({} if _EXPLORE else {"seed": 7}),
            "base-url": service.url,
            "auth": {"openapi": {scheme: {"bearer": service.known["apiKey"]}}},
            "generation": {"max-examples": MAX_EXAMPLES},
            "checks": {
                # Schema-valid input may still fail the services' semantic checks (Luhn,
                # known BINs, signatures, activation codes): a 4xx with a stable code is the
                # right answer there, and _check_error below holds every 4xx to that.
                "positive_data_acceptance": {"enabled": False},
            },
            "operations": [
                {
                    # RFC 6960 section 2.3: OCSP errors are OCSP responses
                    # (malformedRequest, unauthorized) with HTTP 200, not HTTP errors.
                    "include-path-regex": "^/ocsp",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json", config=config)
    known = {name: value for name, value in service.known.items() if name != "apiKey"}

    @schema.hook
    def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
        """Half the cases aim at identifiers that exist, so success answers are checked."""

        def existing(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
            if not parameters:
                return parameters
            return {name: known.get(name, value) for name, value in parameters.items()}

        return st.one_of(strategy, strategy.map(existing))

    return schema


@pytest.fixture(scope="module")
def issuer_schema(issuer_service: LiveService) -> Any:
    return _schema(issuer_service, "apiKey")


@pytest.fixture(scope="module")
def merchant_schema(merchant_service: LiveService) -> Any:
    return _schema(merchant_service, "merchantKey")


ERROR_STATUSES = _error_statuses()
# No example database in the suite (the seed decides); make fuzz keeps failures found.
_BUDGET = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None if _EXPLORE is None else settings.default.database,
)


def _exercise(service: LiveService, name: str, case: Any) -> None:
    """Send ``case``, validate the answer against the document, check any 4xx body."""
    response = case.call_and_validate()
    figures.add("schema examples", name)
    status = response.status_code
    assert status < 500, response.text_lossy()[:500]
    service.answers[f"{status // 100}xx"] += 1
    if 400 <= status < 500:
        _check_error(service, case, response)
        figures.add("cases rejected", f"{name} API (4xx with a stable code)")


def _check_error(service: LiveService, case: Any, response: schemathesis.Response) -> None:
    """A 4xx is the error JSON with a stable, documented code and the code's own status."""
    # schemathesis' Response: lower-case header names, a list of values each.
    [content_type] = response.headers["content-type"]
    assert content_type.startswith("application/json"), content_type
    error = response.json()["error"]
    code = error["code"]
    assert isinstance(error["message"], str)
    assert response.status_code in ERROR_STATUSES.get(code, set()), (code, response.status_code)
    if case.method.upper() != case.operation.method.upper():
        # The coverage phase also sends undeclared methods (TRACE, ...): RFC 9110 section
        # 15.5.6, 405 with the allowed methods.
        assert code == "method_not_allowed", (case.method, case.operation.label, code)
        assert response.headers["allow"], response.headers
        return
    operation = service.document["paths"][case.operation.path][case.method.lower()]
    assert code in operation.get("x-error-codes", []), (case.operation.label, code)
    if code == "rate_limited":
        assert int(response.headers["retry-after"][0]) >= 1


issuer_api = schemathesis.pytest.from_fixture("issuer_schema")
merchant_api = schemathesis.pytest.from_fixture("merchant_schema")


@issuer_api.parametrize()
@_BUDGET
def test_issuer_api_conforms_to_its_openapi_document(
    case: Any, issuer_service: LiveService
) -> None:
    """Every issuer operation: no 5xx, schema-conformant answers, stable documented codes."""
    _exercise(issuer_service, "issuer", case)


@merchant_api.parametrize()
@_BUDGET
def test_merchant_api_conforms_to_its_openapi_document(
    case: Any, merchant_service: LiveService
) -> None:
    """Every merchant operation: no 5xx, schema-conformant answers, stable documented codes."""
    _exercise(merchant_service, "merchant", case)


def test_both_services_were_explored(
    issuer_service: LiveService, merchant_service: LiveService
) -> None:
    """The generated requests reached both success and rejection paths of both services
    (it reads what the two schema tests above recorded, so it runs after them)."""
    if not issuer_service.answers or not merchant_service.answers:
        pytest.skip("the schema tests above were not run in this session")
    for service in (issuer_service, merchant_service):
        assert service.answers["2xx"] > 0, service.answers
        assert service.answers["4xx"] > 0, service.answers
