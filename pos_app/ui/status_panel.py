"""The live payment status, large enough to read at arm's length.

Renders a Presentation (pos_app.ui.presentation); a one-second timer drives the countdown and
progress bar until the engine's wait deadline. Buttons only announce which next step was chosen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from pos_app.ui.formatting import countdown
from pos_app.ui.naming import named
from pos_app.ui.presentation import Action, Presentation, Tone, idle
from pos_app.ui.shortcuts import STEP_KEYS, bindable, with_key
from pos_app.ui.strings import text
from pos_app.ui.styling import repolish, restyle

_ACTION_TEXT = {
    Action.RETRY: "step_retry",
    Action.ANOTHER_NUMBER: "step_another",
    Action.TAKE_CASH: "step_cash",
    Action.VERIFY: "step_verify",
    Action.NO_SMS_CHARGE_AGAIN: "step_no_sms",
    Action.PRINT_RECEIPT: "step_print",
    Action.NEW_SALE: "new_sale",
}
_STEPS_PER_ROW = 2


class StatusPanel(QFrame):
    action_chosen = Signal(str)  # an Action value

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusPanel")
        self.setProperty("tone", Tone.IDLE.value)
        self.lang = "en"
        self._presentation = idle(self.lang)
        self._started_at = datetime.now(UTC)

        self.status_label = QLabel()
        named(self.status_label, "paymentStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label = QLabel()
        named(self.reason_label, "paymentReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label = QLabel()
        named(self.detail_label, "paymentDetail")
        self.detail_label.setWordWrap(True)
        self.extra_label = QLabel()
        named(self.extra_label, "paymentExtra")
        self.extra_label.setWordWrap(True)
        self.countdown_label = QLabel()
        named(self.countdown_label, "paymentCountdown")
        self.progress = QProgressBar()
        named(self.progress, "paymentProgress")
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 1000)

        self.buttons: dict[Action, QPushButton] = {}
        # Two steps per row: four Swahili steps side by side would set the window's minimum width above a
        # 1024-pixel screen.
        buttons_grid = QGridLayout()
        buttons_grid.setSpacing(10)
        for column in range(_STEPS_PER_ROW):
            buttons_grid.setColumnStretch(column, 1)
        for action in _ACTION_TEXT:
            button = QPushButton()
            named(button, f"step_{action.value}")
            # Enter on a focused button presses it, as in a dialog: the whole window is keyboard-driven.
            button.setAutoDefault(True)
            button.clicked.connect(lambda _checked=False, a=action: self.action_chosen.emit(a.value))
            button.hide()
            self.buttons[action] = button
        self._buttons_grid = buttons_grid

        self.set_language(self.lang)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(14)
        layout.addWidget(self.status_label)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.countdown_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.extra_label)
        layout.addStretch(1)
        layout.addLayout(buttons_grid)

        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._tick)
        self.show_presentation(self._presentation)

    @property
    def presentation(self) -> Presentation:
        return self._presentation

    def said(self) -> str:
        """What the panel says, headline first, then the reason or the receipt (one line each)."""
        lines = [
            self.status_label.text(),
            self.reason_label.text() if self.reason_label.isVisibleTo(self) else "",
        ]
        return "\n".join(line for line in lines if line)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        for action, key in _ACTION_TEXT.items():
            button = self.buttons[action]
            button.setText(with_key(text(key, lang), STEP_KEYS[action], stacked=True))
            # After setText, which replaces the shortcut with the label's mnemonic (none here). A hidden
            # button's shortcut does not fire, so each key acts only while its step is offered.
            button.setShortcut(QKeySequence(bindable(STEP_KEYS[action])))

    def show_presentation(self, presentation: Presentation) -> None:
        if presentation.tone is Tone.PENDING and self._presentation.tone is not Tone.PENDING:
            self._started_at = datetime.now(UTC)
        self._presentation = presentation
        restyle(self, "tone", presentation.tone.value)
        repolish(self.status_label, self.reason_label, self.detail_label)  # their colours follow the tone
        self.status_label.setText(presentation.headline)
        self.reason_label.setText(presentation.key_line)
        self.reason_label.setVisible(bool(presentation.key_line))
        self.detail_label.setText(presentation.detail)
        self.detail_label.setVisible(bool(presentation.detail))
        self.extra_label.setText(presentation.extra)
        self.extra_label.setVisible(bool(presentation.extra))
        # Recommended step first, in the order the presentation gives.
        for button in self.buttons.values():
            self._buttons_grid.removeWidget(button)
            button.hide()
        for index, action in enumerate(presentation.actions):
            button = self.buttons[action]
            self._buttons_grid.addWidget(button, *divmod(index, _STEPS_PER_ROW))
            # The recommended step stands out; New sale is the Enter key's own button.
            restyle(button, "primary", index == 0 and action is not Action.NEW_SALE)
            button.show()
        waiting = presentation.tone is Tone.PENDING
        self.progress.setVisible(waiting)
        self.countdown_label.setVisible(waiting)
        if waiting:
            self._tick()
            self._timer.start()
        else:
            self._timer.stop()

    def visible_actions(self) -> list[Action]:
        """The offered next steps as laid out: left to right, then the next row."""
        placed: list[tuple[int, int, Action]] = []
        for action, button in self.buttons.items():
            index = self._buttons_grid.indexOf(button)
            if index >= 0 and button.isVisibleTo(self):
                position = cast(tuple[int, int, int, int], self._buttons_grid.getItemPosition(index))
                placed.append((position[0], position[1], action))
        return [action for _row, _column, action in sorted(placed)]

    def focus_button(self) -> QPushButton | None:
        """New sale takes the focus after a result, so Enter starts the next sale; the next steps are one
        Shift+Tab or their key (pos_app/ui/shortcuts.py) away."""
        return self.buttons[Action.NEW_SALE] if Action.NEW_SALE in self._presentation.actions else None

    def _tick(self) -> None:
        deadline = self._presentation.wait_deadline_at
        if deadline is None:
            self.progress.setRange(0, 0)  # busy indicator until the engine names a deadline
            self.countdown_label.setText("")
            return
        now = datetime.now(UTC)
        left = deadline - now
        if left.total_seconds() <= 0:
            self.progress.setRange(0, 0)
            self.countdown_label.setText(text("waiting_overdue", self.lang))
            return
        total = max((deadline - self._started_at).total_seconds(), 1.0)
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * (1 - left.total_seconds() / total)))
        self.countdown_label.setText(text("waiting_left", self.lang, left=countdown(left)))
