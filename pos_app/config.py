"""The till's configuration: environment, a `.env` file and the settings store, resolved to one TillConfig.

Precedence, strongest first: the process environment (an explicit choice for this run), the settings
store (what the owner saved in the window or with the CLI), the `.env` file (the seed's bootstrap
file), then defaults. Which variables exist, their types and the values they accept are declared once
in `pos_app/settings_schema.py`; a value it refuses stops the start with its variable named. Secrets
(consumer secret, passkey, relay key, ngrok token) live in the system keyring or a 0600 file
(`pos_app/store/secrets.py`), never in the settings table, never in a log.

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
from pos_app.settings_schema import LANGUAGES as LANGUAGES
from pos_app.settings_schema import SETTINGS
from pos_app.settings_schema import ConfigError as ConfigError

MODES = ("demo", "remote", "embedded", "query_only")

#: Environment variable → TillConfig attribute, derived from the declaration (pos_app/settings_schema.py).
PLAIN_VARIABLES: dict[str, str] = {s.variable: s.name for s in SETTINGS if not s.secret and not s.timing}
#: Environment variable → attribute for secrets (never written to the settings table).
SECRET_VARIABLES: dict[str, str] = {s.variable: s.name for s in SETTINGS if s.secret}

DEMO_DB_NAME = "demo-till.sqlite3"
TILL_DB_NAME = "till.sqlite3"


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
        for setting in SETTINGS:
            if setting.timing:
                continue
            value = getattr(self, setting.name)
            shown[setting.variable] = ("set" if value else "not set") if setting.secret else str(value)
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
    for setting in SETTINGS:
        if dotenv.get(setting.variable, "") != "":
            values[setting.variable], sources[setting.variable] = dotenv[setting.variable], ".env"

    # The store is per mode; the owner's saved settings only ever apply to the real till.
    stored = read_stored_settings(home / TILL_DB_NAME)
    for setting in SETTINGS:
        if not setting.secret and stored.get(setting.variable):
            values[setting.variable], sources[setting.variable] = stored[setting.variable], "settings"
    if secrets is None:
        from pos_app.store.secrets import SecretStore

        secret_reader: SecretReader = SecretStore(home)
    else:
        secret_reader = secrets
    for setting in SETTINGS:
        secret = secret_reader.get(setting.variable) if setting.secret else None
        if secret:
            values[setting.variable], sources[setting.variable] = secret, "settings"

    for setting in SETTINGS:
        if process_env.get(setting.variable, "") != "":
            values[setting.variable], sources[setting.variable] = process_env[setting.variable], "environment"

    kwargs: dict[str, object] = {"home": home, "sources": sources}
    timing_changes: dict[str, float] = {}
    for setting in SETTINGS:
        if setting.variable not in values:
            continue
        value = setting.parse(values[setting.variable], sources[setting.variable])
        if setting.timing:
            timing_changes[setting.name] = float(value)
        else:
            kwargs[setting.name] = value

    config = TillConfig(**kwargs)  # type: ignore[arg-type]
    if timing_changes:
        config = config.with_timings(**timing_changes)

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
