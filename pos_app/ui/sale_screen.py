"""The sale screen: amount, phone, Charge on the left; the live status on the right.

It owns no payment logic: it reads the fields, shows a Presentation, and announces what the cashier
asked for (`charge_requested`, `action_chosen`, `escape_pressed`). The window talks to the engine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pos_app.ui.inputs import AmountInput, PhoneInput
from pos_app.ui.naming import named
from pos_app.ui.presentation import Presentation
from pos_app.ui.shortcuts import CASH_KEY, CHARGE_KEY, QR_KEY, with_key
from pos_app.ui.status_panel import StatusPanel
from pos_app.ui.strings import phone_problem_text, text
from pos_app.ui.styling import restyle

#: Width of the amount/phone column, in pixels; fits 1024-pixel screens beside the result panel.
FORM_WIDTH = 360


class SaleScreen(QWidget):
    charge_requested = Signal()
    qr_requested = Signal()  # the QR button or its key: the sale's M-Pesa QR code (qr_dialog.py)
    enter_pressed = Signal()
    escape_pressed = Signal()
    typed = Signal(str)  # a character typed where no field takes it (a result's buttons have the focus)
    paste_pressed = Signal()  # Ctrl+V where no field takes it
    cash_requested = Signal()  # F8 or a Take cash button: the open sale paid in cash

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = "en"
        self._phone_problem = ("", False)
        form_frame = QFrame()
        form_frame.setObjectName("saleForm")

        self.amount_label = QLabel()
        self.amount_input = AmountInput()
        named(self.amount_input, "amountInput")
        self.amount_hint = QLabel()
        named(self.amount_hint, "amountHint")
        self.amount_hint.setWordWrap(True)
        self.phone_label = QLabel()
        self.phone_input = PhoneInput()
        named(self.phone_input, "phoneInput")
        self.phone_hint = QLabel()
        named(self.phone_hint, "phoneHint")
        self.phone_hint.setWordWrap(True)
        self.description_label = QLabel()
        self.description_input = QLineEdit()
        named(self.description_input, "descriptionInput")
        self.description_input.setMaxLength(13)  # Daraja's TransactionDesc limit (docs/daraja.md §2)
        self.form_message = QLabel()
        named(self.form_message, "formMessage")
        self.form_message.setWordWrap(True)
        self.charge_button = QPushButton()
        named(self.charge_button, "chargeButton")
        self.charge_button.setAutoDefault(True)
        self.charge_button.setEnabled(False)
        self.charge_button.clicked.connect(self.charge_requested)
        # Cash at any moment: F8 in every mode of the sale screen, and the status panel's Take cash (F8)
        # button, offered from the idle screen on (presentation.idle), where there is room for it.
        cash_key = QShortcut(QKeySequence(CASH_KEY), self)
        cash_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        cash_key.activated.connect(self.cash_requested)
        self.qr_button = QPushButton()
        named(self.qr_button, "qrButton")
        # Off the Tab chain (amount → phone → Charge), like the screen buttons: it has its key instead.
        self.qr_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.qr_button.clicked.connect(self.qr_requested)
        self.hint_label = QLabel()
        self.hint_label.setObjectName("hintLabel")
        self.hint_label.setWordWrap(True)  # a long hint wraps instead of widening the form

        for label, field in (
            (self.amount_label, self.amount_input),
            (self.phone_label, self.phone_input),
            (self.description_label, self.description_input),
        ):
            label.setBuddy(field)
            label.setProperty("role", "fieldLabel")

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setVerticalSpacing(6)
        # The QR tender sits beside the amount it is for (under Charge it would not fit a 600-pixel screen).
        amount_row = QHBoxLayout()
        amount_row.setContentsMargins(0, 0, 0, 0)
        amount_row.addWidget(self.amount_label)
        amount_row.addStretch(1)
        amount_row.addWidget(self.qr_button)
        form.addRow(amount_row)
        form.addRow(self.amount_input)
        form.addRow(self.amount_hint)
        form.addRow(self.phone_label, self.phone_input)
        form.addRow(self.phone_hint)
        form.addRow(self.description_label, self.description_input)

        left = QVBoxLayout(form_frame)
        left.setContentsMargins(24, 20, 24, 20)
        left.addLayout(form)
        left.addSpacing(8)
        left.addWidget(self.charge_button)
        left.addWidget(self.form_message)
        left.addStretch(1)
        left.addWidget(self.hint_label)

        self.status_panel = StatusPanel()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(16)
        # The form keeps one width in every state and language: a result's longer step buttons take room
        # from the panel's side, never from the amount and phone boxes (no jump between states).
        form_frame.setFixedWidth(FORM_WIDTH)
        layout.addWidget(form_frame)
        layout.addWidget(self.status_panel, 1)

        # Tab goes amount → phone → Charge; the optional description comes after.
        QWidget.setTabOrder(self.amount_input, self.phone_input)
        QWidget.setTabOrder(self.phone_input, self.charge_button)
        QWidget.setTabOrder(self.charge_button, self.description_input)
        self.phone_input.problem_changed.connect(self._show_phone_problem)
        self.amount_input.textChanged.connect(self._show_amount_problem)
        self.set_language("en")

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.amount_label.setText(text("amount_label", lang))
        self.amount_input.setPlaceholderText(text("amount_placeholder", lang))
        self.phone_label.setText(text("phone_label", lang))
        self.phone_input.setPlaceholderText(text("phone_placeholder", lang))
        self.description_label.setText(text("description_label", lang))
        self.charge_button.setText(with_key(text("charge", lang), CHARGE_KEY))
        self.qr_button.setText(with_key(text("qr_button", lang), QR_KEY))
        self.qr_button.setShortcut(QKeySequence(QR_KEY))  # after setText, which resets it
        self.status_panel.set_language(lang)
        self._show_amount_problem()
        self._show_phone_problem(*self._phone_problem)

    def set_form_enabled(self, enabled: bool) -> None:
        for field in (self.amount_input, self.phone_input, self.description_input):
            field.setReadOnly(not enabled)
        self.charge_button.setEnabled(enabled)

    def show_presentation(self, presentation: Presentation) -> None:
        self.status_panel.show_presentation(presentation)

    def show_message(self, message: str, *, error: bool = False) -> None:
        self.form_message.setText(message)
        restyle(self.form_message, "error", error)

    def clear(self) -> None:
        self.amount_input.clear()
        self.phone_input.clear()
        self.description_input.clear()
        self.show_message("")
        self.amount_input.setFocus(Qt.FocusReason.OtherFocusReason)

    def _show_amount_problem(self) -> None:
        """The reason under the box while the cashier types; nothing while it is empty or reads."""
        typed = self.amount_input.text().strip()
        problem = self.amount_input.problem(self.lang) if typed else None
        self.amount_hint.setText(problem or "")
        self.amount_hint.setVisible(problem is not None)
        restyle(self.amount_hint, "error", problem is not None)

    def _show_phone_problem(self, message: str, is_error: bool) -> None:
        self._phone_problem = (message, is_error)  # said again in the other language after F9
        msisdn = self.phone_input.msisdn()
        shown = phone_problem_text(message, self.lang) if message else ""
        self.phone_hint.setText(shown or (text("phone_valid", self.lang) if msisdn else ""))
        restyle(self.phone_hint, "error", is_error)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # QLineEdit passes Return and Escape on to its parent; buttons with focus keep Return for themselves.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter_pressed.emit()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            event.accept()
            return
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste_pressed.emit()
            event.accept()
            return
        plain = not event.modifiers() & ~(
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
        )
        if plain and event.text().isprintable() and event.text().strip():
            self.typed.emit(event.text())
            event.accept()
            return
        super().keyPressEvent(event)
