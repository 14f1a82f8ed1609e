"""The Settings screen's values: read from the till's configuration (environment, .env, settings table,
keyring), saved with secrets to the keyring and the rest to the settings table, with an audit entry."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pos_app.config import load_config
from pos_app.engine.ledger import audit_entry
from pos_app.engine.views import SECRET_FIELDS, SECRET_PLACEHOLDER, TillSettings
from pos_app.settings_schema import SETTINGS_VARIABLES
from pos_app.store.db import Store
from pos_app.store.secrets import SecretStore


async def load_settings(home: Path) -> TillSettings:
    config = load_config(for_settings=True, env=_env_for_settings(home))
    values: dict[str, Any] = {}
    for name in SETTINGS_VARIABLES:
        value = getattr(config, name)
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
    settings.check()
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
