"""Audit events: one row per state change, in the same transaction as the change.

``detail`` is a small JSON object of non-secret facts (reason, serial number, error code);
never card data, activation codes, secrets or keys. Actors are ``api-key:<first 8 hex of the
key hash>``, ``operator-cli``, ``cardholder`` or ``system``.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, insert

from issuer.models import AuditEvent, table_of
from servicekit.sql_connection import SqlConnection

__all__ = ["record_audit_event"]

_AUDIT = table_of(AuditEvent)
_INSERT = insert(_AUDIT).values(
    at=bindparam("p_at"),
    action=bindparam("p_action"),
    actor=bindparam("p_actor"),
    card_id=bindparam("p_card_id"),
    credential_id=bindparam("p_credential_id"),
    detail=bindparam("p_detail"),
)


async def record_audit_event(
    conn: SqlConnection,
    *,
    action: str,
    actor: str,
    at: datetime,
    card_id: str | None = None,
    credential_id: str | None = None,
    **detail: str | int | None,
) -> None:
    """Insert an audit row in the caller's transaction (inside an ORM unit of work, pass
    ``await session.connection()``)."""
    await conn.execute(
        _INSERT,
        {
            "p_at": at,
            "p_action": action,
            "p_actor": actor,
            "p_card_id": card_id,
            "p_credential_id": credential_id,
            "p_detail": json.dumps(
                {k: v for k, v in detail.items() if v is not None}, separators=(",", ":")
            ),
        },
    )
