"""loadtests.seed --credentials: bulk-enrolled cardholders are real ones.

Seeds an issuer database (SQLite, development keys) in a subprocess, then checks what an
enrollment through the API would have left: one consumed activation code, one active
credential, one good certificate and an audit event per card; and that every pool-file
cardholder verifies end to end with the pure core: path to the issuer's root, its stapled
OCSP response, the signature, and the card data it was enrolled with.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from certs.card_data import CardData
from certs.chain import ChainVerifier, load_certificate
from certs.revocation import CertStatus, StatusSource, read_ocsp_response
from certs.verification import verify_presentation
from loadtests.cardholders import read_pool

ROOT = Path(__file__).resolve().parents[2]
CARDS = 25


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("seed")
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env.update({"PYTHONPATH": str(ROOT), "ISSUER_DATA_DIR": str(work / "issuer")})
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.seed", "--cards", str(CARDS), "--batch", "10",
         "--credentials", "--pool-out", str(work / "pool.jsonl")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"seeded {CARDS} cards with credentials" in done.stderr
    return work


def _count(database: Path, sql: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_every_card_has_what_an_enrollment_leaves(seeded: Path) -> None:
    database = seeded / "issuer" / "issuer.sqlite3"
    assert _count(database, "SELECT count(*) FROM issuer_cards") == CARDS
    assert (
        _count(database, "SELECT count(*) FROM issuer_credentials WHERE status = 'active'") == CARDS
    )
    assert (
        _count(database, "SELECT count(*) FROM issuer_certificates WHERE status = 'good'") == CARDS
    )
    consumed = "SELECT count(*) FROM issuer_activation_codes WHERE consumed_at IS NOT NULL"
    assert _count(database, consumed) == CARDS
    linked = (
        "SELECT count(*) FROM issuer_credentials c JOIN issuer_activation_codes a"
        " ON a.id = c.activation_code_id AND a.credential_id = c.id"
        " AND a.public_key_sha256 = c.public_key_sha256"
    )
    assert _count(database, linked) == CARDS
    seeded_events = "SELECT count(*) FROM issuer_audit_events WHERE action = 'credential.seeded'"
    assert _count(database, seeded_events) == CARDS


def test_every_pooled_cardholder_verifies_end_to_end(seeded: Path) -> None:
    holders = read_pool(seeded / "pool.jsonl", CARDS)
    assert len({h.credential_id for h in holders}) == CARDS
    root = x509.load_pem_x509_certificate((seeded / "issuer" / "root-ca.pem").read_bytes())
    chains = ChainVerifier([root])
    now = datetime.now(UTC)
    for number, holder in enumerate(holders):
        issuer_ca = load_certificate(holder.credential.certificate_chain[1])
        status = read_ocsp_response(
            holder.staple or b"",
            certificate=load_certificate(holder.credential.certificate_chain[0]),
            issuer_ca=issuer_ca,
            now=now,
            max_age=timedelta(days=1),
            source=StatusSource.STAPLED,
        )
        assert status.status is CertStatus.GOOD
        card = CardData.parse(
            pan=holder.card["pan"],
            expiry=holder.card["expiry"],
            security_code=holder.card["securityCode"],
        )
        nonce = f"nonce-{number:04d}-abcdefghijklmnop"
        presentation = holder.credential.present(
            merchant_origin="http://shop.localhost:8002",
            merchant_name="Load Shop",
            amount="1.00",
            currency="EUR",
            checkout_id=f"co_{number}",
            nonce=nonce,
            signed_at=now,
            status=holder.staple,
        )
        verified = verify_presentation(
            presentation=presentation,
            expected_origin="http://shop.localhost:8002",
            expected_amount="1.00",
            expected_currency="EUR",
            expected_checkout_id=f"co_{number}",
            expected_nonce=nonce,
            expected_merchant_name="Load Shop",
            card_data=card,
            chain_verifier=chains,
            revocation=status,
            nonce_unused=True,
            now=now,
        )
        assert verified.transaction.checkout_id == f"co_{number}"


def test_a_pool_sample_is_drawn_from_the_whole_file(seeded: Path) -> None:
    """Reservoir sampling: small samples of the file differ from run to run and are not
    just its first lines."""
    first_lines = {h.credential_id for h in read_pool(seeded / "pool.jsonl", CARDS)[:3]}
    samples = [
        frozenset(h.credential_id for h in read_pool(seeded / "pool.jsonl", 3)) for _ in range(8)
    ]
    assert len(set(samples)) > 1
    assert any(sample != first_lines for sample in samples)


def test_a_pool_file_without_credentials_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pool file is cardholders with keys: asking for one without --credentials is
    refused before anything is seeded."""
    from loadtests.seed import main

    with pytest.raises(SystemExit) as raised:
        main(["--cards", "1", "--pool-out", str(tmp_path / "pool.jsonl")])
    assert raised.value.code == 2
    assert "--pool-out needs --credentials" in capsys.readouterr().err
    assert not (tmp_path / "pool.jsonl").exists()
