"""What request hot paths need of a database connection, whichever engine runs it.

Core statements (built once, with ``bindparam``) run the same way on
``sqlalchemy.ext.asyncio.AsyncConnection`` (PostgreSQL, or SQLite through aiosqlite; inside
an ORM unit of work, ``await session.connection()``) and on
:class:`servicekit.inline_sqlite.InlineConnection` (SQLite on the event loop's thread):
``await connection.execute(statement, parameters)``, then ``rowcount``, ``first()`` or
``all()`` of the result. :class:`SqlConnections` hands out the right one for a service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from servicekit.inline_sqlite import InlineSqlite

__all__ = ["SqlConnection", "SqlConnections", "SqlResult"]


class SqlResult(Protocol):
    @property
    def rowcount(self) -> int: ...

    def first(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...


class SqlConnection(Protocol):
    """``AsyncConnection`` or :class:`InlineConnection`."""

    async def execute(
        self, statement: Any, parameters: Mapping[str, Any] | None = None, /
    ) -> SqlResult: ...


@dataclass(frozen=True, slots=True)
class SqlConnections:
    """Where a service's Core statements run: inline on SQLite when ``inline`` is set
    (servicekit.inline_sqlite: no thread hand-off per statement), else on the engines.

    The context managers are handed out as they are, not wrapped in one more generator
    per statement.
    """

    engine: AsyncEngine  # transactions
    autocommit: AsyncEngine  # reads and single statements (PostgreSQL: an AUTOCOMMIT pool)
    inline: InlineSqlite | None = None

    def write(self) -> AbstractAsyncContextManager[SqlConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises. On
        inline SQLite it holds the write lock from its start (BEGIN IMMEDIATE) and this
        process's writers queue for it."""
        if self.inline is not None:
            return self.inline.begin()
        return self.engine.begin()

    def read(self) -> AbstractAsyncContextManager[SqlConnection]:
        """A connection for reads and single autocommit statements."""
        if self.inline is not None:
            return self.inline.connect()
        return self.autocommit.connect()

    async def dispose(self) -> None:
        """Close every pool and inline connection (at shutdown)."""
        await self.engine.dispose()
        if self.autocommit is not self.engine:
            await self.autocommit.dispose()
        if self.inline is not None:
            await self.inline.dispose()
