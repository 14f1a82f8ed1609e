"""A real till behind the real window: the Daraja simulator and the relay on loopback, TillService in
remote mode pointed at both, and the MainWindow attached to it, all on the test's qasync loop.

The async fixtures in tests/support/ run their servers on pytest-asyncio's loop, which does not turn
while a synchronous qtbot test spins Qt; so the same building blocks (the simulator app with the test
settings, RunningRelay) are started here on the qasync loop instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.serve import BackgroundServer
from daraja_core.simulator import create_app as create_simulator
from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from pos_app.config import TillConfig
from pos_app.engine.service import AttemptView, TillService
from pos_app.ui.main_window import MainWindow
from relay.app import create_app as create_relay
from relay.settings import RelaySettings
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import TEST_SIMULATOR_SETTINGS

T = TypeVar("T")


class QuickRelay(RunningRelay):
    """RunningRelay that does not wait out a till's open long-poll when the test ends (~5 s each)."""

    async def start(self) -> None:
        server = BackgroundServer(
            create_relay(self.settings, clock=self.clock),
            "127.0.0.1",
            self._port,
            proxy_headers=False,
            timeout_graceful_shutdown=0.2,
        )
        await server.start()
        self._server = server
        self._port = server.port


OWNER_PIN = "2468"

# Short engine timings: the relay's silence before STK Query, the countdown, the query spacing.
TEST_TIMINGS = {
    "relay_silence_s": 1.0,
    "wait_deadline_s": 6.0,
    "query_first_gap_s": 0.5,
    "query_max_gap_s": 1.0,
    "query_jitter": 0.0,
    "reconcile_query_first_s": 0.5,
    "reconcile_query_max_s": 1.0,
    "long_poll_s": 5.0,
    "relay_retry_first_s": 0.2,
    "relay_retry_max_s": 0.5,
}


@dataclass
class Till:
    qtbot: Any
    loop: qasync.QEventLoop
    home: Path
    simulator: BackgroundServer
    relay: RunningRelay
    relay_key: str
    callback_path: str
    service: TillService
    window: MainWindow

    # ---- running coroutines from a synchronous test ----------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 20.0) -> T:
        task = self.loop.create_task(coroutine)
        self.qtbot.waitUntil(task.done, timeout=int(timeout_s * 1000))
        return task.result()

    # ---- the simulator's record -------------------------------------------------------------------

    def simulator_log(self) -> dict[str, Any]:
        async def fetch() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=self.simulator.base_url, trust_env=False) as client:
                answer = await client.get("/simulator/log")
                answer.raise_for_status()
                return dict(answer.json())

        return self.run(fetch())

    def pushes(self) -> list[dict[str, Any]]:
        return [r for r in self.simulator_log()["requests"] if "stkpush/v1/processrequest" in str(r)]

    def queries(self) -> list[dict[str, Any]]:
        return [r for r in self.simulator_log()["requests"] if "stkpushquery" in str(r)]

    def post_callback(self, body: dict[str, Any]) -> None:
        async def post() -> None:
            async with httpx.AsyncClient(base_url=self.relay.base_url, trust_env=False) as client:
                (await client.post(self.callback_path, json=body)).raise_for_status()

        self.run(post())

    # ---- the window, driven like a cashier --------------------------------------------------------

    def find(self, name: str) -> QWidget:
        widget = self.window.findChild(QWidget, name)
        assert widget is not None, f"no widget named {name}"
        return widget

    def status_text(self) -> str:
        return self.window.sale.status_panel.said()

    def type_sale(self, amount: str, phone: str) -> None:
        """Amount, Tab, phone: the keys a cashier presses, into whatever has the focus."""
        self.qtbot.waitUntil(lambda: self.window.sale.amount_input.hasFocus(), timeout=3000)
        self.qtbot.keyClicks(QApplication.focusWidget(), amount)
        self.qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is self.window.sale.phone_input
        self.qtbot.keyClicks(QApplication.focusWidget(), phone)

    def press(self, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        target = QApplication.focusWidget() or self.window
        self.qtbot.keyClick(target, key, modifier)

    def charge(self, amount: str, phone: str) -> None:
        self.type_sale(amount, phone)
        self.press(Qt.Key.Key_Return)

    def wait_for_status(self, *words: str, timeout_s: float = 15.0) -> str:
        self.qtbot.waitUntil(
            lambda: all(w in self.status_text() for w in words), timeout=int(timeout_s * 1000)
        )
        return self.status_text()

    def current(self) -> AttemptView:
        assert self.window.current is not None
        return self.window.current


def focused() -> object:
    """The widget with the keyboard focus (typed `object` so comparing it does not narrow the other side)."""
    return QApplication.focusWidget()


async def start_till(
    home: Path, simulator_overrides: dict[str, Any], timings: dict[str, float]
) -> tuple[BackgroundServer, RunningRelay, str, str, TillService]:
    simulator = BackgroundServer(
        create_simulator(TEST_SIMULATOR_SETTINGS.with_changes(**simulator_overrides))
    )
    await simulator.start()
    relay = QuickRelay(RelaySettings(database_url=f"sqlite+aiosqlite:///{home / 'relay.db'}"))
    await relay.start()
    key, callback_path = await relay.create_till("ui-test-till")
    config = TillConfig(
        mode="remote",
        home=home / "till",
        consumer_key=SIM_CONSUMER_KEY,
        consumer_secret=SIM_CONSUMER_SECRET,
        shortcode=SANDBOX_SHORTCODE,
        passkey=SANDBOX_PASSKEY,
        relay_url=relay.base_url,
        relay_key=key,
        api_base_url=simulator.base_url,
    ).with_timings(**timings)
    service = await TillService.open(config)
    await service.set_owner_pin(None, OWNER_PIN)
    return simulator, relay, key, callback_path, service


async def stop_till(till: Till) -> None:
    await till.service.close()
    await till.relay.stop()
    await till.simulator.stop()


def wait_task(loop: asyncio.AbstractEventLoop, qtbot: Any, coroutine: Coroutine[Any, Any, T]) -> T:
    task = loop.create_task(coroutine)
    qtbot.waitUntil(task.done, timeout=30_000)
    return task.result()
