"""SQLite statements run on the event loop's own thread, for request hot paths.

aiosqlite hands every statement to a helper thread and wakes the event loop when it is
done; SQLAlchemy then builds a cache key, an execution context and a result object around
it. Measured here: ~500 us of wall time for a one-row ``SELECT`` on a busy loop, ~130 us
on an idle one, while SQLite answers it from its page cache in ~4 us. With WAL and
``synchronous=NORMAL`` a commit does not fsync either. So the service's own queries run
inline, on raw ``sqlite3`` connections, from SQLAlchemy Core statements compiled once:

* :class:`PreparedStatement` compiles a Core statement for SQLite once (named parameters)
  and keeps SQLAlchemy's own bind and result processors for its types, so a value is
  stored and read exactly as the async engine would (``UtcDateTime``, ``Boolean``, ...).
  Statements are compiled on first use and kept in a bounded cache keyed by the statement
  object, so module-level statements with ``bindparam``s compile once per process.
* :class:`InlineConnection` has the awaitable ``execute(statement, parameters)`` shape of
  ``AsyncConnection.execute``; its result offers ``first()``, ``all()`` and ``rowcount``,
  which is what the stores use (servicekit.sql_connection).

Checkpoints (copying the WAL back into the database file, with an fsync) are the other
slow part of a commit: SQLite runs one inside whichever commit crosses
``wal_autocheckpoint`` pages, tens of milliseconds on the event loop. Inline connections
turn that off and a worker thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every
``checkpoint_every`` commits instead (https://sqlite.org/wal.html section 6.1: "or it can
run checkpoints in a separate thread"). PASSIVE never waits for readers or writers.

The one thing that may block is SQLite's lock, when another worker process holds the
write lock. Inline connections never wait inside SQLite (``busy_timeout=0``): a write
transaction starts with ``BEGIN IMMEDIATE`` (take the write lock first; in WAL mode no
later statement of the transaction can then be refused, https://sqlite.org/wal.html
section 2.2, https://sqlite.org/lang_transaction.html), and when the lock is taken the
coroutine waits on the event loop and tries again, up to ``lock_timeout`` seconds, then
fails with ``DatabaseBusy`` (``service_unavailable``, which
``servicekit.middleware.database_unavailable`` counts as an outage). A read refused with
SQLITE_BUSY (rare in WAL mode: recovery, a checkpoint) has done nothing and is retried
the same way. The first retries only yield to the other tasks of the loop: another
worker's transaction holds the lock for ~0.1 ms, less than the shortest timer the loop
can wait (epoll counts in milliseconds). Then the waits grow from 0.5 ms to 20 ms.
Measured with two merchant workers under wrk (bench.workers, SQLite, 3 pairs each, two
runs): 2,160-2,320 -> 2,960-3,050 verifies/s, 1.27-1.36x -> 1.60-1.66x one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.exc import DBAPIError

from servicekit.errors import DatabaseBusy

__all__ = ["InlineConnection", "InlineResult", "InlineRow", "InlineSqlite", "PreparedStatement"]

_LOG = logging.getLogger(__name__)
_FIRST_RETRY_SECONDS = 0.0005
_YIELDING_RETRIES = 8  # retries that only yield to the loop (module docstring)
_MAX_RETRY_SECONDS = 0.02
_CACHE_SIZE = 512
_DIALECT = SQLiteDialect_pysqlite(paramstyle="named")
_Processor = Callable[[Any], Any]
_T = TypeVar("_T")


class InlineRow(tuple[Any, ...]):
    """A result row: a tuple with ``_mapping`` (column key -> value), like SQLAlchemy's Row."""

    __slots__ = ()
    _keys: tuple[str, ...] = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._keys, self, strict=True))


class InlineResult:
    """The rows of a ``SELECT`` (already fetched) or the row count of a DML statement."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[InlineRow], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> InlineRow | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[InlineRow]:
        return list(self._rows)


class PreparedStatement:
    """A SQLAlchemy Core statement compiled once for SQLite, with its type processors."""

    __slots__ = ("_binds", "_compiled", "_defaults", "_results", "_row_type", "sql")

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
        self._compiled = compiled
        self.sql: str = compiled.string
        # Column defaults SQLAlchemy computes in Python before an INSERT/UPDATE: a constant
        # is filled in here as the engine would; anything else is refused, never skipped.
        self._defaults: dict[str, Any] = {}
        for columns, attribute in (
            (compiled.insert_prefetch, "default"),
            (compiled.update_prefetch, "onupdate"),
        ):
            for column in columns:
                default = getattr(column, attribute)
                if default is None or not default.is_scalar:
                    raise ValueError(f"column {column.key}: only constant defaults run inline")
                self._defaults[column.key] = default.arg
        self._binds: dict[str, _Processor | None] = {
            name: bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            for name, bind in compiled.binds.items()
        }
        # Textual SQL has no typed columns: its values come back as sqlite3 gives them.
        columns = getattr(statement, "selected_columns", None) if statement.is_select else None
        self._results: tuple[_Processor | None, ...] | None = (
            None
            if columns is None
            else tuple(
                column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None)
                for column in columns
            )
        )
        keys = tuple(str(column.key) for column in (columns or ()))
        self._row_type = type("Row", (InlineRow,), {"__slots__": (), "_keys": keys})

    def parameters(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Bound values: the statement's own (literals) overlaid with ``values``, processed."""
        merged = self._compiled.construct_params(values)
        for name, default in self._defaults.items():
            if values is None or name not in values:
                merged[name] = default
        return {
            name: value if (process := self._binds.get(name)) is None else process(value)
            for name, value in merged.items()
        }

    def rows(self, raw: Sequence[tuple[Any, ...]]) -> list[InlineRow]:
        processors = self._results
        row_type = self._row_type
        if processors is None:
            return [row_type(row) for row in raw]
        return [
            row_type(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in raw
        ]


class _StatementCache:
    """Bounded: statements built per call (with literal values) must not pile up. An entry
    holds its statement, so a live key object is never confused with a new one."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[Any, PreparedStatement]] = OrderedDict()

    def get(self, statement: Any) -> PreparedStatement:
        entry = self._entries.get(id(statement))
        if entry is not None and entry[0] is statement:
            self._entries.move_to_end(id(statement))
            return entry[1]
        prepared = PreparedStatement(statement)
        self._entries[id(statement)] = (statement, prepared)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return prepared


_CACHE = _StatementCache(_CACHE_SIZE)


def _locked(error: sqlite3.OperationalError) -> bool:
    return error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def _when_unlocked(action: Callable[[], _T], timeout: float) -> _T:
    """``action()``, tried again while SQLite refuses it with SQLITE_BUSY/LOCKED (a refused
    statement has done nothing), sleeping on the event loop between attempts without
    blocking it, for up to ``timeout`` seconds.

    Raises:
        DatabaseBusy: ``service_unavailable`` when the lock stayed taken.
    """
    deadline = time.monotonic() + timeout
    pause = _FIRST_RETRY_SECONDS
    attempts = 0
    while True:
        try:
            return action()
        except sqlite3.OperationalError as error:
            if not _locked(error):
                raise
        if time.monotonic() >= deadline:
            raise DatabaseBusy("the database is busy")
        attempts += 1
        if attempts <= _YIELDING_RETRIES:
            await asyncio.sleep(0)
            continue
        await asyncio.sleep(pause)
        pause = min(pause * 2, _MAX_RETRY_SECONDS)


class InlineConnection:
    """One SQLite connection; ``await execute(...)`` runs the statement right away."""

    __slots__ = ("_connection", "_lock_timeout", "_retry")

    def __init__(self, connection: sqlite3.Connection, *, retry: bool, lock_timeout: float):
        self._connection = connection
        self._retry = retry
        self._lock_timeout = lock_timeout

    def _run(self, prepared: PreparedStatement, values: Mapping[str, Any] | None) -> InlineResult:
        try:
            cursor = self._connection.execute(prepared.sql, prepared.parameters(values))
        except sqlite3.IntegrityError as error:
            # The stores catch SQLAlchemy's exception family, as with the async engines;
            # bound values stay out of the message (hide_parameters).
            raise DBAPIError.instance(
                prepared.sql, None, error, sqlite3.Error, hide_parameters=True
            ) from error
        try:
            raw = cursor.fetchall() if cursor.description is not None else []
            return InlineResult(prepared.rows(raw), cursor.rowcount)
        finally:
            cursor.close()

    async def execute(self, statement: Any, parameters: Mapping[str, Any] | None = None) -> Any:
        prepared = _CACHE.get(statement)
        if not self._retry:
            return self._run(prepared, parameters)
        return await _when_unlocked(lambda: self._run(prepared, parameters), self._lock_timeout)


class InlineSqlite:
    """Raw ``sqlite3`` connections to the service's database file, used on the loop thread.

    Args:
        url: ``sqlite:///path`` (any ``sqlite+driver:///`` prefix is accepted).
        lock_timeout: how long a write waits for another process's write lock.
    """

    def __init__(
        self, url: str, *, lock_timeout: float = 10.0, checkpoint_every: int = 200
    ) -> None:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path.startswith(":memory:"):
            raise ValueError("inline SQLite needs a database file")
        self._path = path
        self._lock_timeout = lock_timeout
        self._idle: list[sqlite3.Connection] = []
        self._checkpoint_every = checkpoint_every
        self._commits = 0
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        # Write transactions of this process queue here; BEGIN IMMEDIATE arbitrates
        # between processes.
        self._writer = asyncio.Lock()

    def _open(self) -> sqlite3.Connection:
        if self._idle:
            return self._idle.pop()
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not pysqlite's
        # implicit deferred BEGIN before the first write.
        connection = sqlite3.connect(self._path, isolation_level=None, timeout=0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA wal_autocheckpoint=0")  # see _committed
        return connection

    def _close(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:  # only after an error escaped mid-transaction
            connection.rollback()
        self._idle.append(connection)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[InlineConnection]:
        """A connection for reads (each statement its own transaction)."""
        connection = self._open()
        try:
            yield InlineConnection(connection, retry=True, lock_timeout=self._lock_timeout)
        finally:
            self._close(connection)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[InlineConnection]:
        """A write transaction holding SQLite's write lock from its start; committed when
        the block ends, rolled back if it raises."""
        async with self._writer:
            connection = self._open()
            try:
                await _when_unlocked(lambda: self._begin_immediate(connection), self._lock_timeout)
                try:
                    yield InlineConnection(connection, retry=False, lock_timeout=0)
                except BaseException:
                    connection.rollback()
                    raise
                self._commit(connection)
            finally:
                self._close(connection)
            self._committed()

    # Methods of their own so that a benchmark can time them (bench/enrollment.py).
    def _begin_immediate(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")

    def _commit(self, connection: sqlite3.Connection) -> None:
        connection.commit()

    def _committed(self) -> None:
        """Count a commit; every ``checkpoint_every``, checkpoint in a worker thread."""
        self._commits += 1
        if self._commits < self._checkpoint_every or self._checkpoint is not None:
            return
        self._commits = 0
        self._checkpoint = asyncio.get_running_loop().run_in_executor(None, self._run_checkpoint)
        self._checkpoint.add_done_callback(self._checkpoint_done)

    def _run_checkpoint(self) -> None:
        # Its own connection, used only from the executor thread (one checkpoint at a time).
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self._path, isolation_level=None, timeout=0, check_same_thread=False
            )
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            # A failed checkpoint loses nothing (the WAL keeps every commit); the next
            # one retries. Said once in the log, without SQL or values.
            _LOG.warning("WAL checkpoint failed: %s", type(future.exception()).__name__)

    async def dispose(self) -> None:
        """Close every connection, after a checkpoint still running in its thread."""
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):  # logged by _checkpoint_done
                await self._checkpoint
        while self._idle:
            self._idle.pop().close()
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
