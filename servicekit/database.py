"""Database engines and versioned schema migrations.

SQLite (embedded, the default) through aiosqlite, PostgreSQL through asyncpg, both as
SQLAlchemy 2 async engines used with SQLModel's ``AsyncSession``.

Migrations are an ordered list of :class:`Migration` steps per component, recorded in
``schema_migrations``; :func:`migrate` applies the missing ones in order, each in its own
transaction, under a PostgreSQL advisory lock so that several workers starting together
apply each step once. ``python -m issuer serve`` migrates before it forks its workers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from servicekit.inline_sqlite import InlineSqlite
from servicekit.sql_connection import SqlConnections

__all__ = [
    "Migration",
    "discard_closed_connections",
    "make_connections",
    "make_engine",
    "migrate",
    "normalise_database_url",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_database_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` and ``sqlite:///`` and pick async drivers."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed beside the single writer; busy_timeout queues writers
    # from several worker processes instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _discard_if_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    is_closed = getattr(record.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        # The pool drops this connection and hands out another (SQLAlchemy "pessimistic
        # disconnect handling" with a checkout listener).
        raise DisconnectionError("the server closed this pooled connection")


def discard_closed_connections(engine: AsyncEngine) -> None:
    """Never hand out a pooled asyncpg connection the server has already closed.

    For engines without ``pool_pre_ping`` (a round trip per checkout): when PostgreSQL
    restarts, asyncpg sees each idle connection's socket close and marks it closed; this
    checks that flag (no I/O) at checkout, so the first requests after a restart get fresh
    connections instead of failing once per pooled connection.
    """
    event.listen(engine.sync_engine, "checkout", _discard_if_closed)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    pre_ping: bool = True,
    isolation_level: str | None = None,
) -> AsyncEngine:
    """An async engine for ``url`` (SQLite file or PostgreSQL).

    PostgreSQL: ``pool_size`` connections kept; a request that finds them all in use waits
    for one (``sa_exc.TimeoutError`` after 30 s, a 503). No overflow by default: SQLAlchemy
    closes an overflow connection when it is returned, so a steady load above the pool
    opened and closed a PostgreSQL session per request (measured: one merchant worker, 16
    requests in flight, ~960 -> ~1,060-1,240 verifies/s without overflow). Without
    ``pre_ping`` closed connections are still dropped at checkout
    (:func:`discard_closed_connections`); ``isolation_level`` e.g. ``"AUTOCOMMIT"``.
    """
    url = normalise_database_url(url)
    # hide_parameters: bound values (ciphertexts, hashes) never appear in SQL errors or logs.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    options: dict[str, Any] = (
        {} if isolation_level is None else {"isolation_level": isolation_level}
    )
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        hide_parameters=True,
        **options,
    )
    if not pre_ping:
        discard_closed_connections(engine)
    return engine


def make_connections(url: str, *, pool_size: int = 10) -> SqlConnections:
    """The connections of one service process for ``url`` (both services use this).

    SQLite: one engine serves transactions and reads, and the hot paths' statements run on
    inline connections to the file (servicekit.inline_sqlite: no thread hand-off per
    statement); an in-memory database has no file to open a second connection to, so it
    runs on the engine alone.

    PostgreSQL, where a hot path is measured in round trips: two pools of ``pool_size``,
    one for transactions and one in AUTOCOMMIT mode (engine-level
    ``isolation_level="AUTOCOMMIT"``: no ``BEGIN``/``ROLLBACK`` around a single statement
    and no mode switch per checkout), neither with ``pool_pre_ping`` (a ping is one more
    round trip per checkout, about 250 us here; a connection the server has closed is
    dropped at checkout without I/O, :func:`discard_closed_connections`) nor overflow
    (:func:`make_engine`), so a process holds at most ``2 x pool_size`` connections.
    """
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        engine = make_engine(url)
        try:
            inline: InlineSqlite | None = InlineSqlite(url)
        except ValueError:  # an in-memory database
            inline = None
        return SqlConnections(engine, engine, inline)
    return SqlConnections(
        engine=make_engine(url, pool_size=pool_size, pre_ping=False),
        autocommit=make_engine(
            url, pool_size=pool_size, pre_ping=False, isolation_level="AUTOCOMMIT"
        ),
    )


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``upgrade`` runs inside a transaction on a sync connection."""

    version: int
    description: str
    upgrade: Callable[[Connection], None]


_VERSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component VARCHAR(32) NOT NULL, version INTEGER NOT NULL,"
    " description VARCHAR(200) NOT NULL, applied_at VARCHAR(40) NOT NULL,"
    " PRIMARY KEY (component, version))"
)


async def migrate(engine: AsyncEngine, component: str, migrations: Sequence[Migration]) -> int:
    """Apply the missing migrations of ``component`` in order; return the schema version."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migrations must have strictly increasing versions")
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        if postgres:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(b"cardcert-ddl")}
            )
        await conn.execute(text(_VERSIONS_DDL))
    current = 0
    for migration in migrations:
        async with engine.begin() as conn:
            if postgres:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": zlib.crc32(component.encode())},
                )
            done = await conn.scalar(
                text("SELECT 1 FROM schema_migrations WHERE component = :c AND version = :v"),
                {"c": component, "v": migration.version},
            )
            if not done:
                await conn.run_sync(migration.upgrade)
                await conn.execute(
                    text(
                        "INSERT INTO schema_migrations"
                        " (component, version, description, applied_at)"
                        " VALUES (:c, :v, :d, :t)"
                    ),
                    {
                        "c": component,
                        "v": migration.version,
                        "d": migration.description,
                        "t": utcnow().isoformat(),
                    },
                )
        current = migration.version
    return current
