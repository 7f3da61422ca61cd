"""Suite-wide fixtures: a private PostgreSQL cluster and per-test database URLs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import figures
from tests.postgres_cluster import find_pg_bin, running_cluster

FIGURES_FILE = Path(__file__).resolve().parent.parent / "build" / "test-figures.json"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the hardening figures (issue 7) and keep them in build/test-figures.json."""
    lines = figures.summary_lines()
    if not lines:
        return
    terminalreporter.section("cardcert hardening figures")
    for line in lines:
        terminalreporter.write_line(line)
    figures.write(FIGURES_FILE)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a session-wide PostgreSQL server (started once, on 127.0.0.1)."""
    if find_pg_bin() is None:
        pytest.fail("PostgreSQL binaries are missing: run `make test`, which installs them")
    with running_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session server, as ``postgresql+asyncpg://`` URL."""
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:16]
    host_url = postgres_server

    async def _run(sql: str) -> None:
        conn = await asyncpg.connect(host_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(_run(f'CREATE DATABASE "{name}"'))
    yield host_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Run a test once on SQLite (a file) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
    return str(request.getfixturevalue("postgres_url"))
