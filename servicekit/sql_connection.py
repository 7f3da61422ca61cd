"""What request hot paths need of a database connection, whichever engine runs it.

Core statements (built once, with ``bindparam``) run the same way on
``sqlalchemy.ext.asyncio.AsyncConnection`` (PostgreSQL, or SQLite through aiosqlite), on an
``AsyncSession`` (inside an ORM unit of work) and on
:class:`servicekit.inline_sqlite.InlineConnection` (SQLite on the event loop's thread):
``await connection.execute(statement, parameters)``, then ``rowcount``, ``first()`` or
``all()`` of the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["SqlConnection", "SqlResult"]


class SqlResult(Protocol):
    @property
    def rowcount(self) -> int: ...

    def first(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...


class SqlConnection(Protocol):
    """``AsyncConnection``, ``AsyncSession`` or :class:`InlineConnection`."""

    async def execute(
        self, statement: Any, parameters: Mapping[str, Any] | None = None, /
    ) -> SqlResult: ...
