"""Database access for accounts, checkouts, evidence and idempotency (SQLAlchemy Core).

The hot path (``POST /v1/checkouts/{id}/verify``) makes two database round trips:

1. **peek**: one ``SELECT`` that authenticates the API key *and* loads the checkout
   (``checkouts JOIN api_keys``), on an autocommit connection so no ``BEGIN``/``ROLLBACK``
   is sent around it;
2. **settle**: one statement that consumes the nonce and stores verdict and evidence
   atomically. On PostgreSQL that is a single autocommit statement,
   ``WITH consumed AS (UPDATE ... WHERE id = :id AND nonce_consumed_at IS NULL AND
   expires_at > :now RETURNING id) INSERT INTO merchant_evidence ... SELECT ... FROM
   consumed``; on SQLite (no data-modifying CTEs) the ``UPDATE`` and ``INSERT`` run in one
   local transaction. Either way "row count 1" means this request consumed the nonce and
   every concurrent one sees 0 (``nonce_replayed``).

Rows are read into small frozen dataclasses rather than ORM objects: cheaper, and nothing
lazy can touch the database behind a handler's back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Text, and_, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from merchant.models import (
    ApiKey,
    Checkout,
    CheckoutState,
    EvidenceRecord,
    IdempotencyRecord,
    MerchantAccount,
    UtcDateTime,
    table_of,
)
from servicekit.inline_sqlite import InlineSqlite
from servicekit.sql_connection import SqlConnections

__all__ = [
    "CheckoutView",
    "EvidenceRow",
    "IdempotencyConflict",
    "MerchantView",
    "Store",
    "VerdictUpdate",
]


_ACCOUNTS = table_of(MerchantAccount)
_KEYS = table_of(ApiKey)
_CHECKOUTS = table_of(Checkout)
_EVIDENCE = table_of(EvidenceRecord)
_IDEMPOTENCY = table_of(IdempotencyRecord)
_OPEN_STATES = (CheckoutState.PENDING.value, CheckoutState.UNAVAILABLE.value)

_CHECKOUT_COLUMNS = (
    _CHECKOUTS.c.id,
    _CHECKOUTS.c.merchant_id,
    _CHECKOUTS.c.merchant_name,
    _CHECKOUTS.c.order_reference,
    _CHECKOUTS.c.amount,
    _CHECKOUTS.c.currency,
    _CHECKOUTS.c.return_url,
    _CHECKOUTS.c.origin,
    _CHECKOUTS.c.nonce,
    _CHECKOUTS.c.card_bin,
    _CHECKOUTS.c.card_last4,
    _CHECKOUTS.c.issuer_origin,
    _CHECKOUTS.c.state,
    _CHECKOUTS.c.created_at,
    _CHECKOUTS.c.expires_at,
    _CHECKOUTS.c.nonce_consumed_at,
    _CHECKOUTS.c.card_data,
    _CHECKOUTS.c.verdict_result,
    _CHECKOUTS.c.verdict_code,
    _CHECKOUTS.c.liability_shift,
    _CHECKOUTS.c.confirmation,
    _CHECKOUTS.c.revocation_source,
    _CHECKOUTS.c.revocation_checked,
    _CHECKOUTS.c.evidence_id,
    _CHECKOUTS.c.verified_at,
    _CHECKOUTS.c.attempts,
)


_CHECKOUT_KEYS = tuple(column.key for column in _CHECKOUT_COLUMNS)


# Hot-path statements, built once with bind parameters: SQLAlchemy memoises a statement's
# cache key on the object, so reusing it skips per-request compilation work.
_PEEK = (
    select(*_CHECKOUT_COLUMNS)
    .join(_KEYS, _KEYS.c.merchant_id == _CHECKOUTS.c.merchant_id)
    .where(
        _CHECKOUTS.c.id == bindparam("p_checkout_id"),
        _KEYS.c.key_hash == bindparam("p_key_hash"),
        _KEYS.c.revoked_at.is_(None),
    )
)
_CHECKOUT_BY_ID = select(*_CHECKOUT_COLUMNS).where(_CHECKOUTS.c.id == bindparam("p_checkout_id"))
_MERCHANT_FOR_KEY = (
    select(_ACCOUNTS.c.id, _ACCOUNTS.c.name, _ACCOUNTS.c.allowed_origins)
    .join(_KEYS, _KEYS.c.merchant_id == _ACCOUNTS.c.id)
    .where(_KEYS.c.key_hash == bindparam("p_key_hash"), _KEYS.c.revoked_at.is_(None))
)
_KEY_VALID = select(_KEYS.c.merchant_id).where(
    _KEYS.c.key_hash == bindparam("p_key_hash"), _KEYS.c.revoked_at.is_(None)
)
# Every column a new checkout sets (merchant.checkouts builds exactly these keys).
_CHECKOUT_INSERT_KEYS = (
    "id",
    "merchant_id",
    "merchant_name",
    "order_reference",
    "amount",
    "currency",
    "return_url",
    "origin",
    "nonce",
    "card_bin",
    "card_last4",
    "issuer_origin",
    "display",
    "state",
    "created_at",
    "expires_at",
    "card_data",
    "attempts",
)
_INSERT_CHECKOUT = insert(_CHECKOUTS).values(
    {key: bindparam(f"p_{key}", type_=_CHECKOUTS.c[key].type) for key in _CHECKOUT_INSERT_KEYS}
)
_IDEMPOTENCY_RECORD = select(
    _IDEMPOTENCY.c.request_hash, _IDEMPOTENCY.c.status, _IDEMPOTENCY.c.response
).where(
    _IDEMPOTENCY.c.merchant_id == bindparam("p_merchant_id"),
    _IDEMPOTENCY.c.key == bindparam("p_key"),
)
_EVIDENCE_DOCUMENT = select(_EVIDENCE.c.document).where(
    _EVIDENCE.c.id == bindparam("p_evidence_id"),
    _EVIDENCE.c.merchant_id == bindparam("p_merchant_id"),
)


def _checkout_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    if values.keys() != set(_CHECKOUT_INSERT_KEYS):
        raise ValueError("a new checkout sets exactly the columns of _CHECKOUT_INSERT_KEYS")
    return {f"p_{key}": value for key, value in values.items()}


_VERDICT_VALUES = {
    "state": bindparam("p_state"),
    "verdict_result": bindparam("p_verdict_result"),
    "verdict_code": bindparam("p_verdict_code", type_=Text()),
    "liability_shift": bindparam("p_liability_shift", type_=Boolean()),
    "confirmation": bindparam("p_confirmation", type_=Text()),
    "revocation_source": bindparam("p_revocation_source"),
    "revocation_checked": bindparam("p_revocation_checked", type_=Boolean()),
    "evidence_id": bindparam("p_evidence_id"),
    "verified_at": bindparam("p_now", type_=UtcDateTime()),
    "card_data": None,
    "attempts": _CHECKOUTS.c.attempts + 1,
}
# "Consume if unused and unexpired": one conditional UPDATE (row count 1 = this request won).
_CONSUME = (
    update(_CHECKOUTS)
    .where(
        _CHECKOUTS.c.id == bindparam("p_checkout_id"),
        _CHECKOUTS.c.nonce_consumed_at.is_(None),
        _CHECKOUTS.c.expires_at > bindparam("p_now", type_=UtcDateTime()),
    )
    .values(nonce_consumed_at=bindparam("p_now", type_=UtcDateTime()), **_VERDICT_VALUES)
)
_EVIDENCE_COLUMNS = ["id", "checkout_id", "merchant_id", "created_at", "result", "code", "document"]
_INSERT_EVIDENCE = insert(_EVIDENCE).values(
    id=bindparam("p_evidence_id"),
    checkout_id=bindparam("p_checkout_id"),
    merchant_id=bindparam("p_merchant_id"),
    created_at=bindparam("p_now", type_=UtcDateTime()),
    result=bindparam("p_verdict_result"),
    code=bindparam("p_evidence_code", type_=Text()),
    document=bindparam("p_document", type_=Text()),
)
_CONSUMED = _CONSUME.returning(_CHECKOUTS.c.id).cte("consumed")
# PostgreSQL: consume and record in one statement (a data-modifying CTE).
_SETTLE_POSTGRES = insert(_EVIDENCE).from_select(
    _EVIDENCE_COLUMNS,
    select(
        bindparam("p_evidence_id", type_=Text()),
        _CONSUMED.c.id,
        bindparam("p_merchant_id", type_=Text()),
        bindparam("p_now", type_=UtcDateTime()),
        bindparam("p_verdict_result", type_=Text()),
        bindparam("p_evidence_code", type_=Text()),
        bindparam("p_document", type_=Text()),
    ).select_from(_CONSUMED),
)


def _names(statement: Any) -> frozenset[str]:
    # Only our named parameters; literals such as the 1 in "attempts + 1" bind themselves.
    return frozenset(name for name in statement.compile().params if name.startswith("p_"))


# An "unavailable" verdict is written while the nonce stays unused (it may be retried).
_RECORD_VERDICT = (
    update(_CHECKOUTS)
    .where(
        _CHECKOUTS.c.id == bindparam("p_checkout_id"),
        _CHECKOUTS.c.nonce_consumed_at.is_(None),
    )
    .values(**_VERDICT_VALUES)
)
_CONSUME_NAMES = _names(_CONSUME)
_RECORD_VERDICT_NAMES = _names(_RECORD_VERDICT)
_INSERT_EVIDENCE_NAMES = _names(_INSERT_EVIDENCE)
_SETTLE_POSTGRES_NAMES = _names(_SETTLE_POSTGRES)


def _only(names: frozenset[str], parameters: dict[str, Any]) -> dict[str, Any]:
    return {name: parameters[name] for name in names}


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantView:
    id: str
    name: str
    allowed_origins: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckoutView:
    """One checkout row. ``card_data`` is ciphertext (or None) and never appears in repr."""

    id: str
    merchant_id: str
    merchant_name: str
    order_reference: str | None
    amount: str
    currency: str
    return_url: str
    origin: str
    nonce: str
    card_bin: str
    card_last4: str
    issuer_origin: str
    state: str
    created_at: datetime
    expires_at: datetime
    nonce_consumed_at: datetime | None
    card_data: bytes | None
    verdict_result: str | None
    verdict_code: str | None
    liability_shift: bool | None
    confirmation: str | None
    revocation_source: str | None
    revocation_checked: bool | None
    evidence_id: str | None
    verified_at: datetime | None
    attempts: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> CheckoutView:
        """A row of ``_CHECKOUT_COLUMNS``, read by position (no name mapping built)."""
        return cls(**dict(zip(_CHECKOUT_KEYS, row, strict=True)))

    def nonce_unused(self, now: datetime) -> bool:
        """Unused and unexpired at ``now`` (the peek)."""
        return (
            self.nonce_consumed_at is None and self.state in _OPEN_STATES and self.expires_at > now
        )

    def current_state(self, now: datetime) -> str:
        """The state, with lazy expiry applied."""
        if self.state in _OPEN_STATES and self.expires_at <= now:
            return CheckoutState.EXPIRED.value
        return self.state

    def __repr__(self) -> str:
        return f"CheckoutView(id={self.id!r}, state={self.state!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictUpdate:
    """What a verdict writes into its checkout."""

    state: str
    result: str
    code: str | None
    liability_shift: bool
    confirmation: str | None
    revocation_source: str
    revocation_checked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceRow:
    id: str
    checkout_id: str
    merchant_id: str
    result: str
    code: str | None
    document: str


class IdempotencyConflict(Exception):
    """An idempotency record for this key exists (carries it)."""

    def __init__(self, request_hash: str, status: int, response: str) -> None:
        super().__init__("idempotency key already used")
        self.request_hash = request_hash
        self.status = status
        self.response = response


class Store:
    """All queries of the merchant service. One per process, around one engine."""

    def __init__(
        self,
        engine: AsyncEngine,
        autocommit: AsyncEngine | None = None,
        *,
        inline: InlineSqlite | None = None,
    ) -> None:
        """``engine`` runs transactions; ``autocommit`` (PostgreSQL: an engine-level
        AUTOCOMMIT pool, servicekit.database.make_connections) runs reads and single
        statements. On SQLite one engine serves both: pysqlite never opens a transaction
        for a SELECT; with ``inline`` (the service's own store) SQLite statements run on
        the event loop's thread instead (servicekit.inline_sqlite: no thread hand-off per
        statement)."""
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        if autocommit is None and self._postgres:
            autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # The service's store passes ``inline``: its writers then queue per process in
        # InlineSqlite and take SQLite's lock with BEGIN IMMEDIATE. The stores built for one
        # operator command at a time (create-merchant, the demo account) use the engine.
        connections = SqlConnections(engine, autocommit or engine, inline)
        self._write = connections.write  # a write transaction
        self._read = connections.read  # reads and single autocommit statements

    # --- accounts ------------------------------------------------------------------

    async def create_merchant(
        self,
        *,
        merchant_id: str,
        name: str,
        allowed_origins: tuple[str, ...],
        key_hash: str,
        now: datetime,
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(_ACCOUNTS).values(
                    id=merchant_id,
                    name=name,
                    allowed_origins=json.dumps(list(allowed_origins)),
                    created_at=now,
                )
            )
            await conn.execute(
                insert(_KEYS).values(key_hash=key_hash, merchant_id=merchant_id, created_at=now)
            )

    async def add_api_key(self, *, merchant_id: str, key_hash: str, now: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(_KEYS).values(key_hash=key_hash, merchant_id=merchant_id, created_at=now)
            )

    async def merchant_by_name(self, name: str) -> MerchantView | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(_ACCOUNTS.c.id, _ACCOUNTS.c.name, _ACCOUNTS.c.allowed_origins)
                    .where(_ACCOUNTS.c.name == name)
                    .order_by(_ACCOUNTS.c.created_at)
                    .limit(1)
                )
            ).first()
        return None if row is None else _merchant(tuple(row))

    async def update_allowed_origins(self, merchant_id: str, origins: tuple[str, ...]) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(_ACCOUNTS)
                .where(_ACCOUNTS.c.id == merchant_id)
                .values(allowed_origins=json.dumps(list(origins)))
            )

    async def merchant_for_key(self, key_hash: str) -> MerchantView | None:
        """The merchant owning an unrevoked API key (by its hash)."""
        async with self._read() as conn:
            row = (await conn.execute(_MERCHANT_FOR_KEY, {"p_key_hash": key_hash})).first()
        return None if row is None else _merchant(tuple(row))

    # --- checkouts -----------------------------------------------------------------

    async def insert_checkout(
        self,
        values: dict[str, Any],
        *,
        idempotency: tuple[str, str, int, str] | None = None,
        now: datetime,
    ) -> None:
        """Insert a checkout (and its idempotency record, atomically).

        Raises:
            IdempotencyConflict: the (merchant, key) pair is already recorded.
        """
        if idempotency is None and self._postgres:
            async with self._read() as conn:  # one statement, one round trip
                await conn.execute(_INSERT_CHECKOUT, _checkout_parameters(values))
            return
        try:
            async with self._write() as conn:
                if idempotency is not None:
                    key, request_hash, status, response = idempotency
                    await conn.execute(
                        insert(_IDEMPOTENCY).values(
                            merchant_id=values["merchant_id"],
                            key=key,
                            request_hash=request_hash,
                            status=status,
                            response=response,
                            created_at=now,
                        )
                    )
                await conn.execute(_INSERT_CHECKOUT, _checkout_parameters(values))
        except IntegrityError:
            if idempotency is None:
                raise
            existing = await self.idempotency_record(values["merchant_id"], idempotency[0])
            if existing is None:
                raise
            raise existing from None

    async def idempotency_record(self, merchant_id: str, key: str) -> IdempotencyConflict | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    _IDEMPOTENCY_RECORD, {"p_merchant_id": merchant_id, "p_key": key}
                )
            ).first()
        return None if row is None else IdempotencyConflict(row[0], row[1], row[2])

    async def checkout_for_key(
        self, checkout_id: str, key_hash: str
    ) -> tuple[CheckoutView | None, bool]:
        """The peek: ``(checkout, key_valid)`` in one round trip when the checkout exists.

        A checkout of another merchant is reported as absent.
        """
        async with self._read() as conn:
            row = (
                await conn.execute(_PEEK, {"p_checkout_id": checkout_id, "p_key_hash": key_hash})
            ).first()
            if row is not None:
                return CheckoutView.from_row(row), True
            # Rare path: tell "no such checkout" from "no such key".
            valid = (await conn.execute(_KEY_VALID, {"p_key_hash": key_hash})).first() is not None
        return None, valid

    async def checkout(self, checkout_id: str) -> CheckoutView | None:
        async with self._read() as conn:
            row = (await conn.execute(_CHECKOUT_BY_ID, {"p_checkout_id": checkout_id})).first()
        return None if row is None else CheckoutView.from_row(row)

    @staticmethod
    def _verdict_parameters(
        checkout_id: str, verdict: VerdictUpdate, evidence: EvidenceRow, now: datetime
    ) -> dict[str, Any]:
        return {
            "p_checkout_id": checkout_id,
            "p_now": now,
            "p_state": verdict.state,
            "p_verdict_result": verdict.result,
            "p_verdict_code": verdict.code,
            "p_liability_shift": verdict.liability_shift,
            "p_confirmation": verdict.confirmation,
            "p_revocation_source": verdict.revocation_source,
            "p_revocation_checked": verdict.revocation_checked,
            "p_evidence_id": evidence.id,
            "p_merchant_id": evidence.merchant_id,
            "p_evidence_code": evidence.code,
            "p_document": evidence.document,
        }

    async def settle(
        self, *, checkout_id: str, verdict: VerdictUpdate, evidence: EvidenceRow, now: datetime
    ) -> bool:
        """Consume the nonce, write the verdict, erase card data, store the evidence: all or
        nothing. False when the nonce was already consumed or has expired."""
        parameters = self._verdict_parameters(checkout_id, verdict, evidence, now)
        if self._postgres:
            async with self._read() as conn:
                result = await conn.execute(
                    _SETTLE_POSTGRES, _only(_SETTLE_POSTGRES_NAMES, parameters)
                )
            return result.rowcount == 1
        async with self._write() as conn:
            result = await conn.execute(_CONSUME, _only(_CONSUME_NAMES, parameters))
            if result.rowcount != 1:
                return False
            await conn.execute(_INSERT_EVIDENCE, _only(_INSERT_EVIDENCE_NAMES, parameters))
        return True

    async def record(
        self,
        *,
        checkout_id: str,
        evidence: EvidenceRow,
        now: datetime,
        verdict: VerdictUpdate | None = None,
    ) -> None:
        """Store evidence of a verdict that does not consume the nonce; with ``verdict``,
        also write it into the checkout (``unavailable``) while the nonce is unused."""
        parameters = {
            "p_checkout_id": checkout_id,
            "p_now": now,
            "p_verdict_result": evidence.result,
            "p_evidence_id": evidence.id,
            "p_merchant_id": evidence.merchant_id,
            "p_evidence_code": evidence.code,
            "p_document": evidence.document,
        }
        attempt = (
            update(_CHECKOUTS)
            .where(_CHECKOUTS.c.id == checkout_id, _CHECKOUTS.c.nonce_consumed_at.is_(None))
            .values(attempts=_CHECKOUTS.c.attempts + 1)
        )
        async with self._write() as conn:
            if verdict is None:
                await conn.execute(attempt)
            else:
                await conn.execute(
                    _RECORD_VERDICT,
                    _only(
                        _RECORD_VERDICT_NAMES,
                        self._verdict_parameters(checkout_id, verdict, evidence, now),
                    ),
                )
            await conn.execute(_INSERT_EVIDENCE, _only(_INSERT_EVIDENCE_NAMES, parameters))

    async def cancel(self, checkout_id: str, now: datetime) -> bool:
        """Cancel an open checkout: consume its nonce, erase card data."""
        async with self._write() as conn:
            result = await conn.execute(
                update(_CHECKOUTS)
                .where(
                    _CHECKOUTS.c.id == checkout_id,
                    _CHECKOUTS.c.nonce_consumed_at.is_(None),
                    _CHECKOUTS.c.state.in_(_OPEN_STATES),
                    _CHECKOUTS.c.expires_at > now,
                )
                .values(
                    state=CheckoutState.CANCELLED.value,
                    nonce_consumed_at=now,
                    card_data=None,
                    verified_at=now,
                )
            )
        return result.rowcount == 1

    async def expire(self, now: datetime, checkout_id: str | None = None) -> int:
        """Mark open checkouts past their expiry ``expired`` and erase any card data left
        on expired rows. Returns how many checkouts were expired."""
        due = _CHECKOUTS.c.expires_at <= now
        if checkout_id is not None:
            due = and_(due, _CHECKOUTS.c.id == checkout_id)
        async with self._write() as conn:
            result = await conn.execute(
                update(_CHECKOUTS)
                .where(due, _CHECKOUTS.c.state.in_(_OPEN_STATES))
                .values(state=CheckoutState.EXPIRED.value, card_data=None)
            )
            await conn.execute(
                update(_CHECKOUTS)
                .where(due, _CHECKOUTS.c.card_data.is_not(None))
                .values(card_data=None)
            )
        return int(result.rowcount)

    async def forget_idempotency(self, before: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(delete(_IDEMPOTENCY).where(_IDEMPOTENCY.c.created_at < before))

    # --- evidence ------------------------------------------------------------------

    async def evidence(self, evidence_id: str, merchant_id: str) -> str | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    _EVIDENCE_DOCUMENT,
                    {"p_evidence_id": evidence_id, "p_merchant_id": merchant_id},
                )
            ).first()
        return None if row is None else str(row[0])

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))


def _merchant(row: tuple[Any, ...]) -> MerchantView:
    return MerchantView(id=row[0], name=row[1], allowed_origins=tuple(json.loads(row[2])))
