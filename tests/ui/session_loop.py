"""The one qasync loop the UI tests share (docs/stack-notes.md, "qasync under pytest-qt").

The only place that reaches into qasync's and asyncio's private loop state: a QEventLoop made with
`already_running=True` has no public way to stop without quitting the QApplication, and pytest-qt runs the
loop's callbacks from Qt's dispatcher, so the "running loop" marker is set and cleared by hand around each
test. qasync is pinned to an exact version in pyproject.toml for this; check these functions before moving it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import qasync
from PySide6.QtWidgets import QApplication


def open_loop(qapp: QApplication) -> qasync.QEventLoop:
    """A loop that counts as running from the start: Qt's event processing drives it, not run_forever."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    return loop


def enter(loop: qasync.QEventLoop) -> None:
    """Make `loop` the current, running loop for a test's code (asyncio.get_running_loop() finds it)."""
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)


def leave() -> None:
    """Tests outside tests/ui (pytest-asyncio's own loops) must not find the Qt loop marked as running."""
    asyncio.events._set_running_loop(None)
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


def close_loop(loop: qasync.QEventLoop, qapp: QApplication) -> None:
    """Drain, then leave the loop the way qasync expects a stopped one (running flag and marker cleared) and
    close it. Never loop.stop(): it quits the QApplication for every later test (stack-notes.md)."""
    drain(loop, qapp)
    loop._QEventLoop__is_running = False
    asyncio.events._set_running_loop(None)
    with contextlib.suppress(RuntimeError, TypeError):
        qapp.aboutToQuit.disconnect(loop._after_run_forever)
    loop.close()
    asyncio.set_event_loop(None)
