"""Settings, the card-data vault, issuer metadata and the ``python -m merchant`` CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from merchant.__main__ import main as merchant_main
from merchant.app import create_app, load_trust_roots
from merchant.app_keys import STORE
from merchant.card_vault import CardVault, load_card_data_key
from merchant.errors import CardDataUnavailable, IssuerMetadataInvalid
from merchant.issuer_directory import (
    fetch_issuer_metadata,
    metadata_url_for,
    parse_issuer_metadata,
)
from merchant.settings import ConfigurationError, RevocationMode, Settings
from tests.certs import vectors
from tests.merchant.conftest import issuer_metadata, typed_card


def test_settings_from_env(tmp_path: Path):
    settings = Settings.from_env(
        {
            "MERCHANT_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://db/merchant",
            "MERCHANT_TRUST_ROOTS": f"{tmp_path}/a.pem:{tmp_path}/b.pem",
            "MERCHANT_MAX_STATUS_AGE": "3600",
            "MERCHANT_REVOCATION_MODE": "SOFT",
            "MERCHANT_OCSP_TIMEOUT": "0.5",
            "MERCHANT_OCSP_CACHE_TTL": "60",
            "MERCHANT_NONCE_TTL": "300",
            "MERCHANT_CARD_DATA_KEY": "A" * 43,
            "MERCHANT_DEV": "1",
            "MERCHANT_ISSUER_METADATA_URLS": "http://issuer.localhost:8001, ",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.resolved_database_url == "postgresql://db/merchant"
    assert settings.trust_roots == (tmp_path / "a.pem", tmp_path / "b.pem")
    assert settings.max_status_age == timedelta(hours=1)
    assert settings.revocation_mode is RevocationMode.SOFT
    assert settings.policy.require_revocation_status is False
    assert settings.ocsp_timeout == 0.5
    assert settings.nonce_ttl == timedelta(minutes=5)
    assert settings.card_data_key == bytes(32)
    assert settings.shop is True
    assert settings.issuer_metadata_urls == ("http://issuer.localhost:8001",)
    assert "card_data_key" not in repr(settings)
    defaults = Settings.from_env({})
    assert defaults.revocation_mode is RevocationMode.HARD
    assert defaults.max_status_age == timedelta(hours=24)
    assert defaults.ocsp_timeout == 2.0
    assert defaults.nonce_ttl == timedelta(minutes=10)
    assert defaults.shop is False
    assert defaults.resolved_database_url.startswith("sqlite+aiosqlite:///")
    override = Settings.from_env({"MERCHANT_DATABASE_URL": "sqlite:///x", "DATABASE_URL": "y"})
    assert override.database_url == "sqlite:///x"


@pytest.mark.parametrize(
    "environ",
    [
        {"MERCHANT_OCSP_TIMEOUT": "0"},
        {"MERCHANT_OCSP_TIMEOUT": "60"},
        {"MERCHANT_OCSP_TIMEOUT": "nan"},
        {"MERCHANT_OCSP_CACHE_TTL": "-1"},
        {"MERCHANT_MAX_STATUS_AGE": "1"},
        {"MERCHANT_NONCE_TTL": "86400"},
        {"MERCHANT_REVOCATION_MODE": "maybe"},
        {"MERCHANT_CARD_DATA_KEY": "AAAA"},
        {"MERCHANT_CARD_DATA_KEY": "!!"},
        {"MERCHANT_DEV": "perhaps"},
        {"MERCHANT_PUBLIC_ORIGIN": "http://shop.example"},
        {"MERCHANT_MAX_SIGNING_AGE": "abc"},
    ],
)
def test_settings_bounds(environ):
    with pytest.raises(ConfigurationError):
        Settings.from_env(environ)


def test_vault_round_trip_and_binding():
    vault = CardVault(bytes(range(32)))
    card = typed_card()
    sealed = vault.seal(card, checkout_id="co_a")
    assert b"4111" not in sealed
    opened = vault.open(sealed, checkout_id="co_a")
    assert opened.pan == card.pan
    assert opened.security_code == card.security_code
    with pytest.raises(CardDataUnavailable):
        vault.open(sealed, checkout_id="co_b")  # bound to its checkout
    with pytest.raises(CardDataUnavailable):
        CardVault(bytes(32)).open(sealed, checkout_id="co_a")
    with pytest.raises(CardDataUnavailable):
        vault.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), checkout_id="co_a")
    assert "key" in repr(vault)
    assert vault.seal(card, checkout_id="co_a") != sealed  # fresh nonce each time


def test_card_data_key_generated_only_in_dev(tmp_path: Path):
    with pytest.raises(ConfigurationError):
        load_card_data_key(Settings(data_dir=tmp_path / "prod"))
    settings = Settings(data_dir=tmp_path / "dev", dev=True)
    key = load_card_data_key(settings)
    assert len(key) == 32
    assert settings.card_data_key_file.stat().st_mode & 0o777 == 0o600
    assert load_card_data_key(settings) == key
    # Production reads an existing file.
    assert load_card_data_key(Settings(data_dir=tmp_path / "dev")) == key


def test_trust_roots_required(tmp_path: Path, pki):
    with pytest.raises(ConfigurationError):
        load_trust_roots(Settings())
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigurationError):
        load_trust_roots(Settings(trust_roots=(bad,)))
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        pki.root.public_bytes(serialization.Encoding.PEM)
        + pki.issuer_ca.public_bytes(serialization.Encoding.PEM)
    )
    assert len(load_trust_roots(Settings(trust_roots=(bundle,)))) == 2


async def test_app_refuses_to_start_without_roots(tmp_path: Path):
    from aiohttp.test_utils import TestServer

    server = TestServer(create_app(Settings(data_dir=tmp_path, card_data_key=bytes(32))))
    with pytest.raises(ConfigurationError):
        await server.start_server()
    await server.close()


def test_issuer_metadata_checks(pki, other_pki):
    metadata = issuer_metadata(pki)
    info = parse_issuer_metadata(json.dumps(metadata), roots=[pki.root])
    assert info.bin_prefixes == ("411111",)
    with pytest.raises(IssuerMetadataInvalid):
        parse_issuer_metadata(metadata, roots=[other_pki.root])
    for change in (
        {"version": 2},
        {"issuerOrigin": "http://issuer.example"},
        {"payUrl": "https://elsewhere.example/pay"},
        {"binPrefixes": []},
        {"binPrefixes": ["41x"]},
        {"caCertificate": "nope"},
        {"issuerName": ""},
    ):
        with pytest.raises(IssuerMetadataInvalid):
            parse_issuer_metadata({**metadata, **change})
    assert "untrusted_root" in str(_raised(metadata, [other_pki.root]))
    assert metadata_url_for("http://issuer.localhost:8001") == (
        "http://issuer.localhost:8001/.well-known/cardcert-issuer"
    )
    assert metadata_url_for("http://issuer.localhost:8001/m.json") == (
        "http://issuer.localhost:8001/m.json"
    )


async def test_fetch_issuer_metadata(aiohttp_server, pki):
    import aiohttp

    async def well_known(request: web.Request) -> web.Response:
        origin = f"http://localhost:{request.url.port}"  # whatever host it was asked as
        return web.json_response(
            {**issuer_metadata(pki), "issuerOrigin": origin, "payUrl": f"{origin}/pay"}
        )

    app = web.Application()
    app.router.add_get("/.well-known/cardcert-issuer", well_known)
    server = await aiohttp_server(app)
    origin = f"http://localhost:{server.port}"
    async with aiohttp.ClientSession() as session:
        info = await fetch_issuer_metadata(session, origin, roots=[pki.root])
        assert info.origin == origin
        with pytest.raises(IssuerMetadataInvalid):  # claims another origin than fetched from
            await fetch_issuer_metadata(session, f"http://127.0.0.1:{server.port}")
        with pytest.raises(IssuerMetadataInvalid):
            await fetch_issuer_metadata(session, f"{origin}/missing")


def test_cli_create_merchant_and_add_issuer(tmp_path: Path, capsys, pki, root_pem):
    data = tmp_path / "data"
    assert (
        merchant_main(
            [
                "create-merchant",
                "--data-dir",
                str(data),
                "--name",
                "Coffee Corner",
                "--origin",
                "https://coffee.example/some/path",
                "--origin",
                "https://coffee.example",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    key = re.search(r"API key \(shown once, store it now\): (mk_\S+)", out)
    assert key is not None
    metadata_file = tmp_path / "issuer.json"
    metadata_file.write_text(json.dumps(issuer_metadata(pki, bins=("411111", "400000"))))
    assert (
        merchant_main(
            [
                "add-issuer",
                "--data-dir",
                str(data),
                "--trust-roots",
                str(root_pem),
                "--file",
                str(metadata_file),
            ]
        )
        == 0
    )
    assert "411111, 400000" in capsys.readouterr().out
    # Refused: the issuer CA does not chain to the configured root.
    other_root = tmp_path / "other.pem"
    from certs.dev_pki import DevPki

    other = DevPki.create(now=datetime.now(UTC))
    other_root.write_bytes(other.root.public_bytes(serialization.Encoding.PEM))
    assert (
        merchant_main(
            [
                "add-issuer",
                "--data-dir",
                str(data),
                "--trust-roots",
                str(other_root),
                "--file",
                str(metadata_file),
            ]
        )
        == 1
    )
    assert "issuer_metadata_invalid" in capsys.readouterr().err
    assert merchant_main(["create-merchant", "--data-dir", str(data), "--name", "X",
                          "--origin", "http://not-local.example"]) == 2  # fmt: skip
    capsys.readouterr()


async def test_cli_created_key_works(tmp_path: Path, capsys, aiohttp_client, pki, root_pem):
    import asyncio

    data = tmp_path / "data"
    await asyncio.to_thread(
        merchant_main,
        ["create-merchant", "--data-dir", str(data), "--name", "Shop", "--origin",
         "http://shop.localhost:8002"],
    )  # fmt: skip
    key = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    metadata_file = tmp_path / "issuer.json"
    metadata_file.write_text(json.dumps(issuer_metadata(pki)))
    await asyncio.to_thread(
        merchant_main, ["add-issuer", "--data-dir", str(data), "--file", str(metadata_file)]
    )
    capsys.readouterr()
    app = create_app(Settings(data_dir=data, trust_roots=(root_pem,), card_data_key=bytes(32)))
    client = await aiohttp_client(app)
    response = await client.post(
        "/v1/checkouts",
        json={
            "amount": "5.00",
            "currency": "EUR",
            "returnUrl": "http://shop.localhost:8002/done",
            "card": {"bin": "411111", "last4": "1111"},
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["transactionRequest"]["merchantName"] == "Shop"
    assert app[STORE] is not None


def test_cli_usage():
    with pytest.raises(SystemExit) as exit_:
        merchant_main([])
    assert exit_.value.code == 2


def _raised(metadata: object, roots: list[x509.Certificate]) -> IssuerMetadataInvalid:
    with pytest.raises(IssuerMetadataInvalid) as raised:
        parse_issuer_metadata(metadata, roots=roots)  # type: ignore[arg-type]
    return raised.value


def test_an_issuer_ca_that_is_not_a_ca_is_refused_when_the_issuer_is_added(pki):
    """Signed by the trusted root but with cA FALSE: every checkout through it would fail
    (cert_profile_violation), so adding it to the directory fails at once, with that code."""
    root = x509.load_pem_x509_certificate(vectors.read("pki/root-ca.pem"))
    not_a_ca = vectors.read("pki/not-ca-issuer-ca.pem").decode()
    metadata = {**issuer_metadata(pki), "caCertificate": not_a_ca}
    error = _raised(metadata, [root])
    assert error.code == "issuer_metadata_invalid"
    assert "cert_profile_violation" in str(error)
    good = {**issuer_metadata(pki), "caCertificate": vectors.read("pki/issuer-ca.pem").decode()}
    assert parse_issuer_metadata(good, roots=[root]).bin_prefixes == ("411111",)
