"""Configuration from the environment, and whom the relay believes about a request's source."""

from __future__ import annotations

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
