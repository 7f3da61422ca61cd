"""Issuer service settings: one frozen dataclass, read from ``ISSUER_*`` environment variables.

:meth:`IssuerSettings.from_env` is the only place that reads the environment;
:func:`issuer.app.create_app` takes a finished :class:`IssuerSettings` and never looks at
``os.environ`` or ``argv``. Every bound is checked here, so a typo fails at start-up rather
than on the first enrollment. The table is repeated (with explanations) in docs/issuer.md.

Variables (default in brackets; docs/issuer.md explains each):

* ``ISSUER_DATABASE_URL`` or ``DATABASE_URL`` [SQLite file in the data dir]
* ``ISSUER_DATA_DIR`` [``.data/issuer``]: CA key and certificate, dev card keys, SQLite
* ``ISSUER_PRODUCTION`` [0]: 1 = never generate keys, refuse to start without them
* ``ISSUER_NAME`` [Demo Bank], ``ISSUER_PUBLIC_ORIGIN`` [http://issuer.localhost:8001],
  ``ISSUER_BIN_PREFIXES`` [411111,555555]
* ``ISSUER_HOST`` [127.0.0.1], ``ISSUER_PORT`` [8001], ``ISSUER_WORKERS`` [1]
* ``ISSUER_CARD_DATA_KEY``, ``ISSUER_PAN_LOOKUP_KEY`` [dev: generated files]: 32 bytes,
  unpadded base64url; ``ISSUER_CA_KEY_PASSPHRASE`` [none]
* ``ISSUER_ACTIVATION_CODE_TTL`` [600 s], ``ISSUER_ACTIVATION_MAX_ATTEMPTS`` [5],
  ``ISSUER_CHALLENGE_TTL`` [300 s], ``ISSUER_CERT_VALIDITY_DAYS`` [90]
* ``ISSUER_STATUS_FRESHNESS`` [86400 s], ``ISSUER_STATUS_CACHE_TTL`` [60 s],
  ``ISSUER_CRL_VALIDITY`` [86400 s], ``ISSUER_CRL_REFRESH`` [3600 s]
* ``ISSUER_ENROLL_RATE`` [60/min], ``ISSUER_ENROLL_BURST`` [30],
  ``ISSUER_ENROLL_MAX_FAILURES`` [20], ``ISSUER_ENROLL_FAILURE_WINDOW`` [3600 s],
  ``ISSUER_TRUST_FORWARDED_FOR`` [0]
* ``ISSUER_FRICTIONLESS_LIMITS`` [empty = off]: ``EUR:30.00,USD:30.00``, the per-currency
  ceiling up to which the Service Worker may sign without the confirmation page
* ``ISSUER_SERVICE_WORKER_DIR`` [<repo>/service_worker], ``ISSUER_SWEEP_INTERVAL`` [300 s],
  ``ISSUER_LOG_LEVEL`` [INFO]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from certs.money import format_amount, is_currency
from certs.origin import is_serialised_origin
from certs.wire import b64url_decode
from servicekit.environment import PrefixedEnvironment

__all__ = ["ConfigurationError", "IssuerSettings", "parse_frictionless_limits"]

_PREFIX = "ISSUER_"
_BIN = re.compile(r"[0-9]{6,8}")
_DEFAULT_SERVICE_WORKER_DIR = Path(__file__).resolve().parent.parent / "service_worker"


class ConfigurationError(ValueError):
    """A setting is missing, malformed or out of its documented bounds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerSettings:
    """Everything the issuer service is configured with (see the module table)."""

    data_dir: Path = Path(".data/issuer")
    database_url: str | None = None
    production: bool = False
    issuer_name: str = "Demo Bank"
    public_origin: str = "http://issuer.localhost:8001"
    bin_prefixes: tuple[str, ...] = ("411111", "555555")
    host: str = "127.0.0.1"
    port: int = 8001
    workers: int = 1
    card_data_key: bytes | None = field(default=None, repr=False)
    pan_lookup_key: bytes | None = field(default=None, repr=False)
    ca_key_passphrase: bytes | None = field(default=None, repr=False)
    activation_code_ttl: timedelta = timedelta(minutes=10)
    activation_max_attempts: int = 5
    challenge_ttl: timedelta = timedelta(minutes=5)
    certificate_validity: timedelta = timedelta(days=90)
    status_freshness: timedelta = timedelta(hours=24)
    status_cache_ttl: float = 60.0
    crl_validity: timedelta = timedelta(hours=24)
    crl_refresh: float = 3600.0
    enroll_rate_per_minute: float = 60.0
    enroll_burst: int = 30
    enroll_max_failures: int = 20
    enroll_failure_window: timedelta = timedelta(hours=1)
    trust_forwarded_for: bool = False
    # (currency, canonical amount) pairs, published as metadata ``frictionless``; () = off.
    frictionless_limits: tuple[tuple[str, str], ...] = ()
    service_worker_dir: Path = _DEFAULT_SERVICE_WORKER_DIR
    sweep_interval: float = 300.0
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not is_serialised_origin(self.public_origin):
            raise ConfigurationError(
                "public_origin must be a serialised https (or local http) origin, "
                "e.g. https://issuer.example"
            )
        if not self.issuer_name.strip() or len(self.issuer_name) > 64:
            raise ConfigurationError("issuer_name must be 1 to 64 characters")
        if not self.bin_prefixes or not all(_BIN.fullmatch(b) for b in self.bin_prefixes):
            raise ConfigurationError("bin_prefixes must be 6 to 8 digit prefixes")
        for name, key in (
            ("card_data_key", self.card_data_key),
            ("pan_lookup_key", self.pan_lookup_key),
        ):
            if key is not None and len(key) != 32:
                raise ConfigurationError(f"{name} must be 32 bytes")
        if (
            self.card_data_key is not None
            and self.pan_lookup_key is not None
            and self.card_data_key == self.pan_lookup_key
        ):
            raise ConfigurationError("card_data_key and pan_lookup_key must differ")
        _bounded("port", self.port, 0, 65535)
        _bounded("workers", self.workers, 1, 64)
        _bounded("activation_code_ttl", self.activation_code_ttl.total_seconds(), 60, 30 * 86400)
        _bounded("activation_max_attempts", self.activation_max_attempts, 1, 20)
        _bounded("challenge_ttl", self.challenge_ttl.total_seconds(), 30, 3600)
        _bounded(
            "certificate_validity", self.certificate_validity.total_seconds(), 3600, 825 * 86400
        )
        _bounded("status_freshness", self.status_freshness.total_seconds(), 60, 7 * 86400)
        _bounded("status_cache_ttl", self.status_cache_ttl, 0, 3600)
        _bounded("crl_validity", self.crl_validity.total_seconds(), 300, 30 * 86400)
        _bounded("crl_refresh", self.crl_refresh, 0, self.crl_validity.total_seconds())
        _bounded("enroll_rate_per_minute", self.enroll_rate_per_minute, 1, 100_000)
        _bounded("enroll_burst", self.enroll_burst, 1, 100_000)
        _bounded("enroll_max_failures", self.enroll_max_failures, 1, 100_000)
        _bounded("enroll_failure_window", self.enroll_failure_window.total_seconds(), 60, 7 * 86400)
        _bounded("sweep_interval", self.sweep_interval, 0.05, 86400)
        if self.status_cache_ttl >= self.status_freshness.total_seconds():
            raise ConfigurationError("status_cache_ttl must be shorter than status_freshness")
        _check_frictionless_limits(self.frictionless_limits)

    @property
    def resolved_database_url(self) -> str:
        """The database URL; a SQLite file in the data directory when none is configured."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'issuer.sqlite3'}"

    @property
    def card_data_key_file(self) -> Path:
        return self.data_dir / "card-data.key"

    @property
    def pan_lookup_key_file(self) -> Path:
        return self.data_dir / "pan-lookup.key"

    def url(self, path: str) -> str:
        """An absolute URL on the public origin."""
        return self.public_origin + path

    @property
    def ocsp_url(self) -> str:
        return self.url("/ocsp")

    @property
    def crl_url(self) -> str:
        return self.url("/crl")

    def with_changes(self, **changes: Any) -> IssuerSettings:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> IssuerSettings:
        """Read ``ISSUER_*`` (and ``DATABASE_URL``); keyword ``overrides`` that are not None win.

        Raises:
            ConfigurationError: a value is malformed or out of bounds.
        """
        env = PrefixedEnvironment(_PREFIX, environ)
        get = env.get
        values: dict[str, Any] = env.common_values()
        if (production := env.flag("PRODUCTION", error=ConfigurationError)) is not None:
            values["production"] = production
        if (name := get("NAME")) is not None:
            values["issuer_name"] = name
        if (origin := get("PUBLIC_ORIGIN")) is not None:
            values["public_origin"] = origin
        if (bins := get("BIN_PREFIXES")) is not None:
            values["bin_prefixes"] = tuple(b.strip() for b in bins.split(",") if b.strip())
        if (host := get("HOST")) is not None:
            values["host"] = host
        if (port := get("PORT")) is not None:
            values["port"] = _integer("PORT", port)
        if (workers := get("WORKERS")) is not None:
            values["workers"] = _integer("WORKERS", workers)
        for setting, variable in (
            ("card_data_key", "CARD_DATA_KEY"),
            ("pan_lookup_key", "PAN_LOOKUP_KEY"),
        ):
            if (key := get(variable)) is not None:
                values[setting] = b64url_decode(
                    key, error=ConfigurationError, what=_PREFIX + variable
                )
        if (passphrase := get("CA_KEY_PASSPHRASE")) is not None:
            values["ca_key_passphrase"] = passphrase.encode("utf-8")
        for setting, variable in (
            ("activation_code_ttl", "ACTIVATION_CODE_TTL"),
            ("challenge_ttl", "CHALLENGE_TTL"),
            ("status_freshness", "STATUS_FRESHNESS"),
            ("crl_validity", "CRL_VALIDITY"),
            ("enroll_failure_window", "ENROLL_FAILURE_WINDOW"),
        ):
            if (seconds := get(variable)) is not None:
                values[setting] = timedelta(seconds=_number(variable, seconds))
        if (days := get("CERT_VALIDITY_DAYS")) is not None:
            values["certificate_validity"] = timedelta(days=_number("CERT_VALIDITY_DAYS", days))
        for setting, variable in (
            ("status_cache_ttl", "STATUS_CACHE_TTL"),
            ("crl_refresh", "CRL_REFRESH"),
            ("enroll_rate_per_minute", "ENROLL_RATE"),
            ("sweep_interval", "SWEEP_INTERVAL"),
        ):
            if (number := get(variable)) is not None:
                values[setting] = _number(variable, number)
        for setting, variable in (
            ("activation_max_attempts", "ACTIVATION_MAX_ATTEMPTS"),
            ("enroll_burst", "ENROLL_BURST"),
            ("enroll_max_failures", "ENROLL_MAX_FAILURES"),
        ):
            if (count := get(variable)) is not None:
                values[setting] = _integer(variable, count)
        if (forwarded := env.flag("TRUST_FORWARDED_FOR", error=ConfigurationError)) is not None:
            values["trust_forwarded_for"] = forwarded
        if (limits := get("FRICTIONLESS_LIMITS")) is not None:
            values["frictionless_limits"] = parse_frictionless_limits(limits)
        if (sw_dir := get("SERVICE_WORKER_DIR")) is not None:
            values["service_worker_dir"] = Path(sw_dir)
        if (level := get("LOG_LEVEL")) is not None:
            values["log_level"] = level
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def parse_frictionless_limits(text: str) -> tuple[tuple[str, str], ...]:
    """Read ``ISSUER_FRICTIONLESS_LIMITS``: ``CUR:AMOUNT`` pairs separated by commas.

    Amounts are written canonically for their currency (``"30"`` EUR becomes ``"30.00"``),
    with :func:`certs.money.format_amount`; an empty text means no frictionless policy.

    Raises:
        ConfigurationError: a pair without ``:``, an unknown currency, an amount that is
            not a non-negative decimal within the currency's precision, or a currency
            named twice.
    """
    limits: list[tuple[str, str]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        currency, colon, amount = item.partition(":")
        currency, amount = currency.strip(), amount.strip()
        if not colon:
            raise ConfigurationError(
                f"{_PREFIX}FRICTIONLESS_LIMITS entries are CURRENCY:AMOUNT, e.g. EUR:30.00"
            )
        if not is_currency(currency):
            raise ConfigurationError(
                f"{_PREFIX}FRICTIONLESS_LIMITS: {currency!r} is not a supported ISO 4217 code"
            )
        try:
            limits.append((currency, format_amount(amount, currency)))
        except (ValueError, ArithmeticError) as exc:  # decimal.InvalidOperation too
            raise ConfigurationError(
                f"{_PREFIX}FRICTIONLESS_LIMITS: {amount!r} is not a valid {currency} amount"
            ) from exc
    _check_frictionless_limits(tuple(limits))
    return tuple(limits)


def _check_frictionless_limits(limits: tuple[tuple[str, str], ...]) -> None:
    """Each currency once, each amount canonical for it (the policy of docs/browser.md)."""
    seen: set[str] = set()
    for currency, amount in limits:
        if not is_currency(currency):
            raise ConfigurationError(f"frictionless_limits: unsupported currency {currency!r}")
        try:
            canonical = format_amount(amount, currency)
        except (ValueError, ArithmeticError) as exc:
            raise ConfigurationError(
                f"frictionless_limits: {amount!r} is not a valid {currency} amount"
            ) from exc
        if canonical != amount:
            raise ConfigurationError(
                f"frictionless_limits: write {currency} amounts canonically ({canonical!r})"
            )
        if currency in seen:
            raise ConfigurationError(f"frictionless_limits: {currency} is given twice")
        seen.add(currency)


def _bounded(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}")


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise ConfigurationError(f"{_PREFIX}{name} must be a number") from exc
    if not math.isfinite(value):
        raise ConfigurationError(f"{_PREFIX}{name} must be a finite number")
    return value


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigurationError(f"{_PREFIX}{name} must be an integer") from exc
