"""Merchant service settings: one frozen dataclass, read from ``MERCHANT_*`` environment variables.

:func:`Settings.from_env` is the only place that reads the environment; ``create_app``
takes a finished :class:`Settings` and never looks at ``os.environ`` or ``argv``. Every
bound is checked here, so a typo fails at start-up rather than on the first checkout.

======================================  ==========================================  =========
Variable                                Meaning                                     Default
======================================  ==========================================  =========
``MERCHANT_DATABASE_URL`` /             SQLAlchemy URL (``sqlite:///...``,          SQLite in
``DATABASE_URL``                        ``postgresql://...``)                       data dir
``MERCHANT_DATA_DIR``                   SQLite file, dev card-data key              .data/merchant
``MERCHANT_TRUST_ROOTS``                network root PEM file(s), ``:``-separated   (required)
``MERCHANT_MAX_STATUS_AGE``             max age of a revocation status, seconds     86400
``MERCHANT_REVOCATION_MODE``            ``hard`` or ``soft``                        ``hard``
``MERCHANT_OCSP_TIMEOUT``               live OCSP timeout, seconds (0.1 .. 10)      2
``MERCHANT_OCSP_CACHE_TTL``             live OCSP cache bound, seconds (0 .. 3600)  300
``MERCHANT_NONCE_TTL``                  checkout/nonce lifetime, seconds            600
``MERCHANT_CARD_DATA_KEY``              AES-256 key, unpadded base64url (32 bytes)  dev: file
``MERCHANT_DEV``                        ``1``: demo account, generated key          ``0``
``MERCHANT_PUBLIC_ORIGIN``              origin shoppers reach this service at       ``http://shop.localhost:8002``
``MERCHANT_SHOP``                       serve the demo shop (``1``/``0``)           = dev
``MERCHANT_ISSUER_METADATA_URLS``       issuer metadata to load at start-up (``,``)  none
``MERCHANT_ALLOW_FRICTIONLESS``         accept ``frictionless`` confirmations       ``1``
``MERCHANT_MAX_SIGNING_AGE``            accepted age of a signature, seconds        600
``MERCHANT_SWEEP_INTERVAL``             expiry sweep period, seconds                60
``MERCHANT_CHECKOUT_RATE``              checkout creations per minute, per API key  600
                                        and per client address (each worker)
``MERCHANT_CHECKOUT_BURST``             checkout creations allowed at once (burst)  300
``MERCHANT_TRUST_FORWARDED_FOR``        ``1``: the client address for per-client    ``0``
                                        limits is the last ``X-Forwarded-For``
                                        entry (behind a trusted reverse proxy)
``MERCHANT_LOG_LEVEL``                  logging level                               ``INFO``
======================================  ==========================================  =========
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from certs.origin import is_serialised_origin
from certs.verification import VerificationPolicy
from certs.wire import b64url_decode
from servicekit.environment import PrefixedEnvironment

__all__ = ["ConfigurationError", "RevocationMode", "Settings"]

_PREFIX = "MERCHANT_"
_OCSP_TIMEOUT_BOUNDS = (0.1, 10.0)
_OCSP_CACHE_TTL_BOUNDS = (0.0, 3600.0)
_MAX_STATUS_AGE_BOUNDS = (60.0, 7 * 86400.0)
_NONCE_TTL_BOUNDS = (60.0, 3600.0)
_SIGNING_AGE_BOUNDS = (30.0, 3600.0)
_SWEEP_BOUNDS = (0.05, 3600.0)
_CHECKOUT_RATE_BOUNDS = (1.0, 1_000_000.0)
_CHECKOUT_BURST_BOUNDS = (1.0, 1_000_000.0)


class ConfigurationError(ValueError):
    """A setting is missing or out of its documented bounds."""


class RevocationMode(StrEnum):
    """``hard``: no revocation status means ``unavailable``; ``soft``: proceed and record it."""

    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the merchant service is configured with (see the module table)."""

    data_dir: Path = Path(".data/merchant")
    database_url: str | None = None
    trust_roots: tuple[Path, ...] = ()
    max_status_age: timedelta = timedelta(hours=24)
    revocation_mode: RevocationMode = RevocationMode.HARD
    ocsp_timeout: float = 2.0
    ocsp_cache_ttl: float = 300.0
    nonce_ttl: timedelta = timedelta(minutes=10)
    card_data_key: bytes | None = field(default=None, repr=False)
    dev: bool = False
    public_origin: str = "http://shop.localhost:8002"
    shop_enabled: bool | None = None
    demo_merchant_name: str = "Demo Shop"
    issuer_metadata_urls: tuple[str, ...] = ()
    allow_frictionless: bool = True
    max_signing_age: timedelta = timedelta(minutes=10)
    sweep_interval: float = 60.0
    # Checkout creation limits per API key and per client (docs/merchant.md), per process.
    checkout_rate_per_minute: float = 600.0
    checkout_burst: int = 300
    # Behind a reverse proxy: per-client limits key on its X-Forwarded-For entry.
    trust_forwarded_for: bool = False
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        _bounded("ocsp_timeout", self.ocsp_timeout, _OCSP_TIMEOUT_BOUNDS)
        _bounded("ocsp_cache_ttl", self.ocsp_cache_ttl, _OCSP_CACHE_TTL_BOUNDS)
        _bounded("max_status_age", self.max_status_age.total_seconds(), _MAX_STATUS_AGE_BOUNDS)
        _bounded("nonce_ttl", self.nonce_ttl.total_seconds(), _NONCE_TTL_BOUNDS)
        _bounded("max_signing_age", self.max_signing_age.total_seconds(), _SIGNING_AGE_BOUNDS)
        _bounded("sweep_interval", self.sweep_interval, _SWEEP_BOUNDS)
        _limit("checkout_rate_per_minute", self.checkout_rate_per_minute, _CHECKOUT_RATE_BOUNDS)
        _limit("checkout_burst", self.checkout_burst, _CHECKOUT_BURST_BOUNDS)
        if self.card_data_key is not None and len(self.card_data_key) != 32:
            raise ConfigurationError("card_data_key must be 32 bytes (AES-256)")
        if not is_serialised_origin(self.public_origin):
            raise ConfigurationError(
                "public_origin must be a serialised https (or local http) origin"
            )
        if not isinstance(self.revocation_mode, RevocationMode):
            raise ConfigurationError("revocation_mode must be hard or soft")

    @property
    def resolved_database_url(self) -> str:
        """The database URL; SQLite in the data directory when none is configured."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'merchant.sqlite3'}"

    @property
    def shop(self) -> bool:
        """Whether the demo shop is served (defaults to dev mode)."""
        return self.dev if self.shop_enabled is None else self.shop_enabled

    @property
    def card_data_key_file(self) -> Path:
        return self.data_dir / "card-data.key"

    @property
    def policy(self) -> VerificationPolicy:
        """The core's policy for these settings."""
        return VerificationPolicy(
            max_signing_age=self.max_signing_age,
            require_revocation_status=self.revocation_mode is RevocationMode.HARD,
            allow_frictionless=self.allow_frictionless,
        )

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``MERCHANT_*`` (and ``DATABASE_URL``); keyword ``overrides`` win.

        Raises:
            ConfigurationError: a value is malformed or out of bounds.
        """
        env = PrefixedEnvironment(_PREFIX, environ)
        get = env.get
        values: dict[str, Any] = env.common_values()
        if (roots := get("TRUST_ROOTS")) is not None:
            values["trust_roots"] = tuple(Path(p) for p in roots.split(os.pathsep) if p)
        if (age := get("MAX_STATUS_AGE")) is not None:
            values["max_status_age"] = timedelta(seconds=_number("MAX_STATUS_AGE", age))
        if (mode := get("REVOCATION_MODE")) is not None:
            try:
                values["revocation_mode"] = RevocationMode(mode.lower())
            except ValueError as exc:
                raise ConfigurationError("MERCHANT_REVOCATION_MODE must be hard or soft") from exc
        if (timeout := get("OCSP_TIMEOUT")) is not None:
            values["ocsp_timeout"] = _number("OCSP_TIMEOUT", timeout)
        if (ttl := get("OCSP_CACHE_TTL")) is not None:
            values["ocsp_cache_ttl"] = _number("OCSP_CACHE_TTL", ttl)
        if (nonce_ttl := get("NONCE_TTL")) is not None:
            values["nonce_ttl"] = timedelta(seconds=_number("NONCE_TTL", nonce_ttl))
        if (key := get("CARD_DATA_KEY")) is not None:
            values["card_data_key"] = b64url_decode(
                key, error=ConfigurationError, what="MERCHANT_CARD_DATA_KEY"
            )
        if (dev := env.flag("DEV", error=ConfigurationError)) is not None:
            values["dev"] = dev
        if (origin := get("PUBLIC_ORIGIN")) is not None:
            values["public_origin"] = origin
        if (shop := env.flag("SHOP", error=ConfigurationError)) is not None:
            values["shop_enabled"] = shop
        if (urls := get("ISSUER_METADATA_URLS")) is not None:
            values["issuer_metadata_urls"] = tuple(u.strip() for u in urls.split(",") if u.strip())
        if (frictionless := env.flag("ALLOW_FRICTIONLESS", error=ConfigurationError)) is not None:
            values["allow_frictionless"] = frictionless
        if (signing := get("MAX_SIGNING_AGE")) is not None:
            values["max_signing_age"] = timedelta(seconds=_number("MAX_SIGNING_AGE", signing))
        if (sweep := get("SWEEP_INTERVAL")) is not None:
            values["sweep_interval"] = _number("SWEEP_INTERVAL", sweep)
        if (rate := get("CHECKOUT_RATE")) is not None:
            values["checkout_rate_per_minute"] = _count("CHECKOUT_RATE", rate, integer=False)
        if (burst := get("CHECKOUT_BURST")) is not None:
            values["checkout_burst"] = int(_count("CHECKOUT_BURST", burst, integer=True))
        if (forwarded := env.flag("TRUST_FORWARDED_FOR", error=ConfigurationError)) is not None:
            values["trust_forwarded_for"] = forwarded
        if (level := get("LOG_LEVEL")) is not None:
            values["log_level"] = level
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _bounded(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g} seconds")


def _limit(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}")


def _count(name: str, text: str, *, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError as exc:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(f"{_PREFIX}{name} must be {kind}") from exc
    return value


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ConfigurationError(f"{_PREFIX}{name} must be a number of seconds") from exc
