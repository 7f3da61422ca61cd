"""A private PostgreSQL cluster for one ``make bench`` run, with a fresh database per use.

The cluster is ``tests.postgres_cluster.running_cluster()`` (Debian's PostgreSQL binaries,
127.0.0.1, ``fsync=off``), started once and stopped when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Cluster", "cluster"]


@dataclass(slots=True)
class Cluster:
    """A running cluster; :meth:`database` creates an empty database and returns its URL."""

    url: str  # postgresql://postgres@127.0.0.1:PORT/postgres
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def database(self, prefix: str) -> str:
        import asyncpg  # type: ignore[import-untyped]

        name = f"{prefix}_{next(self._numbers)}"

        async def create() -> None:
            connection = await asyncpg.connect(self.url)
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        return f"{self.url.rsplit('/', 1)[0]}/{name}"


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a private cluster (RuntimeError when PostgreSQL is not installed); stop it."""
    from tests.postgres_cluster import running_cluster

    with running_cluster() as url:
        yield Cluster(url)
