"""Seed the issuer database with many registered cards, fast.

    python -m loadtests.seed --cards 100000 [--data-dir DIR] [--batch 2000] [--pans-out FILE]

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
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from certs.card_data import CardData
from issuer.cards import new_id
from issuer.models import CardRecord, CardStatus
from issuer.resources import open_resources
from issuer.settings import IssuerSettings
from loadtests.cardholders import BIN, SECURITY_CODE, expiry_text, luhn_pan

__all__ = ["main", "seed"]


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.perf_counter() - started, 1e-9)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done:>9,}/{total:,} cards  {rate:,.0f} cards/s")
    sys.stderr.flush()


async def seed(settings: IssuerSettings, cards: int, *, batch: int, pans_out: Path | None) -> float:
    """Insert ``cards`` cards; return cards per second."""
    now = datetime.now(UTC)
    expiry = expiry_text(now)
    start = secrets.randbelow(10**9 - cards)
    handle = pans_out.open("w") if pans_out else None
    table = CardRecord.__table__  # type: ignore[attr-defined]
    async with open_resources(settings, now=now) as res:
        started = time.perf_counter()
        done = 0
        while done < cards:
            rows = []
            for index in range(done, min(done + batch, cards)):
                pan = luhn_pan(f"{BIN}{start + index:09d}")
                card = CardData.parse(
                    pan=pan, expiry=expiry, security_code=SECURITY_CODE, name="Load T"
                )
                card_id = new_id("card")
                rows.append(
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
                if handle:
                    handle.write(pan + "\n")
            async with res.engine.begin() as connection:
                await connection.execute(insert(table), rows)
            done += len(rows)
            _progress(done, cards, started)
        elapsed = time.perf_counter() - started
    if handle:
        handle.close()
    rate = cards / max(elapsed, 1e-9)
    sys.stderr.write(f"\nseeded {cards:,} cards in {elapsed:.1f} s: {rate:,.0f} cards/s\n")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seed the issuer with registered cards")
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--data-dir", type=Path, help="issuer data directory (ISSUER_DATA_DIR)")
    parser.add_argument("--pans-out", type=Path, help="write the seeded PANs (test data) here")
    args = parser.parse_args(argv)
    if not 1 <= args.cards <= 10_000_000:
        parser.error("--cards must be 1..10,000,000")
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = IssuerSettings.from_env(**overrides)
    asyncio.run(seed(settings, args.cards, batch=args.batch, pans_out=args.pans_out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
