"""What the owner-PIN dialogs share (a manual receipt, giving back a till-number payment): a sentence on the
sale, the form with the owner PIN last, one result line, Close and the action button. A wrong PIN clears the
PIN field and puts the cursor back in it; once the action is done the action button becomes the one Close,
so Enter closes. Esc closes at any moment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from pos_app.engine.errors import WrongPin
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text
from pos_app.ui.styling import say

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class OwnerPinDialog(QDialog):
    """`prefix` names the widgets (`<prefix>PinInput`, `<prefix>Result`, `<prefix>Submit`, `<prefix>Close`).
    A subclass makes its own fields, then calls `_lay_out` with them; `_submit` does the action."""

    def __init__(
        self,
        service: TillService,
        attempt: AttemptView,
        lang: str,
        parent: QWidget | None,
        *,
        prefix: str,
        title_key: str,
        submit_key: str,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.attempt = attempt
        self.lang = lang
        self.done_ = False
        self.setWindowTitle(text(title_key, lang))
        self.for_label = QLabel()
        self.for_label.setWordWrap(True)
        self.pin_input = QLineEdit()
        named(self.pin_input, f"{prefix}PinInput")
        self.pin_input.setEchoMode(QLineEdit.EchoMode.Password)
        self.result_label = QLabel()
        named(self.result_label, f"{prefix}Result")
        self.result_label.setWordWrap(True)
        # The buttons keep their words as their accessible names: objectName only.
        self.submit_button = QPushButton(text(submit_key, lang))
        self.submit_button.setObjectName(f"{prefix}Submit")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.on_submit_clicked)
        self.close_button = QPushButton(text("manual_close", lang))
        self.close_button.setObjectName(f"{prefix}Close")

    def _lay_out(self, *fields: tuple[str, QWidget]) -> None:
        """The widgets join the dialog here, in this order, which is also their Tab order."""
        form = QFormLayout()
        for label, field in fields:
            form.addRow(label, field)
        form.addRow(text("manual_pin", self.lang), self.pin_input)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.for_label)
        layout.addLayout(form)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

    def _show(self, message: str, tone: str) -> None:
        say(self.result_label, message, tone)

    def _refusal_sentence(self, refusal: Exception) -> str:
        return text("manual_refused", self.lang, reason=engine_text(str(refusal), self.lang))

    def _refused(self, refusal: Exception) -> None:
        self._show(self._refusal_sentence(refusal), "failed")
        if isinstance(refusal, WrongPin):
            self.pin_input.clear()
            self.pin_input.setFocus()

    def _finish(self, message: str, tone: str) -> None:
        """Done: the answer, and one Close (the action button becomes it, so Enter closes; the other goes)."""
        self.done_ = True
        self._show(message, tone)
        self.close_button.hide()
        self.submit_button.setText(text("manual_close", self.lang))
        self.pin_input.setReadOnly(True)

    @asyncSlot()
    async def on_submit_clicked(self) -> None:
        if self.done_:
            self.accept()
            return
        await self._submit()

    async def _submit(self) -> None:
        """What the action does: each owner-PIN dialog says (manual receipt, C2B release)."""
        raise NotImplementedError(f"{type(self).__name__} must say what its action does")
