"""The relay's configuration: one env-backed dataclass, read once at start-up.

`DATABASE_URL` keeps the name the seed documents use; everything else is `RELAY_*`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

# Safaricom's callback sources (reference/daraja.md §5): the list libraries repeat, plus the two extra
# addresses mpesakit allows (.212.128, .212.132). 196.201.212.69 and .138 were seen delivering real callbacks.
SAFARICOM_CALLBACK_IPS: tuple[str, ...] = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
    "196.201.212.128",
    "196.201.212.132",
)

LONG_POLL_MAX_S = 30.0


def default_data_dir() -> Path:
    return Path(os.environ.get("RELAY_DATA_DIR", "") or Path.home() / ".local" / "share" / "mpesa-relay")


def default_database_url(data_dir: Path | None = None) -> str:
    folder = data_dir or default_data_dir()
    return f"sqlite+aiosqlite:///{folder / 'relay.db'}"


class SettingsError(ValueError):
    """A setting has a value the relay cannot use; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_business_hours(raw: str) -> tuple[time, time]:
    """`08:00-20:00` (Africa/Nairobi) → (08:00, 20:00)."""
    try:
        start_text, end_text = raw.split("-", 1)
        start = time.fromisoformat(start_text.strip())
        end = time.fromisoformat(end_text.strip())
    except ValueError as error:
        raise SettingsError(f"RELAY_BUSINESS_HOURS must look like 08:00-20:00, not {raw!r}") from error
    if start >= end:
        raise SettingsError(f"RELAY_BUSINESS_HOURS must end after it starts, not {raw!r}")
    return start, end


@dataclass(frozen=True)
class RelaySettings:
    database_url: str = field(default_factory=default_database_url)
    # Honour X-Forwarded-For only from these addresses or networks (the HTTPS proxy in front of us).
    trusted_proxies: tuple[str, ...] = ()
    # Refuse to *apply* callbacks from outside Safaricom's addresses (they are still stored and answered 200).
    ip_allowlist_enabled: bool = False
    allowed_callback_ips: tuple[str, ...] = SAFARICOM_CALLBACK_IPS
    business_hours: str = "08:00-20:00"
    # Daraja's callback is under 1 kB; 64 kB leaves room for any variant and refuses floods of garbage.
    max_body_bytes: int = 64 * 1024
    # When set, /metrics and /api/v1/alerts want `Authorization: Bearer <admin token>`.
    admin_token: str | None = None
    long_poll_max_s: float = LONG_POLL_MAX_S
    migrate_on_start: bool = True
    # Group commit: at most this many queued writes share one transaction.
    max_batch: int = 256
    # Pending payments older than this raise the "pending" alert.
    pending_alert_after_s: float = 300.0

    def __post_init__(self) -> None:
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise SettingsError(f"RELAY_TRUSTED_PROXIES has {entry!r}, not an address") from error
        for entry in self.allowed_callback_ips:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise SettingsError(f"RELAY_ALLOWED_CALLBACK_IPS has {entry!r}, not an address") from error
        parse_business_hours(self.business_hours)
        if self.max_body_bytes < 1024:
            raise SettingsError("RELAY_MAX_BODY_BYTES must be at least 1024")
        if not 0 < self.long_poll_max_s <= LONG_POLL_MAX_S:
            raise SettingsError(f"RELAY_LONG_POLL_MAX_S must be in (0, {LONG_POLL_MAX_S:g}]")

    @property
    def hours(self) -> tuple[time, time]:
        return parse_business_hours(self.business_hours)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RelaySettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("DATABASE_URL"):
            values["database_url"] = env["DATABASE_URL"]
        elif env.get("RELAY_DATA_DIR"):
            values["database_url"] = default_database_url(Path(env["RELAY_DATA_DIR"]))
        if "RELAY_TRUSTED_PROXIES" in env:
            values["trusted_proxies"] = _csv(env["RELAY_TRUSTED_PROXIES"])
        if "RELAY_IP_ALLOWLIST" in env:
            values["ip_allowlist_enabled"] = _bool("RELAY_IP_ALLOWLIST", env["RELAY_IP_ALLOWLIST"])
        if env.get("RELAY_ALLOWED_CALLBACK_IPS"):
            values["allowed_callback_ips"] = _csv(env["RELAY_ALLOWED_CALLBACK_IPS"])
        if env.get("RELAY_BUSINESS_HOURS"):
            values["business_hours"] = env["RELAY_BUSINESS_HOURS"]
        if env.get("RELAY_MAX_BODY_BYTES"):
            values["max_body_bytes"] = _int("RELAY_MAX_BODY_BYTES", env["RELAY_MAX_BODY_BYTES"])
        if env.get("RELAY_ADMIN_TOKEN"):
            values["admin_token"] = env["RELAY_ADMIN_TOKEN"]
        if env.get("RELAY_LONG_POLL_MAX_S"):
            values["long_poll_max_s"] = _float("RELAY_LONG_POLL_MAX_S", env["RELAY_LONG_POLL_MAX_S"])
        if "RELAY_MIGRATE_ON_START" in env:
            values["migrate_on_start"] = _bool("RELAY_MIGRATE_ON_START", env["RELAY_MIGRATE_ON_START"])
        return cls(**values)  # type: ignore[arg-type]


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from error


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from error
