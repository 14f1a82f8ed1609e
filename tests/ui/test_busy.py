"""busy()'s one policy, on real widgets: the controls are disabled while the work runs and always come
back; a refusal is shown once, where the caller says, and never also reaches sys.excepthook; anything
else reaches sys.excepthook once (the app's hook logs it and tells the cashier)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from types import TracebackType

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget
from qasync import asyncSlot

from daraja_core.phones import InvalidPhone
from pos_app.engine.errors import WrongPin
from pos_app.ui.busy import busy


class Action(QWidget):
    """A button whose slot waits on `work` through busy(), showing refusals in a label."""

    def __init__(self, *, show_refusals: bool = True) -> None:
        super().__init__()
        self.show_refusals = show_refusals
        self.button = QPushButton("Go")
        self.field = QLineEdit()
        self.message = QLabel()
        self.shown: list[str] = []
        self.results: list[object] = []
        self.outcome: asyncio.Future[str] | None = None
        layout = QVBoxLayout(self)
        for widget in (self.field, self.button, self.message):
            layout.addWidget(widget)
        self.button.clicked.connect(self.on_clicked)

    def show_refusal(self, refusal: Exception) -> None:
        self.shown.append(str(refusal))
        self.message.setText(str(refusal))

    @asyncSlot()
    async def on_clicked(self) -> None:
        self.outcome = asyncio.get_running_loop().create_future()
        if self.show_refusals:
            result = await busy(self.outcome, self.button, self.field, refused=self.show_refusal)
        else:
            result = await busy(self.outcome, self.button, self.field)
        self.results.append(result)


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """What reaches sys.excepthook, where qasync hands exceptions from @asyncSlot tasks."""
    reached: list[BaseException] = []

    def hook(_kind: type[BaseException], error: BaseException, _tb: TracebackType | None) -> None:
        reached.append(error)

    monkeypatch.setattr(sys, "excepthook", hook)
    yield reached


def start(qtbot, action: Action) -> asyncio.Future[str]:
    qtbot.addWidget(action)
    qtbot.mouseClick(action.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: action.outcome is not None, timeout=3000)
    assert action.outcome is not None
    assert not action.button.isEnabled()
    assert not action.field.isEnabled()
    return action.outcome


@pytest.mark.parametrize("refusal", [WrongPin("That PIN is wrong."), InvalidPhone("Not a Kenyan number.")])
def test_a_refusal_is_shown_once_and_the_controls_come_back(
    qtbot, qloop, hooked: list[BaseException], refusal: Exception
) -> None:
    action = Action()
    start(qtbot, action).set_exception(refusal)

    qtbot.waitUntil(lambda: action.results == [None], timeout=3000)
    assert action.shown == [str(refusal)]
    assert action.message.text() == str(refusal)
    assert hooked == []
    assert action.button.isEnabled()
    assert action.field.isEnabled()


def test_a_bug_reaches_the_excepthook_once_and_the_controls_come_back(
    qtbot, qloop, hooked: list[BaseException]
) -> None:
    action = Action()
    bug = RuntimeError("a bug, not a refusal")
    start(qtbot, action).set_exception(bug)

    qtbot.waitUntil(lambda: hooked == [bug], timeout=3000)
    assert action.shown == []
    assert action.results == []
    assert action.button.isEnabled()
    assert action.field.isEnabled()


def test_without_a_place_to_show_it_a_refusal_reaches_the_excepthook(
    qtbot, qloop, hooked: list[BaseException]
) -> None:
    action = Action(show_refusals=False)
    refusal = WrongPin("That PIN is wrong.")
    start(qtbot, action).set_exception(refusal)

    qtbot.waitUntil(lambda: hooked == [refusal], timeout=3000)
    assert action.shown == []
    assert action.button.isEnabled()
    assert action.field.isEnabled()


def test_the_work_s_result_comes_back_with_the_controls(qtbot, qloop, hooked: list[BaseException]) -> None:
    action = Action()
    start(qtbot, action).set_result("done")

    qtbot.waitUntil(lambda: action.results == ["done"], timeout=3000)
    assert action.shown == []
    assert hooked == []
    assert action.button.isEnabled()
    assert action.field.isEnabled()
