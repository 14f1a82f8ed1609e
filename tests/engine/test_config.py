"""Configuration: environment > settings store > .env > defaults; modes; secrets kept out of sight."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from pos_app.config import ConfigError, TillConfig, Timings, load_config
from pos_app.daraja import InvalidPaymentRequest
from pos_app.engine.service import TillService
from pos_app.engine.views import SECRET_PLACEHOLDER, TillSettings
from pos_app.settings_schema import FALSE_WORDS, SCREEN_SETTINGS, SETTINGS, TRUE_WORDS
from pos_app.store.secrets import SecretStore

REAL = {
    "MPESA_CONSUMER_KEY": "key-123",
    "MPESA_CONSUMER_SECRET": "very-secret-value",
    "MPESA_SHORTCODE": "600000",
    "MPESA_PASSKEY": "passkey-value",
}


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own keyring must not be touched by tests; the 0600 file is what is tested here.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def env_for(home: Path, **values: str) -> dict[str, str]:
    return {"MPESA_TILL_HOME": str(home), **values}


def test_nothing_configured_means_demo_mode_and_says_it_was_the_default(
    tmp_path: Path, no_keyring: None
) -> None:
    config = load_config(env=env_for(tmp_path), dotenv_path=tmp_path / "missing.env")
    assert config.mode == "demo" and config.demo_by_default
    assert config.consumer_key == "demo-consumer-key"
    assert config.database_path.name == "demo-till.sqlite3"


@pytest.mark.parametrize(
    ("extra", "mode"),
    [
        ({"MPESA_RELAY_URL": "https://relay.example.com", "MPESA_RELAY_KEY": "k"}, "remote"),
        ({"NGROK_AUTHTOKEN": "tok"}, "embedded"),
        ({}, "query_only"),
    ],
)
def test_the_mode_follows_what_is_configured(
    tmp_path: Path, no_keyring: None, extra: dict[str, str], mode: str
) -> None:
    config = load_config(env=env_for(tmp_path, **REAL, **extra), dotenv_path=tmp_path / "missing.env")
    assert config.mode == mode
    assert config.database_path.name == "till.sqlite3"


def test_demo_flag_forces_demo_with_the_simulator_credentials(tmp_path: Path, no_keyring: None) -> None:
    config = load_config(env=env_for(tmp_path, **REAL), dotenv_path=tmp_path / "x.env", force_demo=True)
    assert config.mode == "demo" and not config.demo_by_default
    assert config.consumer_secret != REAL["MPESA_CONSUMER_SECRET"]


def test_environment_beats_dotenv_and_dotenv_fills_the_rest(tmp_path: Path, no_keyring: None) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "MPESA_SHORTCODE=111111\nMPESA_PASSKEY=from-dotenv\nMPESA_CONSUMER_KEY=dk\nMPESA_CONSUMER_SECRET=ds\n"
    )
    config = load_config(env=env_for(tmp_path, MPESA_SHORTCODE="222222"), dotenv_path=dotenv)
    assert config.shortcode == "222222" and config.sources["MPESA_SHORTCODE"] == "environment"
    assert config.passkey == "from-dotenv" and config.sources["MPESA_PASSKEY"] == ".env"


def test_bad_values_are_refused_with_the_variable_named(tmp_path: Path, no_keyring: None) -> None:
    with pytest.raises(ConfigError, match="MPESA_ENVIRONMENT"):
        load_config(env=env_for(tmp_path, **REAL, MPESA_ENVIRONMENT="live"), dotenv_path=tmp_path / "x")
    with pytest.raises(ConfigError, match="MPESA_MAX_AMOUNT_KES"):
        load_config(env=env_for(tmp_path, **REAL, MPESA_MAX_AMOUNT_KES="1.5"), dotenv_path=tmp_path / "x")


@pytest.mark.parametrize(
    ("word", "expected"), [(w, True) for w in TRUE_WORDS] + [(w, False) for w in FALSE_WORDS]
)
def test_a_yes_no_setting_takes_the_relays_words(
    tmp_path: Path, no_keyring: None, word: str, expected: bool
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"MPESA_EMBEDDED_RELAY={word.upper()}\n")
    config = load_config(env=env_for(tmp_path, **REAL), dotenv_path=dotenv)
    assert config.use_embedded_relay is expected


@pytest.mark.parametrize(
    ("variable", "raw", "words"),
    [
        ("MPESA_EMBEDDED_RELAY", "maybe", "must be true or false, not 'maybe'"),
        ("MPESA_EMBEDDED_RELAY", "ja", "must be true or false"),
        ("MPESA_MAX_AMOUNT_KES", "lots", "must be a whole number of shillings, not 'lots'"),
        ("MPESA_MAX_AMOUNT_KES", "0", "must be at least 1"),
        ("MPESA_TILL_WAIT_DEADLINE_S", "soon", "must be a number of seconds, not 'soon'"),
        ("MPESA_TRANSACTION_TYPE", "PayBill", "must be one of CustomerPayBillOnline, CustomerBuyGoodsOnline"),
        ("MPESA_TILL_LANGUAGE", "fr", "must be one of en, sw"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable_and_where_it_came_from(
    tmp_path: Path, no_keyring: None, variable: str, raw: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} {words}.*from the environment"):
        load_config(env=env_for(tmp_path, **REAL, **{variable: raw}), dotenv_path=tmp_path / "x")
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"{variable}={raw}\n")
    with pytest.raises(ConfigError, match=f"^{variable} {words}.*from .env"):
        load_config(env=env_for(tmp_path, **REAL), dotenv_path=dotenv)


def test_a_wrong_value_in_the_settings_table_is_refused_naming_the_variable(
    tmp_path: Path, no_keyring: None
) -> None:
    with sqlite3.connect(tmp_path / "till.sqlite3") as connection:
        connection.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
        connection.execute("INSERT INTO settings VALUES ('MPESA_EMBEDDED_RELAY', 'sometimes')")
    refusal = r"^MPESA_EMBEDDED_RELAY must be true or false, not 'sometimes' \(from the saved settings\)$"
    with pytest.raises(ConfigError, match=refusal):
        load_config(env=env_for(tmp_path, **REAL), dotenv_path=tmp_path / "x")


def test_the_settings_screen_refuses_what_the_environment_refuses_with_the_same_words() -> None:
    with pytest.raises(ConfigError, match=r"^MPESA_TILL_LANGUAGE must be one of en, sw, not 'fr'"):
        TillSettings(language="fr")
    with pytest.raises(ConfigError, match=r"^MPESA_MAX_AMOUNT_KES must be at least 1"):
        dataclasses.replace(TillSettings(), max_amount_kes=0)
    with pytest.raises(ConfigError, match=r"^MPESA_MAX_AMOUNT_KES must be a whole number of shillings"):
        TillSettings(max_amount_kes=True)
    with pytest.raises(ConfigError, match=r"^MPESA_EMBEDDED_RELAY must be true or false"):
        TillSettings(use_embedded_relay="yes")  # type: ignore[arg-type]


def test_the_declaration_and_the_configs_attributes_agree() -> None:
    """TillSettings is the declaration of the screen's settings; TillConfig carries the same defaults."""
    config_defaults = {f.name: f.default for f in dataclasses.fields(TillConfig)}
    timing_names = {f.name for f in dataclasses.fields(Timings)}
    for setting in SCREEN_SETTINGS:
        assert config_defaults[setting.name] == getattr(TillSettings(), setting.name), setting.name
    for setting in SETTINGS:
        assert setting.name in (timing_names if setting.timing else config_defaults), setting.name
    variables = [setting.variable for setting in SETTINGS]
    assert len(variables) == len(set(variables))


def test_a_printed_config_never_shows_a_secret(tmp_path: Path, no_keyring: None) -> None:
    config = load_config(env=env_for(tmp_path, **REAL), dotenv_path=tmp_path / "x")
    assert "very-secret-value" not in repr(config) and "passkey-value" not in str(config)
    assert config.redacted()["MPESA_CONSUMER_SECRET"] == "set"
    settings = TillSettings(consumer_secret="very-secret-value", passkey="passkey-value")
    assert "very-secret-value" not in repr(settings) and "passkey-value" not in str(settings)


def test_secrets_fall_back_to_a_file_only_the_user_can_read(tmp_path: Path, no_keyring: None) -> None:
    store = SecretStore(tmp_path)
    assert store.backend_name.startswith("file")
    store.set("MPESA_PASSKEY", "pk")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert SecretStore(tmp_path).get("MPESA_PASSKEY") == "pk"
    store.set("MPESA_PASSKEY", "")
    assert SecretStore(tmp_path).get("MPESA_PASSKEY") is None


async def test_settings_saved_by_the_owner_are_used_next_start_and_secrets_never_come_back_in_clear(
    tmp_path: Path, no_keyring: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MPESA_TILL_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    service = await TillService.open(
        load_config(env=env_for(tmp_path), dotenv_path=tmp_path / "x", force_demo=True)
    )
    try:
        settings = await service.load_settings()
        assert settings.consumer_secret == ""
        await service.save_settings(
            TillSettings(
                consumer_key="ck",
                consumer_secret="cs-secret",
                passkey="pk-secret",
                shortcode="600000",
                relay_url="https://relay.example.com",
                relay_key="rk-secret",
                language="sw",
                max_amount_kes=70000,
            )
        )
        again = await service.load_settings()
        assert again.consumer_key == "ck" and again.shortcode == "600000" and again.language == "sw"
        assert again.consumer_secret == SECRET_PLACEHOLDER and again.relay_key == SECRET_PLACEHOLDER
        assert service.config.language == "sw"
        # The amount limit applies at once, before anything is stored or sent.
        with pytest.raises(InvalidPaymentRequest, match="70,000"):
            await service.charge(70_001, "0708374149")
        assert await service.history() == []
        again.shortcode = "600001"
        await service.save_settings(again)  # the placeholders keep the stored secrets
    finally:
        await service.close()
    config = load_config(env=env_for(tmp_path), dotenv_path=tmp_path / "x")
    assert config.mode == "remote"
    assert (
        config.consumer_secret == "cs-secret"
        and config.relay_key == "rk-secret"
        and config.shortcode == "600001"
    )
    assert config.sources["MPESA_SHORTCODE"] == "settings"
    assert "cs-secret" not in caplog.text and "rk-secret" not in caplog.text
    assert "cs-secret" not in (tmp_path / "till.sqlite3").read_bytes().decode("latin-1")
