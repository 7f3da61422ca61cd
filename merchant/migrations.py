"""The merchant's schema migrations (servicekit.database.migrate, component ``merchant``).

Version 1 creates the tables of :mod:`merchant.models` as they are in release 0.1. Any
later change to a model needs a new :class:`~servicekit.database.Migration` with explicit
DDL (and version 1 must then be frozen as DDL text).
"""

from __future__ import annotations

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


MIGRATIONS = (Migration(1, "merchant accounts, issuers, checkouts, evidence", _create_tables),)


async def migrate_database(engine: AsyncEngine) -> int:
    """Bring the merchant schema up to date; return its version."""
    return await migrate(engine, COMPONENT, MIGRATIONS)
