"""The till's configuration: environment, a `.env` file and the settings store, resolved to one TillConfig.

Precedence, strongest first: the process environment (an explicit choice for this run), the settings
store (what the owner saved in the window or with the CLI), the `.env` file (the seed's bootstrap
file), then defaults. Secrets (consumer secret, passkey, relay key, ngrok token) live in the system
keyring or a 0600 file (`pos_app/store/secrets.py`), never in the settings table, never in a log.

Modes (product.md "Configuration", issue 4 "Modes"):
- ``demo``: the Daraja simulator and an embedded relay on loopback, no credentials, no real money. The
  default when nothing is configured, or forced with ``--demo``.
- ``remote``: a relay on a public HTTPS host (``MPESA_RELAY_URL`` + ``MPESA_RELAY_KEY``).
- ``embedded``: the relay inside the till, exposed by an ngrok tunnel (``NGROK_AUTHTOKEN``).
- ``query_only``: Daraja credentials but no relay: results come from STK Query only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from dotenv import dotenv_values

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE

MODES = ("demo", "remote", "embedded", "query_only")
LANGUAGES = ("en", "sw")

#: Environment variable → TillConfig attribute for plain (non-secret) values.
PLAIN_VARIABLES: dict[str, str] = {
    "MPESA_CONSUMER_KEY": "consumer_key",
    "MPESA_SHORTCODE": "shortcode",
    "MPESA_CALLBACK_URL": "callback_url",
    "MPESA_ENVIRONMENT": "environment",
    "MPESA_TRANSACTION_TYPE": "transaction_type",
    "MPESA_TILL_NUMBER": "till_number",
    "MPESA_RELAY_URL": "relay_url",
    "MPESA_API_BASE_URL": "api_base_url",
    "MPESA_TILL_LANGUAGE": "language",
    "MPESA_TILL_MODE": "mode",
    "MPESA_EMBEDDED_RELAY": "use_embedded_relay",
    "MPESA_MAX_AMOUNT_KES": "max_amount_kes",
}
#: Environment variable → attribute for secrets (never written to the settings table).
SECRET_VARIABLES: dict[str, str] = {
    "MPESA_CONSUMER_SECRET": "consumer_secret",
    "MPESA_PASSKEY": "passkey",
    "MPESA_RELAY_KEY": "relay_key",
    "NGROK_AUTHTOKEN": "ngrok_authtoken",
}
#: Timing knobs: short in tests, the defaults below in a shop.
TIMING_VARIABLES: dict[str, str] = {
    "MPESA_TILL_RELAY_SILENCE_S": "relay_silence_s",
    "MPESA_TILL_WAIT_DEADLINE_S": "wait_deadline_s",
    "MPESA_TILL_RECONCILE_HORIZON_S": "reconcile_horizon_s",
    "MPESA_TILL_DARAJA_TIMEOUT_S": "daraja_timeout_s",
    "MPESA_TILL_LONG_POLL_S": "long_poll_s",
}

DEMO_DB_NAME = "demo-till.sqlite3"
TILL_DB_NAME = "till.sqlite3"


class ConfigError(ValueError):
    """A configuration value cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Timings:
    """How long the till waits for what. Defaults follow product.md §"A payment, end to end" step 4."""

    #: No result on the relay after this long → start asking Daraja with STK Query.
    relay_silence_s: float = 8.0
    #: After this long without a result the attempt is unknown (the countdown on the screen).
    wait_deadline_s: float = 90.0
    #: STK Query spacing after the silence window: first gap, growth, cap, ±jitter fraction. The cap
    #: bounds how late a result Daraja already knows is seen (issue 4: within 15 s).
    query_first_gap_s: float = 3.0
    query_growth: float = 1.6
    query_max_gap_s: float = 12.0
    query_jitter: float = 0.2
    #: An unknown attempt keeps being reconciled (relay feed + occasional query) this long.
    reconcile_horizon_s: float = 6 * 3600.0
    reconcile_query_first_s: float = 60.0
    reconcile_query_max_s: float = 600.0
    #: Long-poll length asked of the relay (the relay caps it at 30 s).
    long_poll_s: float = 25.0
    #: Retry spacing while the relay is unreachable.
    relay_retry_first_s: float = 0.5
    relay_retry_max_s: float = 15.0
    #: HTTP timeouts towards the relay (connect/read beyond the long-poll).
    relay_timeout_s: float = 10.0
    #: Read timeout for Daraja calls; a push unanswered this long is unknown, never sent again.
    daraja_timeout_s: float = 30.0
    #: How long diagnostics waits for its test callback to show up at the relay.
    selftest_wait_s: float = 5.0


@dataclass(frozen=True)
class TillConfig:
    mode: str = "demo"
    home: Path = field(default_factory=lambda: default_home())
    consumer_key: str = ""
    consumer_secret: str = ""
    shortcode: str = ""
    passkey: str = ""
    callback_url: str = ""
    environment: str = "sandbox"
    transaction_type: str = "CustomerPayBillOnline"
    till_number: str = ""
    relay_url: str = ""
    relay_key: str = ""
    ngrok_authtoken: str = ""
    api_base_url: str = ""
    use_embedded_relay: bool = False
    language: str = "en"
    max_amount_kes: int = 250_000
    timings: Timings = field(default_factory=Timings)
    #: Where the values came from, for diagnostics ("MPESA_SHORTCODE" → "environment" | ".env" | "settings").
    sources: Mapping[str, str] = field(default_factory=dict)
    #: True when the mode was chosen because nothing was configured (the UI says so).
    demo_by_default: bool = False

    @property
    def demo(self) -> bool:
        return self.mode == "demo"

    @property
    def database_path(self) -> Path:
        # Demo sales live in their own file so simulator money can never be counted as real money
        # (style.md habit 6); the window and the CLI pick the same file because they resolve the same mode.
        return self.home / (DEMO_DB_NAME if self.demo else TILL_DB_NAME)

    @property
    def relay_database_path(self) -> Path:
        return self.home / ("demo-relay.sqlite3" if self.demo else "relay.sqlite3")

    @property
    def relay_key_file(self) -> Path:
        return self.home / ("demo-relay.key" if self.demo else "relay.key")

    def with_timings(self, **changes: float) -> TillConfig:
        return replace(self, timings=replace(self.timings, **changes))

    def redacted(self) -> dict[str, str]:
        """Every value as text with secrets reduced to set/unset, for logs and `doctor`."""
        shown: dict[str, str] = {"mode": self.mode, "home": str(self.home)}
        for variable, attribute in PLAIN_VARIABLES.items():
            shown[variable] = str(getattr(self, attribute))
        for variable, attribute in SECRET_VARIABLES.items():
            shown[variable] = "set" if getattr(self, attribute) else "not set"
        return shown

    def __repr__(self) -> str:  # a config printed by accident must not leak a secret
        return f"TillConfig({self.redacted()!r})"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """`MPESA_TILL_HOME`, else the per-user data folder (XDG on Linux, AppData on Windows)."""
    env = os.environ if env is None else env
    explicit = env.get("MPESA_TILL_HOME")
    if explicit:
        return Path(explicit).expanduser()
    if os.name == "nt":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "mpesa-till"
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "mpesa-till"


def _parse_bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def read_stored_settings(database_path: Path) -> dict[str, str]:
    """The settings table as a dict, read with the stdlib driver (configuration is resolved before the
    async store opens). Missing file or table → {}."""
    if not database_path.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=5) as connection:
            rows = connection.execute("SELECT key, value FROM settings").fetchall()
    except sqlite3.Error:
        return {}
    return {str(key): str(value) for key, value in rows}


def load_config(
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
    force_demo: bool = False,
    secrets: SecretReader | None = None,
    for_settings: bool = False,
) -> TillConfig:
    """Resolve the configuration. `env` defaults to os.environ; `dotenv_path` to ./.env."""
    process_env = dict(os.environ if env is None else env)
    dotenv_file = Path(".env") if dotenv_path is None else dotenv_path
    dotenv = (
        {k: v for k, v in dotenv_values(dotenv_file).items() if v is not None} if dotenv_file.exists() else {}
    )
    home = default_home(process_env if "MPESA_TILL_HOME" in process_env else {**dotenv, **process_env})

    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for variable in (*PLAIN_VARIABLES, *SECRET_VARIABLES, *TIMING_VARIABLES):
        if variable in dotenv and dotenv[variable] != "":
            values[variable], sources[variable] = dotenv[variable], ".env"

    # The store is per mode; the owner's saved settings only ever apply to the real till.
    stored = read_stored_settings(home / TILL_DB_NAME)
    for variable in (*PLAIN_VARIABLES, *TIMING_VARIABLES):
        if stored.get(variable):
            values[variable], sources[variable] = stored[variable], "settings"
    if secrets is None:
        from pos_app.store.secrets import SecretStore

        secret_reader: SecretReader = SecretStore(home)
    else:
        secret_reader = secrets
    for variable in SECRET_VARIABLES:
        secret = secret_reader.get(variable)
        if secret:
            values[variable], sources[variable] = secret, "settings"

    for variable in (*PLAIN_VARIABLES, *SECRET_VARIABLES, *TIMING_VARIABLES):
        if process_env.get(variable, "") != "":
            values[variable], sources[variable] = process_env[variable].strip(), "environment"

    kwargs: dict[str, object] = {"home": home, "sources": sources}
    for variable, attribute in {**PLAIN_VARIABLES, **SECRET_VARIABLES}.items():
        if variable not in values:
            continue
        raw = values[variable].strip()
        if attribute == "use_embedded_relay":
            kwargs[attribute] = _parse_bool(raw)
        elif attribute == "max_amount_kes":
            try:
                kwargs[attribute] = int(raw)
            except ValueError as error:
                raise ConfigError(f"{variable} must be a whole number of shillings, not {raw!r}") from error
        else:
            kwargs[attribute] = raw
    timing_changes: dict[str, float] = {}
    for variable, attribute in TIMING_VARIABLES.items():
        if variable in values:
            try:
                timing_changes[attribute] = float(values[variable])
            except ValueError as error:
                raise ConfigError(f"{variable} must be a number of seconds") from error

    config = TillConfig(**kwargs)  # type: ignore[arg-type]
    if timing_changes:
        config = config.with_timings(**timing_changes)
    if config.language not in LANGUAGES:
        raise ConfigError(f"MPESA_TILL_LANGUAGE must be one of {', '.join(LANGUAGES)}")
    if config.environment not in ("sandbox", "production"):
        raise ConfigError("MPESA_ENVIRONMENT must be 'sandbox' or 'production'")

    if for_settings:  # what the owner configured, without the demo stand-ins
        return config
    mode, by_default = choose_mode(config, force_demo=force_demo)
    config = replace(config, mode=mode, demo_by_default=by_default)
    if mode == "demo":
        config = demo_credentials(config)
    return config


def choose_mode(config: TillConfig, *, force_demo: bool = False) -> tuple[str, bool]:
    """(mode, chosen because nothing was configured)."""
    if force_demo:
        return "demo", False
    explicit = config.sources.get("MPESA_TILL_MODE")
    if explicit:
        if config.mode not in MODES:
            raise ConfigError(f"MPESA_TILL_MODE must be one of {', '.join(MODES)}, not {config.mode!r}")
        return config.mode, False
    has_daraja = bool(config.consumer_key or config.consumer_secret or config.shortcode or config.passkey)
    if not has_daraja and not config.relay_url:
        return "demo", True
    if config.relay_url:
        return "remote", False
    if config.use_embedded_relay or config.ngrok_authtoken:
        return "embedded", False
    return "query_only", False


def demo_credentials(config: TillConfig) -> TillConfig:
    """Demo mode talks to the simulator only: its credentials, the public sandbox shortcode/passkey."""
    from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET

    return replace(
        config,
        consumer_key=SIM_CONSUMER_KEY,
        consumer_secret=SIM_CONSUMER_SECRET,
        shortcode=SANDBOX_SHORTCODE,
        passkey=SANDBOX_PASSKEY,
        transaction_type="CustomerPayBillOnline",
        till_number="",
        environment="sandbox",
        relay_url="",
        relay_key="",
        callback_url="",
    )


class SecretReader(Protocol):
    """What load_config needs from the secret store (tests pass an in-memory one)."""

    def get(self, name: str) -> str | None: ...
