"""The card-certificate profile is accepted by a generic RFC 5280 validator (``openssl``)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from certs.oids import CARD_DATA_DIGEST_EXTENSION, CARDHOLDER_AUTHENTICATION_EKU
from tests.certs.fresh_chain import FreshChain
from tests.certs.vectors import VECTORS, card_data, manifest

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )


def test_openssl_verify_accepts_a_fresh_chain(fresh_chain: FreshChain) -> None:
    completed = _openssl(
        "verify",
        "-x509_strict",
        "-CAfile",
        fresh_chain.root,
        "-untrusted",
        fresh_chain.issuer,
        fresh_chain.card,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"{fresh_chain.card}: OK"


def test_openssl_prints_the_card_certificate_without_card_data(fresh_chain: FreshChain) -> None:
    completed = _openssl("x509", "-text", "-noout", "-in", fresh_chain.card)
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout
    assert "CA:FALSE" in text
    assert "Digital Signature" in text
    assert CARDHOLDER_AUTHENTICATION_EKU.dotted_string in text
    assert CARD_DATA_DIGEST_EXTENSION.dotted_string in text
    card = card_data("card-data/card.json")
    squashed = "".join(text.split())
    for form in (card.pan, card.pan[:-4], "4111 1111", "4111-1111"):
        assert form not in text
        assert form.replace(" ", "").replace("-", "") not in squashed


def _pinned_epoch(offset_seconds: int = 0) -> str:
    now = datetime.fromisoformat(manifest()["now"]) + timedelta(seconds=offset_seconds)
    return str(int(now.timestamp()))


# (card certificate, seconds after the pinned time, openssl accepts?) for vectors whose
# verdict a generic validator can reach. OpenSSL treats notAfter as exclusive (RFC 5280
# 4.1.2.5 says inclusive, as cardcert does), so the exact notAfter second is left out.
OPENSSL_AGREES = [
    ("certs/card.pem", 0, True),
    ("certs/card-expired.pem", 0, False),
    ("certs/card-not-yet-valid.pem", 0, False),
    ("certs/card-ends-at-now.pem", -1, True),
    ("certs/card-ends-at-now.pem", 1, False),
    ("certs/card-starts-at-now.pem", -1, False),
    ("certs/card-starts-at-now.pem", 0, True),
    ("certs/card-other-network.pem", 0, False),
    ("certs/card-impostor.pem", 0, False),
    ("certs/cert-tampered-digest-byte.pem", 0, False),
    ("certs/cert-tampered-signature-byte.pem", 0, False),
    ("certs/cert-signed-by-root.pem", 0, False),
    ("certs/cert-unknown-critical-extension.pem", 0, False),
    ("certs/cert-digest-extension-critical.pem", 0, False),
]


@pytest.mark.parametrize(("certificate", "offset", "accepted"), OPENSSL_AGREES)
def test_openssl_agrees_with_the_vectors(certificate: str, offset: int, accepted: bool) -> None:
    completed = _openssl(
        "verify",
        "-x509_strict",
        "-attime",
        _pinned_epoch(offset),
        "-CAfile",
        VECTORS / "pki/root-ca.pem",
        "-untrusted",
        VECTORS / "pki/issuer-ca.pem",
        VECTORS / certificate,
    )
    assert (completed.returncode == 0) is accepted, completed.stdout + completed.stderr
