"""The merchant's schema migrations (servicekit.database.migrate, component ``merchant``).

Version 1 creates the tables of :mod:`merchant.models` as they are in release 0.1. Any
later change to a model needs a new :class:`~servicekit.database.Migration` with explicit
DDL (and version 1 must then be frozen as DDL text).

Version 2 changes no model: on PostgreSQL it stores evidence documents compressed with lz4.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from merchant.models import (
    ApiKey,
    Checkout,
    EvidenceRecord,
    IdempotencyRecord,
    IssuerRecord,
    MerchantAccount,
    MerchantBase,
    table_of,
)
from servicekit.database import Migration, migrate

__all__ = ["COMPONENT", "MIGRATIONS", "migrate_database"]

COMPONENT = "merchant"


def _create_tables(conn: Connection) -> None:
    MerchantBase.metadata.create_all(
        conn,
        tables=[
            table_of(model)
            for model in (
                MerchantAccount,
                ApiKey,
                IssuerRecord,
                Checkout,
                EvidenceRecord,
                IdempotencyRecord,
            )
        ],
    )


def _compress_evidence_with_lz4(conn: Connection) -> None:
    """PostgreSQL: evidence documents (several KB of JSON, mostly base64, over the TOAST
    threshold) compressed with lz4 rather than the default pglz, whose compression was ~10%
    of PostgreSQL's CPU per verification under ``make bench`` (perf, pglz_compress). Needs
    PostgreSQL 14 built with lz4 (Debian's is); without it, nothing changes. Rows written
    before keep their pglz form, which PostgreSQL still reads."""
    if conn.dialect.name != "postgresql":
        return
    lz4 = conn.execute(
        text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).scalar()
    if lz4:
        conn.execute(
            text("ALTER TABLE merchant_evidence ALTER COLUMN document SET COMPRESSION lz4")
        )


MIGRATIONS = (
    Migration(1, "merchant accounts, issuers, checkouts, evidence", _create_tables),
    Migration(
        2, "evidence documents compressed with lz4 on PostgreSQL", _compress_evidence_with_lz4
    ),
)


async def migrate_database(engine: AsyncEngine) -> int:
    """Bring the merchant schema up to date; return its version."""
    return await migrate(engine, COMPONENT, MIGRATIONS)
