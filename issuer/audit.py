"""Audit events: one row per state change, in the same transaction as the change.

``detail`` is a small JSON object of non-secret facts (reason, serial number, error code);
never card data, activation codes, secrets or keys. Actors are ``api-key:<first 8 hex of the
key hash>``, ``operator-cli``, ``cardholder`` or ``system``.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from issuer.models import AuditEvent

__all__ = ["record_audit_event"]


def record_audit_event(
    session: AsyncSession,
    *,
    action: str,
    actor: str,
    at: datetime,
    card_id: str | None = None,
    credential_id: str | None = None,
    **detail: str | int | None,
) -> None:
    """Add an audit row to ``session`` (committed with the caller's transaction)."""
    session.add(
        AuditEvent(
            at=at,
            action=action,
            actor=actor,
            card_id=card_id,
            credential_id=credential_id,
            detail=json.dumps(
                {k: v for k, v in detail.items() if v is not None}, separators=(",", ":")
            ),
        )
    )
