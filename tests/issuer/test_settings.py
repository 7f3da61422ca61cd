"""Settings from ISSUER_* environment variables, with bounds checked at start-up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from certs.wire import b64url_encode
from issuer.settings import ConfigurationError, IssuerSettings


def test_defaults() -> None:
    settings = IssuerSettings.from_env({})
    assert settings.public_origin == "http://issuer.localhost:8001"
    assert settings.issuer_name == "Demo Bank"
    assert settings.bin_prefixes == ("411111", "555555")
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8001, 1)
    assert settings.status_freshness == timedelta(hours=24)
    assert settings.activation_code_ttl == timedelta(minutes=10)
    assert settings.resolved_database_url.endswith(".data/issuer/issuer.sqlite3")
    assert settings.ocsp_url == "http://issuer.localhost:8001/ocsp"
    assert not settings.production


def test_environment_and_overrides() -> None:
    key = b64url_encode(b"k" * 32)
    settings = IssuerSettings.from_env(
        {
            "DATABASE_URL": "postgresql://db/x",
            "ISSUER_DATA_DIR": "/srv/issuer",
            "ISSUER_PUBLIC_ORIGIN": "https://issuer.example",
            "ISSUER_BIN_PREFIXES": "400000, 510000",
            "ISSUER_STATUS_FRESHNESS": "3600",
            "ISSUER_CARD_DATA_KEY": key,
            "ISSUER_WORKERS": "4",
            "ISSUER_PRODUCTION": "yes",
            "ISSUER_CERT_VALIDITY_DAYS": "30",
        },
        port=9000,
        workers=None,
    )
    assert settings.database_url == "postgresql://db/x"
    assert settings.data_dir == Path("/srv/issuer")
    assert settings.bin_prefixes == ("400000", "510000")
    assert settings.status_freshness == timedelta(hours=1)
    assert settings.card_data_key == b"k" * 32
    assert (settings.port, settings.workers, settings.production) == (9000, 4, True)
    assert settings.certificate_validity == timedelta(days=30)
    assert "kkkk" not in repr(settings)
    assert key not in repr(settings)
    assert (
        IssuerSettings.from_env(
            {"ISSUER_DATABASE_URL": "sqlite:///a", "DATABASE_URL": "sqlite:///b"}
        ).database_url
        == "sqlite:///a"
    )


@pytest.mark.parametrize(
    "environ",
    [
        {"ISSUER_PUBLIC_ORIGIN": "http://issuer.example"},
        {"ISSUER_PUBLIC_ORIGIN": "https://issuer.example/path"},
        {"ISSUER_BIN_PREFIXES": "41"},
        {"ISSUER_PORT": "http"},
        {"ISSUER_WORKERS": "0"},
        {"ISSUER_STATUS_FRESHNESS": "nan"},
        {"ISSUER_STATUS_FRESHNESS": "10"},
        {"ISSUER_STATUS_CACHE_TTL": "-1"},
        {"ISSUER_ACTIVATION_MAX_ATTEMPTS": "0"},
        {"ISSUER_CARD_DATA_KEY": b64url_encode(b"short")},
        {"ISSUER_CARD_DATA_KEY": "not base64!"},
        {"ISSUER_PRODUCTION": "maybe"},
        {
            "ISSUER_CARD_DATA_KEY": b64url_encode(b"k" * 32),
            "ISSUER_PAN_LOOKUP_KEY": b64url_encode(b"k" * 32),
        },
    ],
)
def test_bad_values_fail_at_start_up(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        IssuerSettings.from_env(environ)


def test_frictionless_limits_are_off_by_default() -> None:
    assert IssuerSettings.from_env({}).frictionless_limits == ()
    assert IssuerSettings.from_env({"ISSUER_FRICTIONLESS_LIMITS": ""}).frictionless_limits == ()


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("EUR:30.00,USD:30.00", (("EUR", "30.00"), ("USD", "30.00"))),
        (" EUR : 30 , JPY:3000 ,", (("EUR", "30.00"), ("JPY", "3000"))),  # canonicalised
        ("KWD:10.5", (("KWD", "10.500"),)),
        ("GBP:0", (("GBP", "0.00"),)),
    ],
)
def test_frictionless_limits_from_the_environment(
    text: str, limits: tuple[tuple[str, str], ...]
) -> None:
    settings = IssuerSettings.from_env({"ISSUER_FRICTIONLESS_LIMITS": text})
    assert settings.frictionless_limits == limits


@pytest.mark.parametrize(
    "text",
    [
        "EUR",  # no amount
        "EUR:",  # empty amount
        "eur:30.00",  # currency codes are upper case
        "XXX:30.00",  # not a supported currency
        "EUR:30.001",  # more decimals than EUR has
        "JPY:30.5",
        "EUR:-1",
        "EUR:abc",
        "EUR:nan",
        "EUR:Infinity",
        "EUR:1e30",  # out of range
        "EUR:30.00,EUR:20.00",  # named twice
    ],
)
def test_bad_frictionless_limits_fail_at_start_up(text: str) -> None:
    with pytest.raises(ConfigurationError):
        IssuerSettings.from_env({"ISSUER_FRICTIONLESS_LIMITS": text})


@pytest.mark.parametrize(
    "limits",
    [
        (("EUR", "30"),),  # not canonical
        (("EUR", "30.00"), ("EUR", "30.00")),
        (("usd", "1.00"),),
    ],
)
def test_frictionless_limits_are_checked_in_the_constructor(
    limits: tuple[tuple[str, str], ...],
) -> None:
    with pytest.raises(ConfigurationError):
        IssuerSettings(frictionless_limits=limits)
