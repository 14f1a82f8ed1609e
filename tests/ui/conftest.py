"""The qasync loop under pytest-qt (shared/reference/stack-notes.md, "qasync under pytest-qt").

Tests stay synchronous: qtbot.keyClicks / waitUntil spin Qt, and the window's @asyncSlot tasks run on
the qasync loop meanwhile. Teardown cancels what is left and lets it finish *before* qtbot closes the
widgets, and never calls loop.stop() (that quits the QApplication for every later test).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from pos_app.ui.resources import stylesheet


@pytest.fixture
def qloop(qtbot, qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    qapp.setStyleSheet(stylesheet())
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        drain(loop, qapp)
        # Leave the loop the way qasync expects a stopped one: running flag and marker cleared, then close.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        with contextlib.suppress(RuntimeError, TypeError):
            qapp.aboutToQuit.disconnect(loop._after_run_forever)
        loop.close()
        asyncio.set_event_loop(None)


def drain(loop: asyncio.AbstractEventLoop, qapp: QApplication, rounds: int = 200) -> None:
    """Cancel the loop's unfinished tasks and process events until they are done."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    for _ in range(rounds):
        if all(task.done() for task in tasks):
            break
        qapp.processEvents()  # qasync runs the loop's callbacks from Qt's dispatcher
        time.sleep(0.005)
    qapp.processEvents()
