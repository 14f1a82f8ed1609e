"""The sale form's two fields: an amount read as people write it, and a phone that formats itself as
it is typed; and the M-Pesa receipt code field the owner and the cashier type from a customer's SMS."""

from __future__ import annotations

import re

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QLineEdit, QWidget

from daraja_core.phones import InvalidPhone, format_local, normalise_msisdn
from pos_app.money import AmountRefused, parse_amount
from pos_app.ui.styling import restyle

_MAX_DIGITS = 13  # "+254" + 9 digits, or "0" + 9 digits with room for one too many to be reported


def group_phone(raw: str) -> str:
    """Digits as a Kenyan reads them while typing: `0708374149` → `0708 374 149`,
    `254708374149` → `254 708 374 149`, `+254708…` → `+254 708 …`. Keeps a leading + only."""
    plus = raw.strip().startswith("+")
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("0"):
        groups = [digits[:4], digits[4:7], digits[7:]]
    elif digits.startswith("254"):
        groups = [digits[:3], digits[3:6], digits[6:9], digits[9:]]
    else:
        groups = [digits[:3], digits[3:6], digits[6:]]
    grouped = " ".join(group for group in groups if group)
    return ("+" if plus else "") + grouped


def phone_problem(raw: str) -> tuple[str | None, bool]:
    """(message, incomplete) for the typed text; (None, False) when it is a valid number.

    `incomplete` is true when more digits would make it valid, so the field can say "keep typing"
    calmly instead of shouting an error at the third digit. The rules are daraja_core's, not repeated here.
    """
    try:
        normalise_msisdn(raw)
        return None, False
    except InvalidPhone as problem:
        digits = re.sub(r"\D", "", raw)
        for completion in _COMPLETIONS:
            try:
                normalise_msisdn(raw + completion)
            except InvalidPhone:
                continue
            return str(problem), bool(digits)
        return str(problem), False


# Endings that would finish a half-typed number ("0" → "07…", "+2" → "+2547…"), tried in turn.
_COMPLETIONS = tuple(prefix + "7" * count for count in range(1, 12) for prefix in ("", "0", "4", "54", "254"))


class PhoneInput(QLineEdit):
    """Formats `0708 374 149` as it is typed and says what is wrong, in words, through `problem_changed`."""

    problem_changed = Signal(str, bool)  # message ("" when valid), is_error (False while merely incomplete)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"[+0-9 \-]{0,20}"), self))
        self.textEdited.connect(self._reformat)
        self.textChanged.connect(self._report)

    def msisdn(self) -> str | None:
        """The 12-digit number Daraja wants, or None when the field is not a valid number yet."""
        try:
            return normalise_msisdn(self.text())
        except InvalidPhone:
            return None

    def problem(self) -> str | None:
        message, _incomplete = phone_problem(self.text())
        return message

    def set_msisdn(self, msisdn: str) -> None:
        self.setText(format_local(msisdn))

    def _reformat(self, typed: str) -> None:
        cursor = self.cursorPosition()
        digits_before_cursor = len(re.sub(r"[^0-9+]", "", typed[:cursor]))
        if len(re.sub(r"\D", "", typed)) > _MAX_DIGITS:
            typed = typed[: len(typed) - 1]
        grouped = group_phone(typed)
        if grouped == typed:
            return
        self.setText(grouped)
        seen = 0
        position = len(grouped)
        for index, char in enumerate(grouped):
            if seen == digits_before_cursor:
                position = index
                break
            if char.isdigit() or char == "+":
                seen += 1
        self.setCursorPosition(position)

    def _report(self, current: str) -> None:
        if not current.strip():
            self.problem_changed.emit("", False)
            return
        message, incomplete = phone_problem(current)
        if message is None:
            self.problem_changed.emit("", False)
        else:
            self.problem_changed.emit(message, not incomplete)
        restyle(self, "invalid", message is not None and not incomplete)


class ReceiptCodeInput(QLineEdit):
    """An M-Pesa receipt code as typed from the SMS: ten letters and digits, upper-cased as they are typed
    (the cursor stays where it was), and wide enough that a whole code is never clipped."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMaxLength(10)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"[A-Za-z0-9]{0,10}"), self))
        self.textEdited.connect(self._upper)
        # Ten of the widest characters and the frame.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("W" * 11) + 24)

    def _upper(self, typed: str) -> None:
        if typed != typed.upper():
            position = self.cursorPosition()
            self.setText(typed.upper())
            self.setCursorPosition(position)


class AmountInput(QLineEdit):
    """Takes the amount as a person types or pastes it and reads it with pos_app.money.parse_amount:
    never a number the cashier did not type (no validator silently dropping '.' or '-')."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMaxLength(32)
        self.max_amount_kes = 250_000
        self.textChanged.connect(self._report)

    def amount_kes(self) -> int | None:
        try:
            return parse_amount(self.text(), self.max_amount_kes)
        except AmountRefused:
            return None

    def problem(self, lang: str) -> str | None:
        try:
            parse_amount(self.text(), self.max_amount_kes)
        except AmountRefused as refused:
            return refused.reason(lang)
        return None

    def _report(self, current: str) -> None:
        # An empty box is not an error while typing; the charge says so if it is still empty.
        restyle(self, "invalid", bool(current.strip()) and self.amount_kes() is None)
