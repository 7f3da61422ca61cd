"""The merchant's tables, as SQLModel classes in their own registry.

Tables are prefixed ``merchant_`` and live in their own SQLAlchemy metadata, so the issuer
and the merchant can share a database (and a Python process, in tests) without clashing.
Times are timezone-aware UTC in Python; :class:`UtcDateTime` stores them as naive UTC on
SQLite (which has no time zones) and ``timestamptz`` on PostgreSQL, so comparisons such
as ``expires_at > :now`` work the same on both.

No column ever holds a PAN or security code in clear: ``merchant_checkouts.card_data`` is
AES-256-GCM ciphertext (:mod:`merchant.card_vault`) and is nulled once a verdict is reached
or the checkout expires.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Table, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from servicekit.utc_datetime import UtcDateTime

__all__ = [
    "ApiKey",
    "Checkout",
    "CheckoutState",
    "EvidenceRecord",
    "IdempotencyRecord",
    "IssuerRecord",
    "MerchantAccount",
    "MerchantBase",
    "UtcDateTime",
    "table_of",
]


class MerchantBase(SQLModel, registry=registry()):
    """Base of the merchant's tables (own metadata)."""


class CheckoutState(StrEnum):
    PENDING = "pending"
    AUTHENTICATED = "authenticated"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


def _time(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class MerchantAccount(MerchantBase, table=True):
    """A merchant (tenant). ``allowed_origins`` is a JSON list of serialised origins."""

    __tablename__ = "merchant_accounts"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    allowed_origins: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time()


class ApiKey(MerchantBase, table=True):
    """A merchant API key, stored only as its SHA-256 hash (servicekit.api_keys)."""

    __tablename__ = "merchant_api_keys"

    key_hash: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchant_accounts.id", index=True, max_length=40)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)


class IssuerRecord(MerchantBase, table=True):
    """One participating issuer from its metadata (docs/interfaces.md, section 1)."""

    __tablename__ = "merchant_issuers"

    origin: str = Field(primary_key=True, max_length=200)
    name: str = Field(max_length=100)
    ca_certificate: str = Field(sa_column=Column(Text, nullable=False))
    bin_prefixes: str = Field(sa_column=Column(Text, nullable=False))
    pay_url: str = Field(max_length=2048)
    ocsp_url: str | None = Field(default=None, max_length=2048)
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=2048)
    updated_at: datetime = _time()


class Checkout(MerchantBase, table=True):
    """A checkout: what the merchant expects to be signed, its nonce, and its verdict."""

    __tablename__ = "merchant_checkouts"
    __table_args__ = (Index("ix_merchant_checkouts_expiry", "state", "expires_at"),)

    id: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchant_accounts.id", index=True, max_length=40)
    merchant_name: str = Field(max_length=100)
    order_reference: str | None = Field(default=None, max_length=128)
    amount: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    return_url: str = Field(max_length=2048)
    origin: str = Field(max_length=300)
    nonce: str = Field(max_length=100)
    card_bin: str = Field(max_length=8)
    card_last4: str = Field(max_length=4)
    issuer_origin: str = Field(max_length=200)
    display: str = Field(max_length=16)
    state: str = Field(max_length=16)
    created_at: datetime = _time()
    expires_at: datetime = _time()
    nonce_consumed_at: datetime | None = _time(nullable=True)
    card_data: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    verdict_result: str | None = Field(default=None, max_length=16)
    verdict_code: str | None = Field(default=None, max_length=64)
    liability_shift: bool | None = None
    confirmation: str | None = Field(default=None, max_length=16)
    revocation_source: str | None = Field(default=None, max_length=16)
    revocation_checked: bool | None = None
    evidence_id: str | None = Field(default=None, max_length=64)
    verified_at: datetime | None = _time(nullable=True)
    attempts: int = 0


class EvidenceRecord(MerchantBase, table=True):
    """The evidence of one verdict; ``document`` is the exported JSON text, byte for byte."""

    __tablename__ = "merchant_evidence"

    id: str = Field(primary_key=True, max_length=64)
    checkout_id: str = Field(index=True, max_length=64)
    merchant_id: str = Field(index=True, max_length=40)
    created_at: datetime = _time()
    result: str = Field(max_length=16)
    code: str | None = Field(default=None, max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))


class IdempotencyRecord(MerchantBase, table=True):
    """A remembered ``POST /v1/checkouts`` answer for one (merchant, Idempotency-Key)."""

    __tablename__ = "merchant_idempotency"

    merchant_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    status: int
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time(index=True)


def table_of(model: type[MerchantBase]) -> Table:
    """The SQLAlchemy ``Table`` of a table model (for Core statements on hot paths)."""
    table = model.__table__  # type: ignore[attr-defined]
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table
