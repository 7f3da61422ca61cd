"""Card data at rest: AES-256-GCM bound to the card id; keyed PAN lookup; key files."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest

from certs.wire import b64url_encode
from issuer.card_vault import CardVault
from issuer.errors import CardDataUnreadable
from issuer.key_material import load_card_vault, load_pki
from issuer.settings import ConfigurationError, IssuerSettings
from tests.issuer.helpers import FakeClock, TestCard


def _vault() -> CardVault:
    return CardVault(data_key=secrets.token_bytes(32), lookup_key=secrets.token_bytes(32))


def test_seal_and_open() -> None:
    vault, card = _vault(), TestCard()
    sealed = vault.seal(card.data, card_id="card_1")
    assert card.pan.encode() not in sealed
    assert card.cvc.encode() + b'"' not in sealed
    opened = vault.open(sealed, card_id="card_1")
    assert opened.canonical_bytes() == card.data.canonical_bytes()
    assert opened.name == card.name
    # A fresh nonce per record: the same card seals differently.
    assert vault.seal(card.data, card_id="card_1")[1:13] != sealed[1:13]


def test_a_record_is_bound_to_its_card_id_and_key() -> None:
    vault, card = _vault(), TestCard()
    sealed = vault.seal(card.data, card_id="card_1")
    for opener, card_id, blob in (
        (vault, "card_2", sealed),
        (_vault(), "card_1", sealed),
        (vault, "card_1", sealed[:-1] + bytes([sealed[-1] ^ 1])),
        (vault, "card_1", b"\x02" + sealed[1:]),
        (vault, "card_1", b""),
    ):
        with pytest.raises(CardDataUnreadable):
            opener.open(blob, card_id=card_id)


def test_pan_lookup_is_keyed_and_separate() -> None:
    vault, other, card = _vault(), _vault(), TestCard()
    assert vault.pan_lookup_hash(card.pan) == vault.pan_lookup_hash(card.pan)
    assert vault.pan_lookup_hash(card.pan) != other.pan_lookup_hash(card.pan)
    assert card.pan not in vault.pan_lookup_hash(card.pan)
    assert "key" in repr(vault)
    assert repr(vault) == "CardVault(<keys hidden>)"
    key = secrets.token_bytes(32)
    with pytest.raises(ValueError, match="differ"):
        CardVault(data_key=key, lookup_key=key)


def test_dev_generates_key_files_with_mode_0600(tmp_path: Path) -> None:
    settings = IssuerSettings(data_dir=tmp_path / "data")
    vault = load_card_vault(settings)
    for path in (settings.card_data_key_file, settings.pan_lookup_key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    # Loaded again, the same keys.
    card = TestCard()
    sealed = vault.seal(card.data, card_id="c")
    assert load_card_vault(settings).open(sealed, card_id="c").pan == card.pan


def test_keys_from_settings_win(tmp_path: Path) -> None:
    data_key, lookup_key = secrets.token_bytes(32), secrets.token_bytes(32)
    settings = IssuerSettings.from_env(
        {
            "ISSUER_DATA_DIR": str(tmp_path),
            "ISSUER_CARD_DATA_KEY": b64url_encode(data_key),
            "ISSUER_PAN_LOOKUP_KEY": b64url_encode(lookup_key),
        }
    )
    vault = load_card_vault(settings)
    assert not settings.card_data_key_file.exists()
    assert vault.pan_lookup_hash("4111") == CardVault(
        data_key=data_key, lookup_key=lookup_key
    ).pan_lookup_hash("4111")


def test_production_never_generates_keys(tmp_path: Path) -> None:
    settings = IssuerSettings(data_dir=tmp_path / "prod", production=True)
    with pytest.raises(ConfigurationError, match="ISSUER_CARD_DATA_KEY"):
        load_card_vault(settings)
    with pytest.raises(ConfigurationError, match="no issuer CA"):
        load_pki(settings, now=FakeClock()())
    assert not (tmp_path / "prod").exists()


def test_production_loads_provisioned_material(tmp_path: Path) -> None:
    dev = IssuerSettings(data_dir=tmp_path / "d")
    pki = load_pki(dev, now=FakeClock()())
    (tmp_path / "d" / "root-ca.key").unlink()  # an issuer never holds the network root key
    production = dev.with_changes(production=True)
    loaded = load_pki(production, now=FakeClock()())
    assert loaded.issuer_ca == pki.issuer_ca
    assert "Demo Bank" in repr(loaded)
    assert "PRIVATE" not in repr(loaded)
    (tmp_path / "d" / "issuer-ca.key").chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_pki(production, now=FakeClock()())


def test_inconsistent_pki_is_refused(tmp_path: Path) -> None:
    first, second = IssuerSettings(data_dir=tmp_path / "a"), IssuerSettings(data_dir=tmp_path / "b")
    load_pki(first, now=FakeClock()())
    load_pki(second, now=FakeClock()())
    (tmp_path / "a" / "issuer-ca.key").write_bytes((tmp_path / "b" / "issuer-ca.key").read_bytes())
    with pytest.raises(ConfigurationError, match="does not belong"):
        load_pki(first, now=FakeClock()())
    (tmp_path / "b" / "issuer-ca.key").unlink()
    with pytest.raises(ConfigurationError, match="must hold both"):
        load_pki(second, now=FakeClock()())


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    settings = IssuerSettings(data_dir=tmp_path)
    settings.card_data_key_file.write_text("too short\n")
    with pytest.raises(ConfigurationError):
        load_card_vault(settings)
