"""servicekit.inline_sqlite: same values as the async engine, never blocking on the lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.database import make_engine
from servicekit.errors import DatabaseBusy
from servicekit.inline_sqlite import InlineSqlite, PreparedStatement
from servicekit.utc_datetime import UtcDateTime

METADATA = MetaData()
ROWS = Table(
    "rows",
    METADATA,
    Column("id", String(16), primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
    Column("flag", Boolean(), nullable=True),
    Column("blob", LargeBinary(), nullable=True),
    Column("count", Integer(), nullable=False, default=0),
)
INSERT = insert(ROWS).values(
    id=bindparam("p_id"), at=bindparam("p_at"), flag=bindparam("p_flag"), blob=bindparam("p_blob")
)
BY_ID = select(ROWS.c.id, ROWS.c.at, ROWS.c.flag, ROWS.c.blob).where(ROWS.c.id == bindparam("p_id"))
WHEN = datetime(2026, 11, 23, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, InlineSqlite, Path]]:
    path = tmp_path / "inline.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    inline = InlineSqlite(f"sqlite+aiosqlite:///{path}", lock_timeout=0.3)
    yield engine, inline, path
    await inline.dispose()
    await engine.dispose()


async def test_values_written_inline_read_the_same_through_the_async_engine(database) -> None:  # type: ignore[no-untyped-def]
    engine, inline, _ = database
    async with inline.begin() as conn:
        await conn.execute(INSERT, {"p_id": "a", "p_at": WHEN, "p_flag": True, "p_blob": b"\0\1"})
    async with engine.connect() as conn:
        row = (await conn.execute(BY_ID, {"p_id": "a"})).first()
    assert row is not None
    assert tuple(row) == ("a", WHEN, True, b"\0\1")


async def test_values_written_by_the_async_engine_read_the_same_inline(database) -> None:  # type: ignore[no-untyped-def]
    engine, inline, _ = database
    async with engine.begin() as conn:
        await conn.execute(INSERT, {"p_id": "b", "p_at": WHEN, "p_flag": False, "p_blob": None})
    async with inline.connect() as conn:
        row = (await conn.execute(BY_ID, {"p_id": "b"})).first()
        missing = (await conn.execute(BY_ID, {"p_id": "nope"})).first()
    assert row is not None
    assert tuple(row) == ("b", WHEN, False, None)
    assert row._mapping == {"id": "b", "at": WHEN, "flag": False, "blob": None}
    assert row._mapping["at"].tzinfo is UTC
    assert missing is None


async def test_naive_datetimes_are_refused_inline_as_in_the_async_engine(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, _ = database
    with pytest.raises(ValueError, match="naive"):
        async with inline.begin() as conn:
            await conn.execute(
                INSERT, {"p_id": "n", "p_at": datetime(2026, 1, 1), "p_flag": None, "p_blob": None}
            )


async def test_a_write_transaction_is_rolled_back_when_its_block_raises(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, _ = database

    async def insert_then_fail() -> None:
        async with inline.begin() as conn:
            await conn.execute(INSERT, {"p_id": "c", "p_at": None, "p_flag": None, "p_blob": None})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with inline.connect() as conn:
        assert (await conn.execute(BY_ID, {"p_id": "c"})).first() is None


async def test_rowcount_of_a_conditional_update(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, _ = database
    bump = update(ROWS).where(ROWS.c.id == bindparam("p_id")).values(count=ROWS.c.count + 1)
    async with inline.begin() as conn:
        await conn.execute(INSERT, {"p_id": "d", "p_at": None, "p_flag": None, "p_blob": None})
        hit = await conn.execute(bump, {"p_id": "d"})
        miss = await conn.execute(bump, {"p_id": "zz"})
    assert (hit.rowcount, miss.rowcount) == (1, 0)


async def test_update_returning_gives_every_changed_row_as_the_async_engine_does(database) -> None:  # type: ignore[no-untyped-def]
    engine, inline, _ = database
    bump = (
        update(ROWS)
        .where(ROWS.c.id.in_(["r1", "r2", "nope"]))
        .values(count=ROWS.c.count + 1)
        .returning(ROWS.c.id, ROWS.c.count)
    )
    async with inline.begin() as conn:
        for row_id in ("r1", "r2", "r3"):
            await conn.execute(
                INSERT, {"p_id": row_id, "p_at": None, "p_flag": None, "p_blob": None}
            )
        inline_rows = sorted(tuple(row) for row in (await conn.execute(bump)).all())
    async with engine.begin() as conn:
        engine_rows = sorted(tuple(row) for row in (await conn.execute(bump)).all())
    assert inline_rows == [("r1", 1), ("r2", 1)]
    assert engine_rows == [("r1", 2), ("r2", 2)]


async def test_a_duplicate_key_raises_sqlalchemys_integrity_error_without_values(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, _ = database
    secret = "s3cret-value-xyz"
    async with inline.begin() as conn:
        await conn.execute(INSERT, {"p_id": "e", "p_at": None, "p_flag": None, "p_blob": None})
    with pytest.raises(IntegrityError) as raised:
        async with inline.begin() as conn:
            await conn.execute(
                INSERT, {"p_id": "e", "p_at": None, "p_flag": None, "p_blob": secret.encode()}
            )
    assert secret not in str(raised.value)


async def test_a_writer_waits_for_another_processs_lock_without_blocking_the_loop(database) -> None:  # type: ignore[no-untyped-def]
    """Another connection (as another worker process would) holds the write lock; the
    inline writer retries on the event loop, other tasks keep running, and it commits once
    the lock is released."""
    _, inline, path = database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def write() -> None:
        async with inline.begin() as conn:
            await conn.execute(INSERT, {"p_id": "f", "p_at": None, "p_flag": None, "p_blob": None})

    task = asyncio.create_task(ticker())
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.05)
    assert not writer.done()
    assert ticks > 10  # the loop kept running while the writer waited
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writer, timeout=5)
    task.cancel()
    async with inline.connect() as conn:
        assert (await conn.execute(BY_ID, {"p_id": "f"})).first() is not None


async def test_a_writer_gives_up_after_the_lock_timeout_with_service_unavailable(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, path = database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseBusy) as raised:
            async with inline.begin() as conn:
                await conn.execute(
                    INSERT, {"p_id": "g", "p_at": None, "p_flag": None, "p_blob": None}
                )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert raised.value.code == "service_unavailable"
    # The failed attempt left no transaction open: the next write succeeds.
    async with inline.begin() as conn:
        await conn.execute(INSERT, {"p_id": "g", "p_at": None, "p_flag": None, "p_blob": None})


async def test_reads_proceed_while_another_connection_writes(database) -> None:  # type: ignore[no-untyped-def]
    _, inline, path = database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO rows (id, count) VALUES ('h', 0)")
    try:
        async with inline.connect() as conn:  # WAL: the reader sees the last commit
            assert (await conn.execute(BY_ID, {"p_id": "h"})).first() is None
            assert (await conn.execute(text("SELECT count(*) FROM rows"))).first() == (0,)
    finally:
        other.execute("COMMIT")
        other.close()


def test_an_in_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="file"):
        InlineSqlite("sqlite+aiosqlite:///:memory:")


async def test_constant_column_defaults_are_applied_as_the_engine_would(database) -> None:  # type: ignore[no-untyped-def]
    engine, inline, _ = database
    counts = select(ROWS.c.count).where(ROWS.c.id == bindparam("p_id"))
    async with inline.begin() as conn:
        await conn.execute(INSERT, {"p_id": "i", "p_at": None, "p_flag": None, "p_blob": None})
    async with engine.connect() as conn:
        assert (await conn.execute(counts, {"p_id": "i"})).first() == (0,)


def test_callable_column_defaults_are_refused_rather_than_skipped() -> None:
    table = Table(
        "stamped",
        MetaData(),
        Column("id", String(4), primary_key=True),
        Column("at", UtcDateTime(), default=lambda: datetime.now(UTC)),
    )
    with pytest.raises(ValueError, match="constant defaults"):
        PreparedStatement(insert(table).values(id=bindparam("p_id")))


def test_statements_with_literal_values_keep_their_values() -> None:
    prepared = PreparedStatement(
        select(ROWS.c.id).where(ROWS.c.id.in_(["x", "y"]), ROWS.c.count > 3)
    )
    assert sorted(prepared.parameters(None).values(), key=str) == [3, "x", "y"]
    assert "?" not in prepared.sql


async def _five_commits(path: Path, checkpoint_every: int) -> InlineSqlite:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await engine.dispose()  # the last close checkpoints: the rows below start in the WAL
    inline = InlineSqlite(f"sqlite:///{path}", checkpoint_every=checkpoint_every)
    for number in range(5):
        async with inline.begin() as conn:
            await conn.execute(
                INSERT, {"p_id": f"row-{number}", "p_at": None, "p_flag": None, "p_blob": None}
            )
    return inline


async def test_inline_commits_never_checkpoint_on_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    inline = await _five_commits(path, checkpoint_every=100)
    try:
        assert inline._checkpoint is None
        assert b"row-4" in (tmp_path / "wal.sqlite3-wal").read_bytes()
        assert b"row-4" not in path.read_bytes()  # still only in the WAL
    finally:
        await inline.dispose()


async def test_every_n_commits_a_worker_thread_checkpoints_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    inline = await _five_commits(path, checkpoint_every=5)
    try:
        pending = inline._checkpoint
        assert pending is not None  # the fifth commit started one
        await pending
        assert b"row-4" in path.read_bytes()  # copied back into the database file
    finally:
        await inline.dispose()
