"""The till's live status for the status bar (`TillService.status()`): whether the relay answers, when the
last callback came, and the alerts; every change is told to the status listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pos_app.engine.views import Alert, AlertCode, TillStatus

log = logging.getLogger(__name__)


class StatusBoard:
    """`start_alerts` are fixed at start (demo mode, a tunnel that failed); `demo`, `has_relay` and
    `more_alerts` (housekeeping's) are read on each `status()`, as the facade's config and relay may be
    replaced; `on_relay_lost` runs each time the relay is found unreachable."""

    def __init__(
        self,
        *,
        mode: str,
        demo: Callable[[], bool],
        has_relay: Callable[[], bool],
        start_alerts: list[Alert],
        more_alerts: Callable[[], list[Alert]],
        on_relay_lost: Callable[[], None],
    ) -> None:
        self._mode = mode
        self._demo = demo
        self._has_relay = has_relay
        self._start_alerts = start_alerts
        self._more_alerts = more_alerts
        self._on_relay_lost = on_relay_lost
        self.relay_connected: bool | None = None
        self._last_callback_at: datetime | None = None
        self._listeners: list[Callable[[TillStatus], None]] = []

    def subscribe(self, listener: Callable[[TillStatus], None]) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def status(self) -> TillStatus:
        return TillStatus(
            mode=self._mode,
            demo=self._demo(),
            relay_connected=self.relay_connected if self._has_relay() else None,
            last_callback_at=self._last_callback_at,
            alerts=[*self._start_alerts, *self._more_alerts()]
            + (
                [
                    Alert(
                        AlertCode.RELAY_UNREACHABLE,
                        "The relay is not reachable: payments settle by STK Query.",
                    )
                ]
                if self.relay_connected is False
                else []
            ),
        )

    def announce(self) -> None:
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("a status listener failed")

    def set_relay_connected(self, connected: bool) -> None:
        if not connected:
            self._on_relay_lost()
        if self.relay_connected != connected:
            self.relay_connected = connected
            self.announce()

    def saw_callback(self, at: datetime) -> None:
        if self._last_callback_at is None or at > self._last_callback_at:
            self._last_callback_at = at
            self.announce()
