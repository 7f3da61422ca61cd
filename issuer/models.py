"""The issuer's tables, as SQLModel classes in their own registry (prefix ``issuer_``).

Tables live in their own SQLAlchemy metadata, so the issuer and the merchant can share a
database (and a Python process, in tests) without clashing. Times are timezone-aware UTC in
Python; :class:`UtcDateTime` stores naive UTC on SQLite and ``timestamptz`` on PostgreSQL.

What is stored, and how it is protected (docs/issuer.md, "Data at rest"):

* ``issuer_cards.card_data``: AES-256-GCM ciphertext of PAN, expiry, security code and
  name (:mod:`issuer.card_vault`); ``pan_hash`` is a keyed HMAC; BIN and last four digits
  are kept in clear for display (PCI DSS allows first six / last four).
* ``issuer_activation_codes.code_hash``: keyed HMAC of the code; never the code.
* ``issuer_credentials``: the public key and the card-data *digest* (to re-mint on renewal),
  never the card-data secret, which the issuer forgets after enrollment.
* ``issuer_certificates``: every certificate minted, with its DER and revocation state.
* ``issuer_api_keys.key_hash``: SHA-256 of the back-office key (servicekit.api_keys).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Table, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servicekit.utc_datetime import UtcDateTime

__all__ = [
    "ActivationCodeRecord",
    "ApiKeyRecord",
    "AuditEvent",
    "CardRecord",
    "CardStatus",
    "CertificateRecord",
    "CertificateStatus",
    "ChallengeRecord",
    "CounterRecord",
    "CredentialRecord",
    "CredentialStatus",
    "CrlRecord",
    "EnrollmentFailure",
    "IssuerBase",
    "UtcDateTime",
    "table_of",
]


class IssuerBase(SQLModel, registry=registry()):
    """Base of the issuer's tables (own metadata)."""


class CardStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class CertificateStatus(StrEnum):
    """``superseded``: replaced by a renewal (and revoked with reason superseded)."""

    GOOD = "good"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


def _blob(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(LargeBinary, nullable=nullable))


class CardRecord(IssuerBase, table=True):
    """A registered card. ``card_data`` is ciphertext; ``pan_hash`` a keyed HMAC."""

    __tablename__ = "issuer_cards"

    id: str = Field(primary_key=True, max_length=40)
    pan_hash: str = Field(max_length=64, unique=True)
    bin: str = Field(max_length=8)
    last4: str = Field(max_length=4)
    card_data: bytes = _blob()
    status: str = Field(max_length=16)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)
    revocation_reason: str | None = Field(default=None, max_length=32)


class ActivationCodeRecord(IssuerBase, table=True):
    """A one-time activation code (stored as a keyed hash) and its attempt counter."""

    __tablename__ = "issuer_activation_codes"
    __table_args__ = (Index("ix_issuer_activation_codes_locator", "locator", "expires_at"),)

    id: str = Field(primary_key=True, max_length=40)
    card_id: str = Field(foreign_key="issuer_cards.id", index=True, max_length=40)
    locator: str = Field(max_length=8)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _time()
    expires_at: datetime = _time()
    failed_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    consumed_at: datetime | None = _time(nullable=True)
    public_key_sha256: str | None = Field(default=None, max_length=64)
    credential_id: str | None = Field(default=None, max_length=40)


class CredentialRecord(IssuerBase, table=True):
    """One enrolled key for one card. ``activation_code_id`` is UNIQUE: one credential per
    activation code, whatever happens concurrently."""

    __tablename__ = "issuer_credentials"

    id: str = Field(primary_key=True, max_length=40)
    card_id: str = Field(foreign_key="issuer_cards.id", index=True, max_length=40)
    activation_code_id: str = Field(
        foreign_key="issuer_activation_codes.id", unique=True, max_length=40
    )
    public_key: bytes = _blob()
    public_key_sha256: str = Field(max_length=64)
    card_data_digest: bytes = _blob()
    status: str = Field(max_length=16)
    created_at: datetime = _time()
    renewed_at: datetime | None = _time(nullable=True)
    revoked_at: datetime | None = _time(nullable=True)
    revocation_reason: str | None = Field(default=None, max_length=32)


class CertificateRecord(IssuerBase, table=True):
    """Every card certificate minted. ``serial`` is 40 lower-case hex digits (20 octets)."""

    __tablename__ = "issuer_certificates"
    __table_args__ = (Index("ix_issuer_certificates_status", "status", "not_after"),)

    serial: str = Field(primary_key=True, max_length=40)
    fingerprint: str = Field(max_length=43, unique=True)
    credential_id: str = Field(foreign_key="issuer_credentials.id", index=True, max_length=40)
    der: bytes = _blob()
    not_before: datetime = _time()
    not_after: datetime = _time()
    status: str = Field(max_length=16)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)
    revocation_reason: str | None = Field(default=None, max_length=32)
    superseded_by: str | None = Field(default=None, max_length=40)


class ChallengeRecord(IssuerBase, table=True):
    """An enrollment/renewal challenge (stored as SHA-256), single use."""

    __tablename__ = "issuer_challenges"

    challenge_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = _time()
    expires_at: datetime = _time(index=True)
    consumed_at: datetime | None = _time(nullable=True)
    consumed_for: str | None = Field(default=None, max_length=64)


class ApiKeyRecord(IssuerBase, table=True):
    """A back-office API key, stored only as its SHA-256 hash."""

    __tablename__ = "issuer_api_keys"

    key_hash: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)


class AuditEvent(IssuerBase, table=True):
    """What happened, by whom, to which card/credential. ``detail`` is JSON without secrets."""

    __tablename__ = "issuer_audit_events"

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    at: datetime = _time(index=True)
    action: str = Field(max_length=40)
    actor: str = Field(max_length=64)
    card_id: str | None = Field(default=None, max_length=40, index=True)
    credential_id: str | None = Field(default=None, max_length=40)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class EnrollmentFailure(IssuerBase, table=True):
    """A failed enrollment, for the per-client failure budget shared by all workers."""

    __tablename__ = "issuer_enrollment_failures"
    __table_args__ = (Index("ix_issuer_enrollment_failures_client", "client", "at"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    client: str = Field(max_length=64)
    at: datetime = _time()
    code: str = Field(max_length=64)


class CounterRecord(IssuerBase, table=True):
    """Monotonic counters: ``revocations`` (bumped by every revocation) and ``crl_number``."""

    __tablename__ = "issuer_counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class CrlRecord(IssuerBase, table=True):
    """A signed CRL, shared by all workers; ``revision`` is the ``revocations`` counter it
    reflects. The newest row is served until a revocation or ``ISSUER_CRL_REFRESH``."""

    __tablename__ = "issuer_crls"

    number: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    revision: int = Field(sa_column=Column(BigInteger, nullable=False))
    this_update: datetime = _time()
    next_update: datetime = _time()
    der: bytes = _blob()


def table_of(model: type[IssuerBase]) -> Table:
    """The SQLAlchemy ``Table`` of a table model."""
    table = model.__table__  # type: ignore[attr-defined]
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table
