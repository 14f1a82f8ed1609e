"""Configuration from the environment, and whom the relay believes about a request's source."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.settings import SAFARICOM_CALLBACK_IPS, RelaySettings, SettingsError
from relay.sources import client_address, is_allowed


def test_settings_come_from_the_environment() -> None:
    settings = RelaySettings.from_env(
        {
            "DATABASE_URL": "postgresql+asyncpg://relay@db/relay",
            "RELAY_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "RELAY_IP_ALLOWLIST": "yes",
            "RELAY_BUSINESS_HOURS": "07:30-21:00",
            "RELAY_MAX_BODY_BYTES": "32768",
            "RELAY_ADMIN_TOKEN": "admin",
            "RELAY_LONG_POLL_MAX_S": "20",
            "RELAY_MIGRATE_ON_START": "0",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://relay@db/relay"
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert settings.ip_allowlist_enabled is True
    assert str(settings.hours[0]) == "07:30:00"
    assert (settings.max_body_bytes, settings.admin_token, settings.long_poll_max_s) == (32768, "admin", 20.0)
    assert settings.migrate_on_start is False


def test_the_default_database_is_a_sqlite_file_in_the_data_folder() -> None:
    settings = RelaySettings.from_env({"RELAY_DATA_DIR": "/srv/relay"})
    assert settings.database_url == "sqlite+aiosqlite:////srv/relay/relay.db"
    assert settings.is_sqlite


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELAY_TRUSTED_PROXIES", "not-an-ip"),
        ("RELAY_IP_ALLOWLIST", "maybe"),
        ("RELAY_BUSINESS_HOURS", "20:00-08:00"),
        ("RELAY_MAX_BODY_BYTES", "ten"),
        ("RELAY_LONG_POLL_MAX_S", "60"),
    ],
)
def test_a_bad_setting_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        RelaySettings.from_env({name: value})


def test_the_allow_list_has_every_known_safaricom_address_including_mpesakits_extras() -> None:
    assert len(SAFARICOM_CALLBACK_IPS) == 14
    for seen in ("196.201.212.69", "196.201.212.138", "196.201.212.128", "196.201.212.132"):
        assert is_allowed(seen, SAFARICOM_CALLBACK_IPS)
    assert not is_allowed("196.201.214.201", SAFARICOM_CALLBACK_IPS)
    assert not is_allowed("garbage", SAFARICOM_CALLBACK_IPS)
    assert is_allowed("::ffff:196.201.212.69", SAFARICOM_CALLBACK_IPS)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", "196.201.212.69", "203.0.113.5"),  # untrusted peer: header ignored
        ("127.0.0.1", "196.201.212.69", "196.201.212.69"),
        ("127.0.0.1", "196.201.212.69, 10.0.0.7", "196.201.212.69"),  # a second trusted hop is skipped
        ("127.0.0.1", "6.6.6.6, 196.201.212.69, 203.0.113.9", "203.0.113.9"),  # forged left part ignored
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "10.0.0.8, 10.0.0.7", "10.0.0.8"),  # all trusted: the farthest one
    ],
)
def test_x_forwarded_for_is_walked_from_the_right_past_trusted_proxies_only(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded, ("127.0.0.1", "10.0.0.0/8")) == expected


@pytest.mark.parametrize("name", ["RELAY_IP_ALLOWLIST", "RELAY_MIGRATE_ON_START"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), (" Yes ", True), ("ON", True), ("true", True), ("0", False), ("off", False), ("", False)],
)
def test_true_or_false_settings_take_the_same_words_as_before(name: str, value: str, expected: bool) -> None:
    settings = RelaySettings.from_env({name: value})
    field = "ip_allowlist_enabled" if name == "RELAY_IP_ALLOWLIST" else "migrate_on_start"
    assert getattr(settings, field) is expected


@pytest.mark.parametrize("value", ["t", "y", "2", "enabled", "truee"])
def test_true_or_false_settings_refuse_anything_else_by_name(value: str) -> None:
    with pytest.raises(SettingsError, match=f"RELAY_MIGRATE_ON_START must be true or false, not '{value}'"):
        RelaySettings.from_env({"RELAY_MIGRATE_ON_START": value})


def test_an_empty_variable_counts_as_unset() -> None:
    settings = RelaySettings.from_env(
        {
            "RELAY_DATA_DIR": "/srv/relay",
            "DATABASE_URL": "",
            "RELAY_ALLOWED_CALLBACK_IPS": "",
            "RELAY_BUSINESS_HOURS": "",
            "RELAY_MAX_BODY_BYTES": "",
            "RELAY_ADMIN_TOKEN": "",
            "RELAY_LONG_POLL_MAX_S": "",
            "RELAY_TRUSTED_PROXIES": "",
        }
    )
    expected = RelaySettings(database_url="sqlite+aiosqlite:////srv/relay/relay.db", data_dir="/srv/relay")
    assert settings == expected
    assert settings.allowed_callback_ips == SAFARICOM_CALLBACK_IPS and settings.admin_token is None


def test_only_declared_variables_are_read() -> None:
    environment = {"RELAY_MAX_BATCH": "1", "relay_admin_token": "lower-case", "OTHER": "x"}
    settings = RelaySettings.from_env(environment)
    assert settings.max_batch == 256 and settings.admin_token is None


def test_settings_built_in_code_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "from-the-environment")
    monkeypatch.setenv("RELAY_MIGRATE_ON_START", "false")
    settings = RelaySettings(database_url="sqlite+aiosqlite:///relay.db")
    assert settings.admin_token is None and settings.migrate_on_start is True
    assert RelaySettings.from_env().admin_token == "from-the-environment"


def test_a_dotenv_file_fills_what_the_environment_does_not_set(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "RELAY_ADMIN_TOKEN=from-file\nRELAY_BUSINESS_HOURS=06:00-22:00\nMPESA_PASSKEY=till-only\n"
    )
    settings = RelaySettings.from_env({"RELAY_BUSINESS_HOURS": "07:00-19:00"}, env_file=dotenv)
    assert (settings.admin_token, settings.business_hours) == ("from-file", "07:00-19:00")
    assert RelaySettings.from_env({}, env_file=tmp_path / "missing.env").admin_token is None


def test_secrets_stay_out_of_the_repr() -> None:
    settings = RelaySettings.from_env(
        {"DATABASE_URL": "postgresql+asyncpg://relay:db-secret@db/relay", "RELAY_ADMIN_TOKEN": "admin-secret"}
    )
    for text in (repr(settings), str(settings)):
        assert "db-secret" not in text and "admin-secret" not in text
        assert "postgresql+asyncpg://relay:***@db/relay" in text
    assert settings.database_url.endswith("relay:db-secret@db/relay")  # the value itself is intact


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("sqlite:///relay.db", True),
        ("sqlite+aiosqlite:///relay.db", True),
        ("postgresql://relay@db/relay", True),
        ("postgres://relay@db/relay", True),
        ("postgresql+asyncpg://relay@db/relay", True),
        ("mysql://x/y", False),
        ("not a url", False),
    ],
)
def test_the_database_must_be_sqlite_or_postgresql(url: str, accepted: bool) -> None:
    if accepted:
        assert RelaySettings.from_env({"DATABASE_URL": url}).database_url == url
    else:
        with pytest.raises(SettingsError, match=r"^DATABASE_URL must be sqlite or postgresql"):
            RelaySettings.from_env({"DATABASE_URL": url})


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="RELAY_MAX_BODY_BYTES must be at least 1024"):
        RelaySettings(database_url="sqlite:///relay.db", max_body_bytes=10)
