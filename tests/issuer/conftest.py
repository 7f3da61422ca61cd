"""Fixtures for the issuer tests: the real app on SQLite and PostgreSQL, and log hygiene."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from issuer.api_keys import create_api_key
from issuer.app import create_app
from issuer.app_keys import RESOURCES
from issuer.models import IssuerBase
from issuer.settings import IssuerSettings
from servicekit.redaction import RedactingFilter
from tests.issuer.helpers import SENSITIVE, FakeClock, Issuer, sensitive


def issuer_settings(data_dir: Path, database_url: str, **changes: object) -> IssuerSettings:
    """Settings for a test app: its own data dir and database, no background sweeps."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "sweep_interval": 3600.0,
        "service_worker_dir": data_dir / "no-service-worker",
    }
    values.update(changes)
    return IssuerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def issuer_postgres_database(postgres_server: str) -> Iterator[str]:
    """One PostgreSQL database for the issuer tests, migrated once (by the app itself).

    ``CREATE DATABASE`` costs 0.1-0.5 s on this machine, far more than a test; the tests
    share this database instead and :func:`database_url` empties it before each one.
    Migrating a fresh database is still covered (test_concurrency uses ``postgres_url``).
    """
    import asyncpg  # type: ignore[import-untyped]

    name = "issuer_tests_" + uuid.uuid4().hex[:8]

    async def _run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(_run(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{url}/{name}"
    asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_issuer_tables(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        exists = await conn.fetchval("SELECT to_regclass('issuer_counters') IS NOT NULL")
        if exists:
            tables = ", ".join(
                table.name
                for table in IssuerBase.metadata.sorted_tables
                if table.name != "issuer_counters"
            )
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            await conn.execute("UPDATE issuer_counters SET value = 0")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each issuer test once on SQLite (a file) and once on PostgreSQL (emptied first)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
    url = str(request.getfixturevalue("issuer_postgres_database"))
    asyncio.run(_empty_issuer_tables(url))
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> IssuerSettings:
    return issuer_settings(tmp_path / "issuer", database_url)


async def start_issuer(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock
) -> Issuer:
    app = create_app(settings, clock=clock)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    api_key = sensitive(await create_api_key(app[RESOURCES], name="tests", now=clock()))
    return Issuer(client=client, settings=settings, clock=clock, api_key=api_key)


@pytest.fixture
async def issuer(
    aiohttp_client: AiohttpClient, settings: IssuerSettings, clock: FakeClock
) -> Issuer:
    return await start_issuer(aiohttp_client, settings, clock)


def _texts(record: logging.LogRecord) -> list[str]:
    """The record as a handler would write it: raw, and through the redaction filter."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    raw = formatter.format(record)
    extra = " ".join(str(v) for v in vars(record).values())
    RedactingFilter().filter(record)
    return [raw, extra, formatter.format(record)]


def sensitive_leaks(records: list[logging.LogRecord]) -> list[str]:
    """Names of the loggers whose records hold a registered sensitive value."""
    return sorted(
        {
            record.name
            for record in records
            for text in _texts(record)
            for value in SENSITIVE
            if value and value in text
        }
    )


@pytest.fixture(autouse=True)
def _no_sensitive_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every log record of the test at DEBUG; none may hold a registered secret."""
    caplog.set_level(logging.DEBUG)
    yield
    leaks = sensitive_leaks(caplog.records)
    assert not leaks, f"sensitive values in log records of: {leaks}"
