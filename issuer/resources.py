"""Everything the issuer loads once at start-up, in one frozen object.

:func:`open_resources` is used by the application's ``cleanup_ctx`` and by the operator
commands alike: it creates the engine, migrates the schema, loads (in dev, creates) the
issuer CA and the card-data keys, and disposes of the engine on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from issuer.activation_codes import ActivationCodeHasher
from issuer.card_vault import CardVault
from issuer.key_material import IssuerPki, ensure_data_dir, load_card_vault, load_pki
from issuer.metrics import IssuerMetrics
from issuer.migrations import migrate_database
from issuer.ocsp_responder import OcspResponder
from issuer.settings import IssuerSettings
from servicekit.database import make_connections
from servicekit.sql_connection import SqlConnections

__all__ = ["IssuerResources", "open_resources"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerResources:
    """Settings, database engine, keys and metrics of one issuer process."""

    settings: IssuerSettings
    engine: AsyncEngine
    pki: IssuerPki
    vault: CardVault
    code_hasher: ActivationCodeHasher
    responder: OcspResponder
    metrics: IssuerMetrics
    # Where the hot paths' Core statements run (challenges, enrollment, renewal, card
    # registration, status lookups): inline on the event loop's thread on SQLite
    # (servicekit/inline_sqlite.py); on PostgreSQL the engine for transactions and an
    # AUTOCOMMIT pool for reads (no BEGIN/ROLLBACK round trips around a single SELECT).
    sql: SqlConnections

    def session(self) -> AsyncSession:
        """A new session; use as ``async with res.session() as s, s.begin(): ...``."""
        return AsyncSession(self.engine, expire_on_commit=False)


@asynccontextmanager
async def open_resources(
    settings: IssuerSettings, *, now: datetime, metrics: IssuerMetrics | None = None
) -> AsyncIterator[IssuerResources]:
    """Load keys, open and migrate the database; dispose of the engine on exit.

    Raises:
        ConfigurationError: key material missing (production) or inconsistent.
    """
    pki = load_pki(settings, now=now)
    vault = load_card_vault(settings)
    if settings.database_url is None:
        ensure_data_dir(settings)
    # Bound parameters (hashes, ciphertext) stay out of logs and exception texts
    # (servicekit.database.make_engine hides them).
    sql = make_connections(settings.resolved_database_url)
    engine = sql.engine
    try:
        await migrate_database(engine)
        yield IssuerResources(
            settings=settings,
            engine=engine,
            pki=pki,
            vault=vault,
            code_hasher=ActivationCodeHasher(vault.activation_code_key()),
            responder=OcspResponder(pki, freshness=settings.status_freshness),
            metrics=metrics or IssuerMetrics(),
            sql=sql,
        )
    finally:
        await sql.dispose()
