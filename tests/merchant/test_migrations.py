"""The merchant schema migrates to its latest version on both databases, idempotently."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from merchant.database import make_engines
from merchant.migrations import MIGRATIONS, migrate_database


async def test_migrates_to_the_latest_version_once(database_url: str) -> None:
    engines = make_engines(database_url)
    try:
        assert await migrate_database(engines.transactional) == MIGRATIONS[-1].version
        assert await migrate_database(engines.transactional) == MIGRATIONS[-1].version
        async with engines.transactional.connect() as conn:
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
    engines = make_engines(postgres_url)
    try:
        await migrate_database(engines.transactional)
        async with engines.transactional.connect() as conn:
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
