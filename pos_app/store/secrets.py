"""Secrets (consumer secret, passkey, relay key, ngrok token): the system keyring where one works, else a
file only the user can read (0600) in the till's data folder, so a till with no working keyring still
starts.

Values never pass through a logger here; callers show them back as "set"/"not set" only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "mpesa-till"
FILE_NAME = "secrets.json"


def usable_keyring() -> Any | None:
    """The keyring backend when a real one is available; None when keyring would only fail.

    keyring falls back to `keyring.backends.fail.Keyring` (priority 0) on a machine with no Secret
    Service / Keychain / Credential Locker, e.g. a headless box or a locked-down Windows account.
    """
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    chained = getattr(backend, "backends", None)
    if chained is not None and not [b for b in chained if not isinstance(b, fail.Keyring)]:
        return None
    return backend


class SecretStore:
    """get/set/delete of named secrets. `use_keyring=None` detects; tests pass False."""

    def __init__(self, home: Path, *, use_keyring: bool | None = None) -> None:
        self.home = home
        self._keyring = usable_keyring() if use_keyring in (None, True) else None
        self._namespace = f"{SERVICE}:{home.resolve() if home.exists() else home}"

    @property
    def backend_name(self) -> str:
        return "system keyring" if self._keyring is not None else f"file {self.path} (0600)"

    @property
    def path(self) -> Path:
        return self.home / FILE_NAME

    def get(self, name: str) -> str | None:
        if self._keyring is not None:
            try:
                value = self._keyring.get_password(self._namespace, name)
            except Exception as error:  # a locked or broken keyring must not stop the till
                log.warning("keyring read failed (%s); using the secrets file", type(error).__name__)
            else:
                if value:
                    return str(value)
        return self._read_file().get(name) or None

    def set(self, name: str, value: str) -> None:
        if not value:
            self.delete(name)
            return
        if self._keyring is not None:
            try:
                self._keyring.set_password(self._namespace, name, value)
            except Exception as error:
                log.warning("keyring write failed (%s); using the secrets file", type(error).__name__)
            else:
                # A value kept in the keyring must not linger in the file from an earlier fallback.
                self._write_file({k: v for k, v in self._read_file().items() if k != name})
                return
        data = self._read_file()
        data[name] = value
        self._write_file(data)

    def delete(self, name: str) -> None:
        if self._keyring is not None:
            with contextlib.suppress(Exception):
                self._keyring.delete_password(self._namespace, name)
        data = self._read_file()
        if name in data:
            del data[name]
            self._write_file(data)

    def _read_file(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            log.warning("the secrets file %s is not valid JSON; ignoring it", self.path)
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, str]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        # Created 0600 from the start (no window where another user could read it), then moved in place.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)
