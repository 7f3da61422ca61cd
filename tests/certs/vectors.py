"""Load the vectors written by ``scripts/make_vectors.py`` and run one case.

``tests/vectors/manifest.json`` lists cases by kind; :func:`run_case` calls the certs API
the way a merchant service does and returns the verdict, raising whatever escapes. Tests
compare ``exc.code`` with the case's ``expected`` and never look at messages.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509

from certs.card_data import CardData
from certs.chain import ChainVerifier, load_certificate
from certs.presentation import Presentation
from certs.revocation import RevocationStatus, StatusSource, read_ocsp_response
from certs.transaction import TransactionDescription
from certs.verification import VerificationPolicy, VerifiedPresentation, verify_presentation

__all__ = [
    "REPOSITORY",
    "VECTORS",
    "Case",
    "card_data",
    "cases",
    "certificate_der",
    "generator_check",
    "ignoring_documented_warnings",
    "manifest",
    "read",
    "run_case",
]

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
REPOSITORY = VECTORS.parent.parent

Case = dict[str, Any]


@cache
def manifest() -> dict[str, Any]:
    return json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def cases(*kinds: str) -> list[Case]:
    return [case for case in manifest()["cases"] if not kinds or case["kind"] in kinds]


def read(path: str) -> bytes:
    return (VECTORS / path).read_bytes()


def certificate_der(path: str) -> bytes:
    """The DER bytes of a vector certificate, without parsing them (some are broken)."""
    data = read(path)
    if path.endswith(".pem"):
        return ssl.PEM_cert_to_DER_cert(data.decode("ascii"))
    return data


def generator_check(script: str) -> subprocess.CompletedProcess[str]:
    """``script --check`` (a checked-in vector generator) run from the repository root:
    exit status 0 when the files it writes are the checked-in ones."""
    return subprocess.run(
        [sys.executable, script, "--check"],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def card_data(path: str) -> CardData:
    values = json.loads(read(path))
    return CardData.parse(
        pan=values["pan"],
        expiry=values["expiry"],
        security_code=values["security_code"],
        name=values.get("name"),
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@contextmanager
def ignoring_documented_warnings(case: Case) -> Iterator[None]:
    """Silence the warnings a case documents in ``ignore_warnings`` (e.g. cryptography on a
    zero serial); both vector manifests use the field."""
    with warnings.catch_warnings():
        for message in case.get("ignore_warnings", ()):
            warnings.filterwarnings("ignore", message=message)
        yield


def _trust_anchors(case: Case) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(read(p)) for p in case["files"]["trust_anchors"]]


def _revocation(case: Case, presentation: Presentation, now: datetime) -> RevocationStatus:
    """The status a merchant would hand to verify_presentation: fetched, stapled or none."""
    max_age = timedelta(seconds=case["status_max_age_seconds"])
    live = case.get("live_status")
    if live is not None:
        return read_ocsp_response(
            read(live["file"]),
            certificate=load_certificate(certificate_der(live["certificate"])),
            issuer_ca=load_certificate(presentation.certificate_chain[1]),
            now=now,
            max_age=max_age,
            source=StatusSource.LIVE,
        )
    if presentation.status is None:
        return RevocationStatus.unavailable()
    return read_ocsp_response(
        presentation.status,
        certificate=load_certificate(presentation.certificate_chain[0]),
        issuer_ca=load_certificate(presentation.certificate_chain[1]),
        now=now,
        max_age=max_age,
        source=StatusSource.STAPLED,
    )


def _verify(case: Case) -> VerifiedPresentation:
    now = _time(case["now"])
    files = case["files"]
    merchant = case["merchant"]
    policy = case["policy"]
    verifier = ChainVerifier(_trust_anchors(case))
    presentation = Presentation.parse(read(files["presentation"]))
    return verify_presentation(
        presentation=presentation,
        expected_origin=merchant["origin"],
        expected_merchant_name=merchant["merchant_name"],
        expected_amount=merchant["amount"],
        expected_currency=merchant["currency"],
        expected_checkout_id=merchant["checkout_id"],
        expected_nonce=merchant["nonce"],
        card_data=card_data(files["card_data"]),
        chain_verifier=verifier,
        revocation=_revocation(case, presentation, now),
        nonce_unused=case["nonce_unused"],
        now=now,
        policy=VerificationPolicy(
            max_signing_age=timedelta(seconds=policy["max_signing_age_seconds"]),
            max_clock_skew=timedelta(seconds=policy["max_clock_skew_seconds"]),
            require_revocation_status=policy["require_revocation_status"],
            allow_frictionless=policy["allow_frictionless"],
        ),
    )


def run_case(case: Case) -> object:
    """Run ``case`` and return what the API returned; errors propagate."""
    files = case["files"]
    with ignoring_documented_warnings(case):
        match case["kind"]:
            case "verify":
                return _verify(case)
            case "parse_presentation":
                return Presentation.parse(read(files["presentation"]))
            case "parse_transaction":
                return TransactionDescription.parse(read(files["transaction"]))
            case "load_certificate":
                return load_certificate(certificate_der(files["certificate"]))
            case "trust_store":
                return ChainVerifier(_trust_anchors(case))
            case kind:
                raise AssertionError(f"unknown vector kind {kind!r}")
