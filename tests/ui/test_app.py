"""Starting the till as `mpesa-till` does: window first, engine behind it, demo when nothing is set."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from pos_app.ui.app import run_window
from pos_app.ui.main_window import MainWindow
from tests.ui.harness import focused

pytestmark = pytest.mark.gui


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MPESA_TILL_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no .env here
    return tmp_path / "home"


def start(qloop, qtbot) -> tuple[MainWindow, asyncio.Task[None]]:
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    task = qloop.create_task(run_window(window, argparse.Namespace(demo=False)))
    qtbot.waitUntil(lambda: window.service is not None, timeout=30_000)
    return window, task


def answer_close_warning(qtbot, button: QMessageBox.StandardButton, seen: list[str]) -> None:
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, answer)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(50, answer)


def test_with_nothing_configured_the_window_says_demo_and_takes_a_payment(qloop, qtbot, empty_home):
    window, task = start(qloop, qtbot)
    assert window.banner.isVisible()
    assert window.banner.text().startswith("DEMO MODE")
    assert window.status_bar.mode_label.text() == "DEMO: no real money"
    assert focused() == window.sale.amount_input
    qtbot.keyClicks(window.sale.amount_input, "10")
    qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_Tab)
    qtbot.keyClicks(window.sale.phone_input, "0708374149")
    qtbot.keyClick(window.sale.phone_input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.sale.status_panel.status_label.text().startswith("Paid"), timeout=20_000)
    assert "DEMO" in window.sale.status_panel.detail_label.text()
    window.close()  # nothing pending: no question asked
    qtbot.waitUntil(task.done, timeout=20_000)
    assert task.exception() is None
    assert window.service is None


def test_closing_while_a_payment_waits_warns_and_the_payment_resumes_on_the_next_start(
    qloop, qtbot, empty_home
):
    window, task = start(qloop, qtbot)
    qtbot.keyClicks(window.sale.amount_input, "75")
    qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_Tab)
    qtbot.keyClicks(window.sale.phone_input, "0711000004")  # the phone answers only after ~26 s in demo
    qtbot.keyClick(window.sale.phone_input, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.sale.status_panel.status_label.text().startswith("Waiting"), timeout=20_000
    )
    attempt_id = window.current.attempt_id if window.current else ""

    seen: list[str] = []
    answer_close_warning(qtbot, QMessageBox.StandardButton.No, seen)
    window.close()
    assert seen and "1 payment(s) have not settled yet" in seen[0]
    assert window.isVisible() and not task.done()

    answer_close_warning(qtbot, QMessageBox.StandardButton.Yes, seen)
    window.close()
    qtbot.waitUntil(task.done, timeout=20_000)
    assert task.exception() is None

    again, second = start(qloop, qtbot)
    qtbot.waitUntil(
        lambda: any(v.attempt_id == attempt_id for v in again.history.model.views()), timeout=10_000
    )
    resumed = next(v for v in again.history.model.views() if v.attempt_id == attempt_id)
    assert resumed.state in ("prompt_sent", "unknown")
    # The engine picked it up without a second prompt: the new demo simulator saw no push at all.
    simulator_url = again.service._simulator.base_url  # type: ignore[union-attr]

    async def pushes() -> int:
        async with httpx.AsyncClient(trust_env=False) as client:
            log = (await client.get(simulator_url + "/simulator/log")).json()
        return sum(1 for r in log["requests"] if "processrequest" in r["path"])

    count = qloop.create_task(pushes())
    qtbot.waitUntil(count.done, timeout=5000)
    assert count.result() == 0
    again.close_without_asking()
    qtbot.waitUntil(second.done, timeout=20_000)
