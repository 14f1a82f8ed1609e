"""The Settings screen's values: read from the till's configuration (environment, .env, settings table,
keyring), saved with secrets to the keyring and the rest to the settings table, with an audit entry."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pos_app.config import LANGUAGES, PLAIN_VARIABLES, SECRET_VARIABLES, load_config
from pos_app.engine.ledger import audit_entry
from pos_app.engine.views import SECRET_FIELDS, SECRET_PLACEHOLDER, TillSettings
from pos_app.store.db import Store
from pos_app.store.secrets import SecretStore

#: TillSettings field → the variable name used in the environment, .env and the settings table.
SETTINGS_VARIABLES: dict[str, str] = {
    "consumer_key": "MPESA_CONSUMER_KEY",
    "consumer_secret": "MPESA_CONSUMER_SECRET",
    "passkey": "MPESA_PASSKEY",
    "environment": "MPESA_ENVIRONMENT",
    "shortcode": "MPESA_SHORTCODE",
    "till_number": "MPESA_TILL_NUMBER",
    "transaction_type": "MPESA_TRANSACTION_TYPE",
    "relay_url": "MPESA_RELAY_URL",
    "relay_key": "MPESA_RELAY_KEY",
    "use_embedded_relay": "MPESA_EMBEDDED_RELAY",
    "ngrok_authtoken": "NGROK_AUTHTOKEN",
    "callback_url": "MPESA_CALLBACK_URL",
    "language": "MPESA_TILL_LANGUAGE",
    "max_amount_kes": "MPESA_MAX_AMOUNT_KES",
}


async def load_settings(home: Path) -> TillSettings:
    config = load_config(for_settings=True, env=_env_for_settings(home))
    values: dict[str, Any] = {}
    for name, variable in SETTINGS_VARIABLES.items():
        attribute = PLAIN_VARIABLES.get(variable) or SECRET_VARIABLES[variable]
        value = getattr(config, attribute)
        if name in SECRET_FIELDS:
            value = SECRET_PLACEHOLDER if value else ""
        values[name] = value
    return TillSettings(**values)


def _env_for_settings(home: Path) -> dict[str, str]:
    return {**os.environ, "MPESA_TILL_HOME": str(home)}


async def save_settings(
    settings: TillSettings, *, home: Path, settings_store: Store, now: Callable[[], datetime]
) -> None:
    """Validate and store; the caller applies what takes effect at once (language, amount limit)."""
    if settings.language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    if settings.environment not in ("sandbox", "production"):
        raise ValueError("environment must be sandbox or production")
    if (
        isinstance(settings.max_amount_kes, bool)
        or not isinstance(settings.max_amount_kes, int)
        or settings.max_amount_kes < 1
    ):
        raise ValueError("max_amount_kes must be a whole number of shillings, at least 1")
    secrets_store = SecretStore(home)
    plain: dict[str, str | None] = {}
    changed: list[str] = []
    for name, variable in SETTINGS_VARIABLES.items():
        value = getattr(settings, name)
        if name in SECRET_FIELDS:
            if value == SECRET_PLACEHOLDER:
                continue
            secrets_store.set(variable, str(value).strip())
            changed.append(variable)
            continue
        text = ("1" if value else "") if isinstance(value, bool) else str(value).strip()
        plain[variable] = text or None
        changed.append(variable)
    await settings_store.set_settings(
        plain,
        now(),
        audit_entry(at=now(), actor="owner", action="settings_saved", detail={"keys": ",".join(changed)}),
    )
