"""The issuer's schema migrations (servicekit.database.migrate, component ``issuer``).

Version 1 creates the tables of :mod:`issuer.models` as they are in release 0.1 and seeds
the counters. Any later change to a model needs a new
:class:`~servicekit.database.Migration` with explicit DDL (and version 1 must then be
frozen as DDL text rather than ``create_all``).
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from issuer.models import (
    ActivationCodeRecord,
    ApiKeyRecord,
    AuditEvent,
    CardRecord,
    CertificateRecord,
    ChallengeRecord,
    CounterRecord,
    CredentialRecord,
    CrlRecord,
    EnrollmentFailure,
    IssuerBase,
    table_of,
)
from servicekit.database import Migration, migrate

__all__ = [
    "COMPONENT",
    "COUNTER_CRL_NUMBER",
    "COUNTER_REVOCATIONS",
    "MIGRATIONS",
    "migrate_database",
]

COMPONENT = "issuer"
COUNTER_REVOCATIONS = "revocations"
COUNTER_CRL_NUMBER = "crl_number"


def _create_tables(conn: Connection) -> None:
    IssuerBase.metadata.create_all(
        conn,
        tables=[
            table_of(model)
            for model in (
                CardRecord,
                ActivationCodeRecord,
                CredentialRecord,
                CertificateRecord,
                ChallengeRecord,
                ApiKeyRecord,
                AuditEvent,
                EnrollmentFailure,
                CounterRecord,
                CrlRecord,
            )
        ],
    )
    conn.execute(
        insert(table_of(CounterRecord)),
        [{"name": COUNTER_REVOCATIONS, "value": 0}, {"name": COUNTER_CRL_NUMBER, "value": 0}],
    )


MIGRATIONS = (
    Migration(
        1, "cards, activation codes, credentials, certificates, challenges, keys", _create_tables
    ),
)


async def migrate_database(engine: AsyncEngine) -> int:
    """Bring the issuer schema up to date; return its version."""
    return await migrate(engine, COMPONENT, MIGRATIONS)
