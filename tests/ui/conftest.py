"""The qasync loop under pytest-qt (docs/stack-notes.md, "qasync under pytest-qt"; tests/ui/session_loop.py).

Tests stay synchronous: qtbot.keyClicks / waitUntil spin Qt, and the window's @asyncSlot tasks run on
the qasync loop meanwhile. Teardown cancels what is left and lets it finish *before* qtbot closes the
widgets, and never calls loop.stop() (that quits the QApplication for every later test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from pos_app.ui.main_window import MainWindow
from pos_app.ui.resources import stylesheet
from tests.ui import session_loop as session
from tests.ui.harness import TEST_TIMINGS, Till, start_till, stop_till, wait_task


@pytest.fixture(scope="session")
def session_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """One qasync loop for the whole run. A new loop per test left qasync's executor threads and socket
    notifiers of closed loops behind, and Qt crashed now and then a few tests later; one loop, drained
    after every test, has not."""
    qapp.setStyleSheet(stylesheet())
    loop = session.open_loop(qapp)
    yield loop
    session.close_loop(loop, qapp)


@pytest.fixture
def qloop(qtbot, qapp: QApplication, session_loop: qasync.QEventLoop) -> Iterator[qasync.QEventLoop]:
    """The running qasync loop for one test; what the test left unfinished is cancelled and run to its
    end before pytest-qt closes the test's widgets."""
    session.enter(session_loop)
    yield session_loop
    session.drain(session_loop, qapp)
    session.leave()


@pytest.fixture
def till_factory(qloop, qtbot, tmp_path: Path) -> Iterator[Callable[..., Till]]:
    """Start a till (simulator + relay + TillService + window) with optional simulator/timing overrides.
    With attach=False the window is shown but not yet given the service, as while the till starts up."""
    started: list[Till] = []

    def make(simulator: dict[str, Any] | None = None, attach: bool = True, **timings: float) -> Till:
        home = tmp_path / f"till{len(started)}"
        home.mkdir()
        simulator_server, relay, key, callback_path, service = wait_task(
            qloop, qtbot, start_till(home, simulator or {}, {**TEST_TIMINGS, **timings})
        )
        # Not qtbot.addWidget: pytest-qt closes registered widgets *before* fixture teardown, and the
        # engine must stop (and the window stop listening) before the window goes.
        window = MainWindow()
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        if attach:
            window.attach(service)
        till = Till(qtbot, qloop, home, simulator_server, relay, key, callback_path, service, window)
        started.append(till)
        return till

    yield make
    for till in started:
        # Engine and servers stop first (each ends its own tasks cleanly), then whatever is left is drained
        # before qtbot closes the widgets.
        till.window.detach()
        wait_task(qloop, qtbot, stop_till(till))
        till.window.close_without_asking()
        till.window.deleteLater()
    session.drain(qloop, QApplication.instance())  # type: ignore[arg-type]


@pytest.fixture
def till(till_factory: Callable[..., Till]) -> Till:
    return till_factory()
