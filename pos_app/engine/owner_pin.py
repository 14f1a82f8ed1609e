"""The owner PIN: set, changed and checked before an owner action (a manual receipt); a wrong PIN is
audited. The hash lives in the settings table (pos_app/engine/pin.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from pos_app.engine.errors import WrongPin
from pos_app.engine.ledger import audit_entry
from pos_app.engine.pin import SETTING_KEY as PIN_KEY
from pos_app.engine.pin import hash_pin, valid_pin, verify_pin
from pos_app.store.db import Store


class OwnerPin:
    def __init__(self, *, settings_store: Store, audit_store: Store, now: Callable[[], datetime]) -> None:
        self._settings_store = settings_store
        self._audit_store = audit_store
        self._now = now

    async def is_set(self) -> bool:
        return await self._settings_store.get_setting(PIN_KEY) is not None

    async def check(self, pin: str, *, action: str) -> None:
        stored = await self._settings_store.get_setting(PIN_KEY)
        if stored is None:
            raise WrongPin("No owner PIN is set yet: set one in Settings (or `mpesa-till set-pin`).")
        if not verify_pin(pin, stored):
            await self._audit_store.append_audit(
                [audit_entry(at=self._now(), actor="owner", action=f"{action}_wrong_pin")]
            )
            raise WrongPin("Wrong owner PIN.")

    async def change(self, old_pin: str | None, new_pin: str) -> None:
        stored = await self._settings_store.get_setting(PIN_KEY)
        if stored is not None and (old_pin is None or not verify_pin(old_pin, stored)):
            raise WrongPin("The current owner PIN is wrong.")
        if not valid_pin(new_pin):
            raise WrongPin("The owner PIN must be 4 to 8 digits.")
        hashed = await asyncio.to_thread(hash_pin, new_pin)
        await self._settings_store.set_settings(
            {PIN_KEY: hashed},
            self._now(),
            audit_entry(
                at=self._now(), actor="owner", action="owner_pin_changed" if stored else "owner_pin_set"
            ),
        )
