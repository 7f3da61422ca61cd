"""Seed the issuer database with many registered cards (and enrolled credentials), fast.

    python -m loadtests.seed --cards 100000 [--data-dir DIR] [--batch 2000] [--pans-out FILE]
    python -m loadtests.seed --cards 100000 --credentials --pool-out pool.jsonl

With ``--credentials`` every card is also enrolled as the browser would end up: a fresh
P-256 key and card-data secret made here, the keyed card-data digest, a card certificate
minted by the issuer's own code (:func:`issuer.minting.mint_certificate_record`, the issuer
CA key), a consumed activation code, the credential row and an audit event
(``credential.seeded``), all in the same batch transaction as the card. ``--pool-out``
writes one JSON line per cardholder (PAN, private key, secret, certificate chain and a
signed OCSP staple) for the locust file's ``--pool-file``: synthetic test credentials,
which is why their private keys may sit in a file; never point this at a real issuer.

Uses the issuer's own settings (``ISSUER_*`` environment, ``ISSUER_DATABASE_URL``), key
material and :class:`issuer.card_vault.CardVault` (same AES-GCM record and keyed PAN hash
as ``POST /v1/cards``), and inserts ``issuer_cards`` rows in multi-row INSERTs, one
transaction per batch. No activation codes are made (they would expire in minutes): a
seeded card gets one from ``POST /v1/cards`` with the same card data (which answers ``200``
with a fresh code) or ``POST /v1/cards/{id}/activation-codes``. PANs are sequential
Luhn-valid numbers in BIN 411111 from a random start; ``--pans-out`` writes them (test data
only, never real cards). Progress and cards/s go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert

from certs.card_data import CardData
from certs.card_digest import card_data_digest
from certs.credential import new_credential_id
from certs.wire import b64url_encode
from issuer.activation_codes import ActivationCode
from issuer.cards import new_id
from issuer.minting import mint_certificate_record
from issuer.models import (
    ActivationCodeRecord,
    AuditEvent,
    CardRecord,
    CardStatus,
    CertificateRecord,
    CredentialRecord,
    CredentialStatus,
)
from issuer.resources import IssuerResources, open_resources
from issuer.settings import IssuerSettings
from issuer.status_responses import state_of
from loadtests.cardholders import BIN, SECURITY_CODE, expiry_text, luhn_pan

__all__ = ["main", "seed"]


def _progress(done: int, total: int, started: float, *, credentials: bool) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.perf_counter() - started, 1e-9)
    bar = "#" * filled + "." * (width - filled)
    unit = "credentials" if credentials else "cards"
    sys.stderr.write(f"\r[{bar}] {done:>9,}/{total:,} {unit}  {rate:,.0f}/s")
    sys.stderr.flush()


def _enrolled(
    res: IssuerResources, card: CardData, card_id: str, *, now: datetime
) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The rows of one enrolled credential for ``card``, and its pool-file line."""
    key = ec.generate_private_key(ec.SECP256R1())
    secret = secrets.token_bytes(32)
    digest = card_data_digest(card, secret)
    credential_id = new_credential_id()
    code = ActivationCode.generate()
    code_id = new_id("ac")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_hash = hashlib.sha256(spki).hexdigest()
    certificate, record = mint_certificate_record(
        res,
        credential_id=credential_id,
        public_key=key.public_key(),
        card_expiry=card.expiry,
        card_data_digest=digest,
        now=now,
    )
    staple = res.responder.respond(
        serial_number=certificate.serial_number,
        state=state_of(record),
        now=now,
        algorithm=hashes.SHA256(),
    )
    rows: dict[str, list[dict[str, Any]]] = {
        "codes": [
            {
                "id": code_id,
                "card_id": card_id,
                "locator": code.locator,
                "code_hash": res.code_hasher.code_hash(code),
                "created_at": now,
                "expires_at": now,
                "failed_attempts": 0,
                "consumed_at": now,
                "public_key_sha256": key_hash,
                "credential_id": credential_id,
            }
        ],
        "credentials": [
            {
                "id": credential_id,
                "card_id": card_id,
                "activation_code_id": code_id,
                "public_key": spki,
                "public_key_sha256": key_hash,
                "card_data_digest": digest,
                "status": CredentialStatus.ACTIVE.value,
                "created_at": now,
            }
        ],
        "certificates": [record.model_dump()],
        "audit": [
            {
                "at": now,
                "action": "credential.seeded",
                "actor": "seeder",
                "card_id": card_id,
                "credential_id": credential_id,
                "detail": json.dumps({"serial": record.serial}, separators=(",", ":")),
            }
        ],
    }
    line = json.dumps(
        {
            "pan": card.pan,
            "credentialId": credential_id,
            "fingerprint": record.fingerprint,
            "key": b64url_encode(
                key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            "secret": b64url_encode(secret),
            "chain": [b64url_encode(record.der), b64url_encode(res.pki.issuer_ca_der)],
            "staple": b64url_encode(staple),
        },
        separators=(",", ":"),
    )
    return rows, line


_TABLES = {
    "cards": CardRecord,
    "codes": ActivationCodeRecord,
    "credentials": CredentialRecord,
    "certificates": CertificateRecord,
    "audit": AuditEvent,
}


async def seed(
    settings: IssuerSettings,
    cards: int,
    *,
    batch: int,
    pans_out: Path | None,
    credentials: bool = False,
    pool_out: Path | None = None,
) -> float:
    """Insert ``cards`` cards (with ``credentials``, each enrolled); return cards per second."""
    now = datetime.now(UTC)
    expiry = expiry_text(now)
    start = secrets.randbelow(10**9 - cards)
    for path in (pans_out, pool_out):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
    pans = pans_out.open("w") if pans_out else None
    pool = pool_out.open("w") if pool_out else None
    async with open_resources(settings, now=now) as res:
        started = time.perf_counter()
        done = 0
        while done < cards:
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
            for index in range(done, min(done + batch, cards)):
                pan = luhn_pan(f"{BIN}{start + index:09d}")
                card = CardData.parse(
                    pan=pan, expiry=expiry, security_code=SECURITY_CODE, name="Load T"
                )
                card_id = new_id("card")
                rows["cards"].append(
                    {
                        "id": card_id,
                        "pan_hash": res.vault.pan_lookup_hash(card.pan),
                        "bin": card.bin,
                        "last4": card.last4,
                        "card_data": res.vault.seal(card, card_id=card_id),
                        "status": CardStatus.ACTIVE.value,
                        "created_at": now,
                    }
                )
                if credentials:
                    enrolled, line = _enrolled(res, card, card_id, now=now)
                    for name, more in enrolled.items():
                        rows[name].extend(more)
                    if pool:
                        pool.write(line + "\n")
                if pans:
                    pans.write(pan + "\n")
            async with res.engine.begin() as connection:
                for name, model in _TABLES.items():  # parents first (foreign keys)
                    if rows[name]:
                        table = model.__table__  # type: ignore[attr-defined]
                        await connection.execute(insert(table), rows[name])
            done += len(rows["cards"])
            _progress(done, cards, started, credentials=credentials)
        elapsed = time.perf_counter() - started
    for handle in (pans, pool):
        if handle:
            handle.close()
    rate = cards / max(elapsed, 1e-9)
    what = "cards with credentials" if credentials else "cards"
    sys.stderr.write(f"\nseeded {cards:,} {what} in {elapsed:.1f} s: {rate:,.0f}/s\n")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seed the issuer with registered cards")
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--data-dir", type=Path, help="issuer data directory (ISSUER_DATA_DIR)")
    parser.add_argument("--pans-out", type=Path, help="write the seeded PANs (test data) here")
    parser.add_argument(
        "--credentials", action="store_true", help="also enroll every card (key, certificate)"
    )
    parser.add_argument(
        "--pool-out",
        type=Path,
        help="with --credentials: write the cardholders (keys included) for locust's --pool-file",
    )
    args = parser.parse_args(argv)
    if args.pool_out and not args.credentials:
        parser.error("--pool-out needs --credentials")
    if not 1 <= args.cards <= 10_000_000:
        parser.error("--cards must be 1..10,000,000")
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = IssuerSettings.from_env(**overrides)
    asyncio.run(
        seed(
            settings,
            args.cards,
            batch=args.batch,
            pans_out=args.pans_out,
            credentials=args.credentials,
            pool_out=args.pool_out,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
