"""Every setting the till reads, declared once: its variable name, type, default, whether it is a secret,
its label on the Settings screen and what values it accepts.

`TillSettings` is the declaration of the settings the owner edits (one field each, in screen order);
`OTHER_SETTINGS` declares the variables read only from the environment, `.env` or the settings table.
`pos_app/config.py` reads the environment, `.env` and the settings store through `SETTINGS`; the Settings
screen builds its form from `SCREEN_SETTINGS`; both validate with `Setting.parse` / `Setting.check`, so a
value refused in `.env` is refused on the screen with the same words. A new setting is one field here (plus
its `TillConfig` attribute and its label text in `pos_app/ui/strings.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pos_app.daraja.config import BASE_URLS, DEFAULT_MAX_AMOUNT_KES, PAY_BILL, TRANSACTION_TYPES

LANGUAGES = ("en", "sw")
ENVIRONMENTS = tuple(BASE_URLS)
#: The words a yes/no setting accepts, the same as the relay's (relay/settings.py); anything else is refused.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")

Kind = type[str] | type[bool] | type[int] | type[float]
T = TypeVar("T", str, bool, int, float)
_DECLARED = "setting"
#: load_config's source names as the error message says them.
_SOURCE_WORDS = {"environment": "the environment", "settings": "the saved settings"}


class ConfigError(ValueError):
    """A configuration value cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Setting:
    """One variable: how it is named, converted and checked."""

    #: The attribute on TillConfig (or Timings) and, for screen settings, on TillSettings.
    name: str
    #: The name in the environment, in `.env` and in the settings table (or the secret store).
    variable: str
    kind: Kind
    #: Secrets live in the keyring or a 0600 file, never in the settings table, a log or a repr.
    secret: bool = False
    #: The label's key in pos_app/ui/strings.py; only screen settings have one.
    label: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    #: What a number counts, for the error message ("shillings", "seconds").
    unit: str = ""
    #: A Timings attribute rather than a TillConfig one.
    timing: bool = False

    def parse(self, raw: str, source: str) -> str | bool | int | float:
        """The text from `source` (the environment, `.env` or the settings table) as a checked value."""
        text = raw.strip()
        value: str | bool | int | float
        try:
            if self.kind is bool:
                if text.lower() not in TRUE_WORDS + FALSE_WORDS:
                    raise ValueError(text)
                value = text.lower() in TRUE_WORDS
            elif self.kind is int:
                value = int(text)
            elif self.kind is float:
                value = float(text)
            else:
                value = text
        except ValueError as error:
            raise ConfigError(
                f"{self.variable} must be {_kind_words(self)}, not {raw!r}{_where(source)}"
            ) from error
        self.check(value, source)
        return value

    def check(self, value: object, source: str = "") -> None:
        """Refuse a value of the wrong type or outside the accepted ones, naming the variable."""
        # bool is an int in Python; a tick box is not an amount.
        if not isinstance(value, self.kind) or (self.kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"{self.variable} must be {_kind_words(self)}{_where(source)}")
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"{self.variable} must be one of {', '.join(self.choices)}, not {value!r}{_where(source)}"
            )
        if self.minimum is not None and isinstance(value, int) and value < self.minimum:
            raise ConfigError(
                f"{self.variable} must be at least {self.minimum}, not {value!r}{_where(source)}"
            )


def _where(source: str) -> str:
    return f" (from {_SOURCE_WORDS.get(source, source)})" if source else ""


def _kind_words(setting: Setting) -> str:
    if setting.kind is bool:
        return "true or false"
    if setting.kind is int:
        return f"a whole number of {setting.unit}"
    if setting.kind is float:
        return f"a number of {setting.unit}"
    return "text"


def on_screen(
    variable: str,
    default: T,
    *,
    label: str,
    secret: bool = False,
    choices: tuple[str, ...] = (),
    minimum: int | None = None,
    unit: str = "",
) -> T:
    """A TillSettings field that declares its setting (the name is filled in from the field's name)."""
    declared = Setting(
        name="",
        variable=variable,
        kind=type(default),
        secret=secret,
        label=label,
        choices=choices,
        minimum=minimum,
        unit=unit,
    )
    found: T = field(default=default, metadata={_DECLARED: declared})
    return found


@dataclass
class TillSettings:
    """What the Settings screen edits, in screen order. Secrets come back as SECRET_PLACEHOLDER when set
    (never in clear); saving the placeholder keeps the stored secret, saving "" removes it. Building one
    checks every value against its declaration, so the screen refuses what `.env` would refuse."""

    consumer_key: str = on_screen("MPESA_CONSUMER_KEY", "", label="set_consumer_key")
    consumer_secret: str = on_screen("MPESA_CONSUMER_SECRET", "", label="set_consumer_secret", secret=True)
    passkey: str = on_screen("MPESA_PASSKEY", "", label="set_passkey", secret=True)
    environment: str = on_screen(
        "MPESA_ENVIRONMENT", "sandbox", label="set_environment", choices=ENVIRONMENTS
    )
    shortcode: str = on_screen("MPESA_SHORTCODE", "", label="set_shortcode")
    till_number: str = on_screen("MPESA_TILL_NUMBER", "", label="set_till_number")
    transaction_type: str = on_screen(
        "MPESA_TRANSACTION_TYPE", PAY_BILL, label="set_transaction_type", choices=TRANSACTION_TYPES
    )
    relay_url: str = on_screen("MPESA_RELAY_URL", "", label="set_relay_url")
    relay_key: str = on_screen("MPESA_RELAY_KEY", "", label="set_relay_key", secret=True)
    use_embedded_relay: bool = on_screen("MPESA_EMBEDDED_RELAY", False, label="set_embedded")
    ngrok_authtoken: str = on_screen("NGROK_AUTHTOKEN", "", label="set_ngrok", secret=True)
    callback_url: str = on_screen("MPESA_CALLBACK_URL", "", label="set_callback_url")
    language: str = on_screen("MPESA_TILL_LANGUAGE", "en", label="set_language", choices=LANGUAGES)
    max_amount_kes: int = on_screen(
        "MPESA_MAX_AMOUNT_KES", DEFAULT_MAX_AMOUNT_KES, label="set_max_amount", minimum=1, unit="shillings"
    )

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse the first value its declaration does not accept (ConfigError naming the variable)."""
        for setting in SCREEN_SETTINGS:
            setting.check(getattr(self, setting.name))

    def __repr__(self) -> str:  # a settings object printed by accident must not leak a secret
        shown: dict[str, Any] = {
            setting.name: ("set" if getattr(self, setting.name) else "not set")
            if setting.secret
            else getattr(self, setting.name)
            for setting in SCREEN_SETTINGS
        }
        return f"TillSettings({shown!r})"


#: The settings on the Settings screen, in screen order.
SCREEN_SETTINGS: tuple[Setting, ...] = tuple(
    dataclasses.replace(declared.metadata[_DECLARED], name=declared.name)
    for declared in dataclasses.fields(TillSettings)
)

#: Read from the environment, `.env` or the settings table, but not edited on the screen.
OTHER_SETTINGS: tuple[Setting, ...] = (
    Setting("mode", "MPESA_TILL_MODE", str),
    Setting("api_base_url", "MPESA_API_BASE_URL", str),
    Setting("relay_silence_s", "MPESA_TILL_RELAY_SILENCE_S", float, unit="seconds", timing=True),
    Setting("wait_deadline_s", "MPESA_TILL_WAIT_DEADLINE_S", float, unit="seconds", timing=True),
    Setting("reconcile_horizon_s", "MPESA_TILL_RECONCILE_HORIZON_S", float, unit="seconds", timing=True),
    Setting("daraja_timeout_s", "MPESA_TILL_DARAJA_TIMEOUT_S", float, unit="seconds", timing=True),
    Setting("long_poll_s", "MPESA_TILL_LONG_POLL_S", float, unit="seconds", timing=True),
)

SETTINGS: tuple[Setting, ...] = SCREEN_SETTINGS + OTHER_SETTINGS

#: TillSettings field → variable name (the shape the settings store uses to save and load).
SETTINGS_VARIABLES: dict[str, str] = {setting.name: setting.variable for setting in SCREEN_SETTINGS}
#: TillSettings fields that hold a secret (the screen shows dots, the store keeps them out of the table).
SECRET_FIELDS: tuple[str, ...] = tuple(setting.name for setting in SCREEN_SETTINGS if setting.secret)
