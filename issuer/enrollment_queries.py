"""The database statements of enrollment, as SQLAlchemy Core built once.

Enrollment is a cardholder hot path: its statements run on a plain connection
(``IssuerResources.sql``, a :class:`servicekit.sql_connection.SqlConnections`), inline on
the event loop's thread on SQLite (servicekit/inline_sqlite.py), with no ORM unit of work
around them. The
rows they return are small views; the certificate row comes back as a
:class:`~issuer.models.CertificateRecord`, as the ORM would give it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from issuer.models import (
    ActivationCodeRecord,
    CardRecord,
    CertificateRecord,
    CertificateStatus,
    CredentialRecord,
    CredentialStatus,
    table_of,
)
from servicekit.sql_connection import SqlConnection

__all__ = [
    "CodeAndCard",
    "CodeState",
    "CredentialOfCode",
    "WrongGuess",
    "claim_code",
    "code_and_card",
    "code_state",
    "count_wrong_guess",
    "credential_of_code",
    "current_certificate",
    "insert_certificate",
    "insert_credential",
]

_CODES = table_of(ActivationCodeRecord)
_CARDS = table_of(CardRecord)
_CREDENTIALS = table_of(CredentialRecord)
_CERTIFICATES = table_of(CertificateRecord)

# A code that may still be claimed: unconsumed, unexpired, not locked.
_CLAIMABLE = (
    _CODES.c.consumed_at.is_(None),
    _CODES.c.expires_at > bindparam("p_now"),
    _CODES.c.failed_attempts < bindparam("p_max_attempts"),
)

_CODE_AND_CARD = (
    select(
        _CODES.c.id,
        _CARDS.c.id.label("card_id"),
        _CARDS.c.status,
        _CARDS.c.card_data,
        _CARDS.c.bin,
        _CARDS.c.last4,
    )
    .select_from(_CODES.join(_CARDS, _CARDS.c.id == _CODES.c.card_id))
    .where(_CODES.c.code_hash == bindparam("p_code_hash"))
)
_WRONG_GUESS = (
    update(_CODES)
    .where(_CODES.c.locator == bindparam("p_locator"), *_CLAIMABLE)
    .values(failed_attempts=_CODES.c.failed_attempts + 1)
    .returning(_CODES.c.id, _CODES.c.card_id, _CODES.c.failed_attempts)
)
_CLAIM = (
    update(_CODES)
    .where(_CODES.c.id == bindparam("p_code_id"), *_CLAIMABLE)
    .values(
        consumed_at=bindparam("p_now"),
        public_key_sha256=bindparam("p_key_hash"),
        credential_id=bindparam("p_credential_id"),
    )
)
_CODE_STATE = select(
    _CODES.c.consumed_at,
    _CODES.c.failed_attempts,
    _CODES.c.expires_at,
    _CODES.c.public_key_sha256,
).where(_CODES.c.id == bindparam("p_code_id"))
_CREDENTIAL_OF_CODE = select(
    _CREDENTIALS.c.id, _CREDENTIALS.c.card_data_digest, _CREDENTIALS.c.status
).where(_CREDENTIALS.c.activation_code_id == bindparam("p_code_id"))
_INSERT_CREDENTIAL = insert(_CREDENTIALS).values(
    id=bindparam("p_id"),
    card_id=bindparam("p_card_id"),
    activation_code_id=bindparam("p_code_id"),
    public_key=bindparam("p_public_key"),
    public_key_sha256=bindparam("p_key_hash"),
    card_data_digest=bindparam("p_digest"),
    status=CredentialStatus.ACTIVE.value,
    created_at=bindparam("p_now"),
)
_INSERT_CERTIFICATE = insert(_CERTIFICATES).values(
    serial=bindparam("p_serial"),
    fingerprint=bindparam("p_fingerprint"),
    credential_id=bindparam("p_credential_id"),
    der=bindparam("p_der"),
    not_before=bindparam("p_not_before"),
    not_after=bindparam("p_not_after"),
    status=bindparam("p_status"),
    created_at=bindparam("p_created_at"),
)
_CURRENT_CERTIFICATE = (
    select(*_CERTIFICATES.c)
    .where(
        _CERTIFICATES.c.credential_id == bindparam("p_credential_id"),
        _CERTIFICATES.c.status == CertificateStatus.GOOD.value,
    )
    .order_by(_CERTIFICATES.c.created_at.desc())
    .limit(1)
)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CodeAndCard:
    """An activation code's id and its card (``card_data`` is the vault's ciphertext)."""

    code_id: str
    card_id: str
    card_status: str
    card_data: bytes
    card_bin: str
    card_last4: str

    def __repr__(self) -> str:
        return f"CodeAndCard(code_id={self.code_id!r}, card_id={self.card_id!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class WrongGuess:
    code_id: str
    card_id: str
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeState:
    consumed_at: datetime | None
    failed_attempts: int
    expires_at: datetime
    public_key_sha256: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialOfCode:
    credential_id: str
    card_data_digest: bytes
    status: str


async def code_and_card(conn: SqlConnection, code_hash: str) -> CodeAndCard | None:
    """The activation code with this keyed hash and its card, if there is one."""
    row = (await conn.execute(_CODE_AND_CARD, {"p_code_hash": code_hash})).first()
    if row is None:
        return None
    code_id, card_id, status, card_data, card_bin, last4 = row
    return CodeAndCard(
        code_id=code_id,
        card_id=card_id,
        card_status=status,
        card_data=bytes(card_data),
        card_bin=card_bin,
        card_last4=last4,
    )


async def count_wrong_guess(
    conn: SqlConnection, locator: str, *, now: datetime, max_attempts: int
) -> list[WrongGuess]:
    """Count a wrong code against every claimable code with ``locator``; the codes counted."""
    result = await conn.execute(
        _WRONG_GUESS, {"p_locator": locator, "p_now": now, "p_max_attempts": max_attempts}
    )
    return [
        WrongGuess(code_id=code_id, card_id=card_id, attempts=attempts)
        for code_id, card_id, attempts in result.all()
    ]


async def claim_code(
    conn: SqlConnection,
    code_id: str,
    *,
    key_hash: str,
    credential_id: str,
    now: datetime,
    max_attempts: int,
) -> bool:
    """Claim the code for ``key_hash`` with a conditional UPDATE; whether this call did."""
    result = await conn.execute(
        _CLAIM,
        {
            "p_code_id": code_id,
            "p_now": now,
            "p_max_attempts": max_attempts,
            "p_key_hash": key_hash,
            "p_credential_id": credential_id,
        },
    )
    return result.rowcount == 1


async def code_state(conn: SqlConnection, code_id: str) -> CodeState | None:
    row = (await conn.execute(_CODE_STATE, {"p_code_id": code_id})).first()
    if row is None:
        return None
    consumed_at, failed_attempts, expires_at, key_hash = row
    return CodeState(
        consumed_at=consumed_at,
        failed_attempts=failed_attempts,
        expires_at=expires_at,
        public_key_sha256=key_hash,
    )


async def credential_of_code(conn: SqlConnection, code_id: str) -> CredentialOfCode | None:
    row = (await conn.execute(_CREDENTIAL_OF_CODE, {"p_code_id": code_id})).first()
    if row is None:
        return None
    credential_id, digest, status = row
    return CredentialOfCode(
        credential_id=credential_id, card_data_digest=bytes(digest), status=status
    )


async def insert_credential(
    conn: SqlConnection,
    *,
    credential_id: str,
    card_id: str,
    code_id: str,
    public_key_der: bytes,
    key_hash: str,
    card_data_digest: bytes,
    now: datetime,
) -> None:
    await conn.execute(
        _INSERT_CREDENTIAL,
        {
            "p_id": credential_id,
            "p_card_id": card_id,
            "p_code_id": code_id,
            "p_public_key": public_key_der,
            "p_key_hash": key_hash,
            "p_digest": card_data_digest,
            "p_now": now,
        },
    )


async def insert_certificate(conn: SqlConnection, record: CertificateRecord) -> None:
    await conn.execute(
        _INSERT_CERTIFICATE,
        {
            "p_serial": record.serial,
            "p_fingerprint": record.fingerprint,
            "p_credential_id": record.credential_id,
            "p_der": record.der,
            "p_not_before": record.not_before,
            "p_not_after": record.not_after,
            "p_status": record.status,
            "p_created_at": record.created_at,
        },
    )


async def current_certificate(conn: SqlConnection, credential_id: str) -> CertificateRecord | None:
    """The credential's certificate with status ``good`` (the newest, should there be two)."""
    row = (await conn.execute(_CURRENT_CERTIFICATE, {"p_credential_id": credential_id})).first()
    return None if row is None else CertificateRecord(**row._mapping)
