"""Settings, in sections the owner meets in this order: the shop (name, till number, language, largest
charge, owner PIN), the M-Pesa connection, the relay and tunnel, the receipt printer.

The rows come from the declaration (pos_app/settings_schema.py): each setting in its section, in its order.
Secrets are never shown back: their fields start empty with "saved: type to replace", and an empty field
on Save keeps the stored value. Save keeps the screen open and says what it saved; a refusal is shown
under the field it is about. "Test connection" runs the diagnostics; "Test print" prints a sample receipt.
The whole form scrolls, so it fits a 1024×600 screen, and Tab reaches every field (the view follows).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from pos_app.engine.errors import WrongPin
from pos_app.engine.pin import valid_pin
from pos_app.engine.views import SECRET_PLACEHOLDER
from pos_app.settings_schema import (
    SCREEN_SETTINGS,
    SECRET_FIELDS,
    SECTIONS,
    ConfigError,
    Setting,
    check_printer,
)
from pos_app.ui.busy import busy
from pos_app.ui.diagnostics_view import FindingsList
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text
from pos_app.ui.styling import say

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import TillSettings
    from pos_app.printing import Language, PrinterTarget

#: Sections whose changes take effect when the till next starts (the engine applies the rest at once).
RESTART_SECTIONS = ("mpesa", "relay")
_BY_VARIABLE = {setting.variable: setting for setting in SCREEN_SETTINGS}
#: Languages are offered by their own names, paper widths by their size; other choices show the value.
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}
#: Longest side the dialog opens at: it must fit a 1024×600 screen with room for the window frame.
MAX_WIDTH, MAX_HEIGHT = 760, 540


def _short(label: str) -> str:
    """A field's label without its explanation in brackets, for the "Saved: …" sentence."""
    return label.split(" (")[0]


class SettingsDialog(QDialog):
    settings_saved = Signal(object)  # the TillSettings now stored

    def __init__(self, service: TillService, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "settingsDialog")
        self.service = service
        self.lang = lang
        self.loaded: TillSettings | None = None
        self.setWindowTitle(text("settings_title", lang))
        self.fields: dict[str, QWidget] = {}
        #: One line under each field (and under the PIN rows), empty and hidden until something is refused.
        self.errors: dict[str, QLabel] = {}
        self.sections: dict[str, QGroupBox] = {}

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        for section in SECTIONS:
            box = QGroupBox(text(f"set_section_{section}", lang))
            named(box, f"settingsSection_{section}")
            form = QFormLayout(box)
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            for setting in SCREEN_SETTINGS:
                if setting.section == section:
                    self.fields[setting.name] = self._field(setting)
                    form.addRow(text(setting.label, lang), self.fields[setting.name])
                    form.addRow(self._error_line(setting.name))
            if section == "shop":
                self._add_pin_rows(form)
            elif section == "printer":
                self._add_printer_rows(form)
            self.sections[section] = box
            inner_layout.addWidget(box)

        self.findings = FindingsList()
        self.findings.lang = lang
        self.findings.show_placeholder("")
        inner_layout.addWidget(self.findings)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)

        self.message = QLabel()
        named(self.message, "settingsMessage")
        self.message.setWordWrap(True)
        self.test_button = QPushButton(text("set_test", lang))
        named(self.test_button, "settingsTest")
        self.test_button.setAutoDefault(False)
        self.save_button = QPushButton(text("set_save", lang))
        named(self.save_button, "settingsSave")
        self.save_button.setDefault(True)
        self.close_button = QPushButton(text("set_close", lang))
        named(self.close_button, "settingsClose")
        self.close_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.on_test_clicked)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.close_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(MAX_WIDTH, MAX_HEIGHT)

    # ---- building the form ------------------------------------------------------------------------

    def _field(self, setting: Setting) -> QWidget:
        widget: QWidget
        if setting.secret:
            line = QLineEdit()
            line.setEchoMode(QLineEdit.EchoMode.Password)
            widget = line
        elif setting.choices:
            combo = QComboBox()
            for choice in setting.choices:
                if isinstance(choice, int):
                    combo.addItem(text(f"set_width_{choice}", self.lang), choice)
                else:
                    combo.addItem(LANGUAGE_NAMES.get(choice, choice), choice)
            widget = combo
        elif setting.kind is bool:
            widget = QCheckBox()
        elif setting.kind is int:
            spin = QSpinBox()
            spin.setRange(setting.minimum or 0, 999_999)
            spin.setGroupSeparatorShown(True)
            widget = spin
        else:
            widget = QLineEdit()
        named(widget, f"setting_{setting.name}")
        return widget

    def _error_line(self, name: str) -> QLabel:
        line = QLabel()
        named(line, f"settingError_{name}")
        line.setProperty("role", "fieldError")
        line.setWordWrap(True)
        line.hide()
        self.errors[name] = line
        return line

    def _pin_line(self, name: str) -> QLineEdit:
        line = QLineEdit()
        named(line, name)
        line.setEchoMode(QLineEdit.EchoMode.Password)
        line.setMaxLength(8)
        return line

    def _add_pin_rows(self, form: QFormLayout) -> None:
        self.old_pin = self._pin_line("setting_old_pin")
        self.new_pin = self._pin_line("setting_new_pin")
        self.confirm_pin = self._pin_line("setting_confirm_pin")
        hint = QLabel(text("set_pin_hint", self.lang))
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        form.addRow(text("set_pin_old", self.lang), self.old_pin)
        form.addRow(text("set_pin_new", self.lang), self.new_pin)
        form.addRow(text("set_pin_confirm", self.lang), self.confirm_pin)
        form.addRow(hint)
        form.addRow(self._error_line("pin"))

    def _add_printer_rows(self, form: QFormLayout) -> None:
        printer = self.fields["printer"]
        if isinstance(printer, QLineEdit):
            printer.setPlaceholderText("tcp://192.168.1.50:9100")
        hint = QLabel(text("set_printer_hint", self.lang))
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        form.insertRow(form.rowCount() - 2, hint)  # under the printer field, above the width
        self.print_button = QPushButton(text("set_print_test", self.lang))
        named(self.print_button, "settingsPrintTest")
        self.print_button.setAutoDefault(False)
        self.print_button.clicked.connect(self.on_print_test_clicked)
        self.print_result = QLabel()
        named(self.print_result, "printerMessage")
        self.print_result.setWordWrap(True)
        form.addRow(self.print_button)
        form.addRow(self.print_result)

    # ---- showing and reading values ---------------------------------------------------------------

    def show_settings(self, settings: TillSettings) -> None:
        self.loaded = settings
        for name, widget in self.fields.items():
            value = getattr(settings, name)
            if isinstance(widget, QLineEdit) and name in SECRET_FIELDS:
                widget.clear()
                widget.setPlaceholderText(
                    text("set_secret_saved" if value else "set_secret_empty", self.lang)
                )
            elif isinstance(widget, QLineEdit):
                widget.setText(value or "")
            elif isinstance(widget, QComboBox):
                widget.setCurrentIndex(max(widget.findData(value), 0))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QSpinBox):
                widget.setValue(int(value))

    def _form_values(self) -> dict[str, Any]:
        """What the form holds; an empty secret field is left out (it keeps the stored secret)."""
        values: dict[str, Any] = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QLineEdit) and name in SECRET_FIELDS:
                if widget.text():
                    values[name] = widget.text()
            elif isinstance(widget, QLineEdit):
                values[name] = widget.text().strip()
            elif isinstance(widget, QComboBox):
                values[name] = widget.currentData()
            elif isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            elif isinstance(widget, QSpinBox):
                values[name] = widget.value()
        return values

    def edited(self) -> TillSettings:
        """The loaded settings with the form's changes, checked against the declaration (ConfigError)."""
        if self.loaded is None:
            raise RuntimeError("the settings are edited only after they are loaded")
        return dataclasses.replace(self.loaded, **self._form_values())

    def _changed(self, settings: TillSettings) -> list[Setting]:
        """The settings whose value differs from what was loaded (a typed secret always counts)."""
        if self.loaded is None:
            return []
        return [s for s in SCREEN_SETTINGS if getattr(settings, s.name) != getattr(self.loaded, s.name)]

    async def load(self) -> None:
        self.show_settings(await self.service.load_settings())
        self.fields["shop_name"].setFocus()

    # ---- messages ---------------------------------------------------------------------------------

    def _refuse(self, name: str, words: str, field: QWidget | None = None) -> None:
        """Show the refusal under its field, scroll to it and put the cursor in `field` (else that field)."""
        line = self.errors[name]
        line.setText(words)
        line.show()
        (field or self.fields[name]).setFocus()
        self.scroll_area.ensureWidgetVisible(line)
        say(self.message, text("set_not_saved", self.lang, reason=words), "error")

    def _clear_errors(self) -> None:
        for line in self.errors.values():
            line.clear()
            line.hide()
        say(self.message, "", "")

    # ---- saving -----------------------------------------------------------------------------------

    def _checked_pin(self) -> str | None:
        """The new PIN to set, None to keep the PIN; ValueError with the sentence when it cannot be used."""
        new, again = self.new_pin.text(), self.confirm_pin.text()
        if not new and not again:
            return None
        if new != again:
            raise ValueError(text("set_pin_mismatch", self.lang))
        if not valid_pin(new):
            raise ValueError(text("set_pin_invalid", self.lang))
        return new

    @asyncSlot()
    async def on_save_clicked(self) -> None:
        self._clear_errors()
        try:
            settings = self.edited()
        except ConfigError as refusal:
            setting = _BY_VARIABLE.get(refusal.variable)
            if setting is None:
                raise
            # The printer's own checks say what to write instead; other refusals name their variable.
            reason = refusal.__cause__ if setting.name == "printer" else None
            self._refuse(
                setting.name,
                text("set_printer_invalid", self.lang, reason=reason) if reason else str(refusal),
            )
            return
        try:
            new_pin = self._checked_pin()
        except ValueError as refusal:
            self.new_pin.clear()
            self.confirm_pin.clear()
            self._refuse("pin", str(refusal), self.new_pin)
            return
        # The engine's other refusals carry a message for people (busy.py).
        await busy(
            self._save(settings, new_pin),
            self.save_button,
            refused=self._not_saved,
        )

    def _not_saved(self, refusal: Exception) -> None:
        reason = engine_text(str(refusal), self.lang)
        say(self.message, text("set_not_saved", self.lang, reason=reason), "error")

    async def _save(self, settings: TillSettings, new_pin: str | None) -> None:
        changed = self._changed(settings)
        saved = [text(s.label, self.lang) for s in changed]
        if new_pin is not None:  # first, so a wrong current PIN leaves everything as it was
            try:
                await self.service.set_owner_pin(self.old_pin.text() or None, new_pin)
            except WrongPin:  # the new PIN was checked above: what is wrong is the current one
                self._refuse("pin", text("set_pin_wrong", self.lang), self.old_pin)
                return
            for line in (self.old_pin, self.new_pin, self.confirm_pin):
                line.clear()
            saved.append(text("set_pin", self.lang))
        await self.service.save_settings(settings)
        # Secrets typed in are stored now: the form shows them as saved, never in clear.
        stored: dict[str, Any] = {
            name: SECRET_PLACEHOLDER if getattr(settings, name) else "" for name in SECRET_FIELDS
        }
        self.show_settings(dataclasses.replace(settings, **stored))
        if saved:
            words = text("set_saved", self.lang, what=", ".join(_short(label) for label in saved))
            if any(s.section in RESTART_SECTIONS for s in changed):
                words += " " + text("set_saved_restart", self.lang)
        else:
            words = text("set_saved_nothing", self.lang)
        say(self.message, words, "ok")
        self.settings_saved.emit(settings)

    # ---- testing the connection and the printer ---------------------------------------------------

    @asyncSlot()
    async def on_test_clicked(self) -> None:
        self.findings.show_placeholder(text("set_testing", self.lang))
        self.findings.show_findings(await busy(self.service.diagnostics(), self.test_button))
        self.scroll_area.ensureWidgetVisible(self.findings)  # under the printer section: bring it into view

    def _printer_target(self) -> PrinterTarget | None:
        """The printer the form names, at the form's paper width; None after showing why it cannot print."""
        self.errors["printer"].hide()
        printer, width = self.fields["printer"], self.fields["printer_width"]
        if not isinstance(printer, QLineEdit) or not isinstance(width, QComboBox):
            raise TypeError("the printer rows are a text field and a choice")
        setting = printer.text().strip()
        if not setting:
            say(self.print_result, text("set_print_none", self.lang), "error")
            printer.setFocus()
            return None
        # Imported on first use: python-escpos takes ~0.2 s to load, too long to add to the window's start.
        from pos_app.printing import parse_printer_target

        try:
            check_printer(setting)
            target = parse_printer_target(setting)
        except ValueError as refusal:
            say(self.print_result, "", "")
            self.errors["printer"].setText(text("set_printer_invalid", self.lang, reason=refusal))
            self.errors["printer"].show()
            printer.setFocus()
            return None
        return dataclasses.replace(target, width=int(width.currentData()))

    @asyncSlot()
    async def on_print_test_clicked(self) -> None:
        target = self._printer_target()
        if target is None:
            return
        say(self.print_result, text("set_printing", self.lang), "")
        words, tone = await busy(self._print_sample(target), self.print_button)
        say(self.print_result, words, tone)
        self.print_button.setFocus()  # disabling it moved the focus on: the owner may press it again

    async def _print_sample(self, target: PrinterTarget) -> tuple[str, str]:
        from pos_app.printing import DEFAULT_TIMEOUT_S, PrinterUnavailable, Receipt, Tender, print_receipt

        language: Language = "sw" if self.lang == "sw" else "en"
        shop_name = self.fields["shop_name"]
        sample = Receipt(
            shop_name=(shop_name.text().strip() if isinstance(shop_name, QLineEdit) else "")
            or text("window_title", self.lang),
            sale_id="TEST",
            description=text("set_print_sample", self.lang),
            amount_kes=1,
            tender=Tender.CASH,
            paid_at=datetime.now(UTC),
            demo=True,  # printed as "not a real payment"
        )
        try:
            await print_receipt(sample, target, language=language, timeout_s=DEFAULT_TIMEOUT_S)
        except PrinterUnavailable as away:
            return text("set_print_away", self.lang, reason=away.problem_in(language)), "error"
        return text("set_print_done", self.lang, printer=target), "ok"
