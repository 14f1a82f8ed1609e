"""The relay's configuration: one declaration, read once at start-up.

Each field below names its environment variable (`DATABASE_URL` keeps the name the seed documents use;
everything else is `RELAY_*`), its default, what it means and how its text is checked. `from_env()` reads
the environment and, for `mpesa-relay`, a `.env` file (the environment wins); `mpesa-relay --help` lists
the same variables. Built in code (`RelaySettings(database_url=...)`: tests, the till's embedded relay),
the settings hold only what is given: the environment is read by `from_env()` alone.

An empty variable counts as unset, except a true/false one, where empty means false.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from relay.db import normalise_url

# Safaricom's callback sources (docs/daraja.md §5): the list libraries repeat, plus the two extra
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
MIN_BODY_BYTES = 1024
# A PostgreSQL restart keeps the database away for 1 to 2 s (tests/relay/test_drills.py). Safaricom sends a
# callback once (docs/daraja.md §4), so one refused while it restarts loses its receipt: callbacks wait
# this long for the database to come back. Under Daraja's own wait for an answer, which is not published.
DATABASE_WAIT_S = 5.0
DATABASE_WAIT_MAX_S = 20.0
DATABASE_URL_FORMS = "sqlite+aiosqlite:///path/relay.db or postgresql+asyncpg://user@host/name"


class SettingsError(ValueError):
    """A setting has a value the relay cannot use; the message names the variable."""


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "mpesa-relay"


def default_database_url(data_dir: Path | None = None) -> str:
    folder = data_dir or default_data_dir()
    return f"sqlite+aiosqlite:///{folder / 'relay.db'}"


# --- how the text of a variable becomes a value ---------------------------------------------------------
# Each check raises ValueError with the words that follow the variable's name in SettingsError.


def _bool(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, not {raw!r}")


def _whole_number(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"must be a whole number, not {raw!r}") from None


def _number(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"must be a number, not {raw!r}") from None


def _csv(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _addresses(entries: tuple[str, ...]) -> tuple[str, ...]:
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"has {entry!r}, not an address") from None
    return entries


def _business_hours(raw: str) -> tuple[time, time]:
    """`08:00-20:00` (Africa/Nairobi) → (08:00, 20:00)."""
    try:
        start_text, end_text = raw.split("-", 1)
        start = time.fromisoformat(start_text.strip())
        end = time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"must look like 08:00-20:00, not {raw!r}") from None
    if start >= end:
        raise ValueError(f"must end after it starts, not {raw!r}")
    return start, end


def _hours_text(raw: str) -> str:
    _business_hours(raw)
    return raw


Flag = Annotated[bool, BeforeValidator(_bool)]
Addresses = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv), AfterValidator(_addresses)]


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",  # a .env file may hold the till's variables too
        case_sensitive=True,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
    )

    data_dir: Annotated[
        Path,
        Field(
            validation_alias="RELAY_DATA_DIR",
            description="where the SQLite file goes (default ~/.local/share/mpesa-relay)",
        ),
    ] = Field(default_factory=default_data_dir)
    database_url: Annotated[
        str,
        Field(
            validation_alias="DATABASE_URL",
            description="SQLite file (default: relay.db in RELAY_DATA_DIR) or postgresql+asyncpg://…",
        ),
    ] = ""
    trusted_proxies: Annotated[
        Addresses,
        Field(
            validation_alias="RELAY_TRUSTED_PROXIES",
            description="proxies (addresses, networks; comma separated) whose X-Forwarded-For is believed",
        ),
    ] = ()
    ip_allowlist_enabled: Annotated[
        Flag,
        Field(
            validation_alias="RELAY_IP_ALLOWLIST",
            description="apply callbacks only from Safaricom's addresses (others are kept, not applied)",
        ),
    ] = False
    allowed_callback_ips: Annotated[
        Addresses,
        Field(
            validation_alias="RELAY_ALLOWED_CALLBACK_IPS",
            description="Safaricom's callback addresses (default: the 14 known ones)",
        ),
    ] = SAFARICOM_CALLBACK_IPS
    business_hours: Annotated[
        str,
        AfterValidator(_hours_text),
        Field(
            validation_alias="RELAY_BUSINESS_HOURS",
            description="Africa/Nairobi; the 'no callback for an hour' alert applies inside these",
        ),
    ] = "08:00-20:00"
    # Daraja's callback is under 1 kB; 64 kB leaves room for any variant and refuses floods of garbage.
    max_body_bytes: Annotated[
        int,
        BeforeValidator(_whole_number),
        Field(validation_alias="RELAY_MAX_BODY_BYTES", description="larger callback bodies get HTTP 413"),
    ] = 64 * 1024
    admin_token: Annotated[
        str | None,
        Field(
            validation_alias="RELAY_ADMIN_TOKEN",
            repr=False,
            description="/metrics and /api/v1/alerts want 'Authorization: Bearer <token>' (else closed)",
        ),
    ] = None
    admin_open: Annotated[
        Flag,
        Field(
            validation_alias="RELAY_ADMIN_OPEN",
            description="without a token, open /metrics and /api/v1/alerts to all (private networks)",
        ),
    ] = False
    long_poll_max_s: Annotated[
        float,
        BeforeValidator(_number),
        Field(validation_alias="RELAY_LONG_POLL_MAX_S", description="longest ?wait= a till may ask for"),
    ] = LONG_POLL_MAX_S
    database_wait_s: Annotated[
        float,
        BeforeValidator(_number),
        Field(
            validation_alias="RELAY_DATABASE_WAIT_S",
            description="how long a callback waits for a database that is away before it is refused (503)",
        ),
    ] = DATABASE_WAIT_S
    migrate_on_start: Annotated[
        Flag,
        Field(validation_alias="RELAY_MIGRATE_ON_START", description="migrate the database before serving"),
    ] = True
    # Not read from the environment (no variable): tuning for tests and benchmarks.
    # Group commit: at most this many queued writes share one transaction.
    max_batch: int = 256
    # Pending payments older than this raise the "pending" alert.
    pending_alert_after_s: float = 300.0

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return default_database_url(info.data.get("data_dir"))
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            # The text is not echoed: a URL that does not parse may still hold a password.
            raise ValueError(f"must be sqlite or postgresql ({DATABASE_URL_FORMS})") from None
        try:
            normalise_url(value)
        except ValueError:
            raise ValueError(f"must be sqlite or postgresql ({DATABASE_URL_FORMS}), not {driver}") from None
        return value

    @field_validator("max_body_bytes")
    @classmethod
    def _body_limit(cls, value: int) -> int:
        if value < MIN_BODY_BYTES:
            raise ValueError(f"must be at least {MIN_BODY_BYTES}")
        return value

    @field_validator("database_wait_s")
    @classmethod
    def _database_wait(cls, value: float) -> float:
        if not 0 <= value <= DATABASE_WAIT_MAX_S:
            raise ValueError(f"must be in [0, {DATABASE_WAIT_MAX_S:g}]")
        return value

    @field_validator("long_poll_max_s")
    @classmethod
    def _long_poll(cls, value: float) -> float:
        if not 0 < value <= LONG_POLL_MAX_S:
            raise ValueError(f"must be in (0, {LONG_POLL_MAX_S:g}]")
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(_explain(error)) from None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built in code, only what is given; the environment and .env come in through from_env().
        return (init_settings,)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = None
    ) -> RelaySettings:
        """The settings from `environ` (default os.environ) over those in `env_file`, when it exists."""
        variables = dict(os.environ if environ is None else environ)
        if env_file is not None and env_file.is_file():
            from_file = {name: value for name, value in dotenv_values(env_file).items() if value is not None}
            variables = {**from_file, **variables}
        return cls(**_Environment(cls, variables)())

    @property
    def hours(self) -> tuple[time, time]:
        return _business_hours(self.business_hours)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (hide_password(value) if name == "database_url" else value)


def variable_of(field: str) -> str | None:
    """The environment variable a field is read from, or None for one that is not."""
    alias = RelaySettings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else None


def environment_variables() -> Iterator[tuple[str, FieldInfo]]:
    """(variable, field) for every setting read from the environment, in declaration order."""
    for name, field in RelaySettings.model_fields.items():
        variable = variable_of(name)
        if variable is not None:
            yield variable, field


def hide_password(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ.

    Only fields that name a variable are read, and an empty variable counts as unset except for a
    true/false one (empty means false).
    """

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str]) -> None:
        self._variables = variables
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        flags = {variable for variable, field in environment_variables() if field.annotation is bool}
        return {name: value for name, value in self._variables.items() if value != "" or name in flags}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if variable_of(field_name) is None:
            return None, field_name, False
        return super().get_field_value(field, field_name)


def _explain(error: ValidationError) -> str:
    """One line per problem, each starting with the variable (or, for a field with none, its name)."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        where = str(problem["loc"][0]) if problem["loc"] else "settings"
        name = variable_of(where) if where in RelaySettings.model_fields else None
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name or where} {message}")
    return "; ".join(lines)
