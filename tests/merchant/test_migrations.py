"""The merchant schema migrates to its latest version on both databases, idempotently, and
the start-up writes several workers make at once do not fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from certs.dev_pki import DevPki
from merchant.issuer_directory import parse_issuer_metadata, save_issuer
from merchant.migrations import MIGRATIONS, migrate_database
from servicekit.database import make_connections
from tests.merchant.conftest import issuer_metadata


async def test_migrates_to_the_latest_version_once(database_url: str) -> None:
    engines = make_connections(database_url)
    try:
        assert await migrate_database(engines.engine) == MIGRATIONS[-1].version
        assert await migrate_database(engines.engine) == MIGRATIONS[-1].version
        async with engines.engine.connect() as conn:
            versions = (
                await conn.execute(
                    text("SELECT version FROM schema_migrations WHERE component = 'merchant'")
                )
            ).scalars()
            assert sorted(versions) == [m.version for m in MIGRATIONS]
    finally:
        await engines.dispose()


async def test_evidence_documents_are_compressed_with_lz4_on_postgresql(
    postgres_url: str,
) -> None:
    engines = make_connections(postgres_url)
    try:
        await migrate_database(engines.engine)
        async with engines.engine.connect() as conn:
            available = (
                await conn.execute(
                    text(
                        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                        " WHERE name = 'default_toast_compression'"
                    )
                )
            ).scalar()
            if not available:
                pytest.fail("Debian's PostgreSQL is built with lz4; this server is not")
            method = (
                await conn.execute(
                    text(
                        "SELECT attcompression FROM pg_attribute"
                        " WHERE attrelid = 'merchant_evidence'::regclass"
                        " AND attname = 'document'"
                    )
                )
            ).scalar()
            assert method == b"l"  # attcompression is a "char", read as bytes
    finally:
        await engines.dispose()


async def test_workers_saving_the_same_issuer_at_once_all_succeed(
    database_url: str, pki: DevPki
) -> None:
    """With MERCHANT_ISSUER_METADATA_URLS every worker saves the issuer as it starts; the
    losers of that insert race must not fail (a worker that cannot start is replaced, and
    after five in 30 s the service stops)."""
    engines = make_connections(database_url)
    try:
        await migrate_database(engines.engine)
        info = parse_issuer_metadata(issuer_metadata(pki), roots=[pki.root])
        now = datetime.now(UTC)
        await asyncio.gather(
            *(save_issuer(engines.engine, info, source="test", now=now) for _ in range(8))
        )
        async with engines.engine.connect() as conn:
            origins = (await conn.execute(text("SELECT origin FROM merchant_issuers"))).scalars()
            assert list(origins) == [info.origin]
    finally:
        await engines.dispose()
