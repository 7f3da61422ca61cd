"""The merchant's database engines: one for transactions, one for autocommit statements.

SQLite goes through :func:`servicekit.database.make_engine` (WAL, busy timeout) for
migrations and the rest, and through :class:`servicekit.inline_sqlite.InlineSqlite` for the
store's queries (statements on the event loop's thread, no aiosqlite hand-off). For
PostgreSQL the merchant builds its own two pools, because the hot path is measured in
round trips:

- no ``pool_pre_ping``: a ping is one more round trip per checkout (about 250 us here,
  more than the whole signature check). Instead a connection the server has closed (a
  database restart) is dropped at checkout by a flag check without I/O
  (:func:`servicekit.database.discard_closed_connections`); one broken while in use fails
  that request (503) and is invalidated by SQLAlchemy;
- an **autocommit** pool (engine-level ``isolation_level="AUTOCOMMIT"``, so no
  ``BEGIN``/``ROLLBACK`` around single statements and no per-checkout mode switch) for the
  peek and the single-statement settle;
- a transactional pool for multi-statement writes;
- ``pool_size`` connections each and no overflow (servicekit.database.make_engine: an
  overflow connection is closed when returned, so a load above the pool opened a session
  per request), so a worker holds at most ``2 x pool_size`` connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.database import make_engine, normalise_database_url
from servicekit.inline_sqlite import InlineSqlite

__all__ = ["Engines", "make_engines"]


@dataclass(frozen=True, slots=True)
class Engines:
    transactional: AsyncEngine
    autocommit: AsyncEngine
    inline: InlineSqlite | None = field(default=None)

    async def dispose(self) -> None:
        await self.transactional.dispose()
        if self.autocommit is not self.transactional:
            await self.autocommit.dispose()
        if self.inline is not None:
            await self.inline.dispose()


def make_engines(url: str, *, pool_size: int = 10) -> Engines:
    """Engines for ``url`` (SQLite: one engine serves both roles)."""
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        engine = make_engine(url)
        return Engines(engine, engine, InlineSqlite(url))
    return Engines(
        transactional=make_engine(url, pool_size=pool_size, pre_ping=False),
        autocommit=make_engine(
            url, pool_size=pool_size, pre_ping=False, isolation_level="AUTOCOMMIT"
        ),
    )
