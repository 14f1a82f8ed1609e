"""Settings: Daraja credentials, relay, language, owner PIN; "Test connection" runs the diagnostics.

Secrets are never shown back: their fields start empty with "saved: type to replace", and an empty
field on Save keeps the stored value.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
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

from pos_app.settings_schema import SCREEN_SETTINGS, SECRET_FIELDS
from pos_app.ui.busy import busy
from pos_app.ui.diagnostics_view import FindingsList
from pos_app.ui.naming import named
from pos_app.ui.strings import text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import TillSettings

#: The form is built from the declaration (pos_app/settings_schema.py): one row per setting, in its order.
_LABELS = {setting.name: setting.label for setting in SCREEN_SETTINGS}
TEXT_FIELDS = tuple(s.name for s in SCREEN_SETTINGS if s.kind is str and not s.secret and not s.choices)
FLAG_FIELDS = tuple(s.name for s in SCREEN_SETTINGS if s.kind is bool)
CHOICES = {s.name: s.choices for s in SCREEN_SETTINGS if s.choices}
MINIMUMS = {s.name: s.minimum or 0 for s in SCREEN_SETTINGS}
#: Languages are offered by their own names; other choices show the value itself.
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}


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
        form = QFormLayout()
        for name in _LABELS:
            widget: QWidget
            if name in SECRET_FIELDS:
                line = QLineEdit()
                line.setEchoMode(QLineEdit.EchoMode.Password)
                widget = line
            elif name in TEXT_FIELDS:
                widget = QLineEdit()
            elif name in CHOICES:
                combo = QComboBox()
                for choice in CHOICES[name]:
                    combo.addItem(LANGUAGE_NAMES.get(choice, choice), choice)
                widget = combo
            elif name in FLAG_FIELDS:
                widget = QCheckBox()
            else:
                spin = QSpinBox()
                spin.setRange(MINIMUMS[name], 999_999)
                spin.setGroupSeparatorShown(True)
                widget = spin
            named(widget, f"setting_{name}")
            self.fields[name] = widget
            form.addRow(text(_LABELS[name], lang), widget)
        self.old_pin = QLineEdit()
        self.old_pin.setObjectName("setting_old_pin")
        self.old_pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_pin = QLineEdit()
        self.new_pin.setObjectName("setting_new_pin")
        self.new_pin.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(text("set_pin_old", lang), self.old_pin)
        form.addRow(text("set_pin_new", lang), self.new_pin)

        self.findings = FindingsList()
        self.findings.lang = lang
        self.findings.show_placeholder("")
        self.message = QLabel()
        named(self.message, "settingsMessage")
        self.message.setWordWrap(True)
        self.test_button = QPushButton(text("set_test", lang))
        self.test_button.setObjectName("settingsTest")
        self.test_button.setAutoDefault(False)
        self.save_button = QPushButton(text("set_save", lang))
        self.save_button.setObjectName("settingsSave")
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton(text("set_cancel", lang))
        self.cancel_button.setObjectName("settingsCancel")
        self.test_button.clicked.connect(self.on_test_clicked)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.reject)

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(form)
        inner_layout.addWidget(self.findings)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(620, 640)

    def show_settings(self, settings: TillSettings) -> None:
        self.loaded = settings
        for name, widget in self.fields.items():
            value = getattr(settings, name)
            if name in SECRET_FIELDS:
                assert isinstance(widget, QLineEdit)
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

    def edited(self) -> TillSettings:
        """The loaded settings with the form's changes; an empty secret field keeps the stored secret."""
        assert self.loaded is not None
        changes: dict[str, Any] = {}
        for name, widget in self.fields.items():
            if name in SECRET_FIELDS:
                assert isinstance(widget, QLineEdit)
                if widget.text():
                    changes[name] = widget.text()
            elif isinstance(widget, QLineEdit):
                changes[name] = widget.text().strip()
            elif isinstance(widget, QComboBox):
                changes[name] = widget.currentData()
            elif isinstance(widget, QCheckBox):
                changes[name] = widget.isChecked()
            elif isinstance(widget, QSpinBox):
                changes[name] = widget.value()
        return dataclasses.replace(self.loaded, **changes)

    async def load(self) -> None:
        self.show_settings(await self.service.load_settings())
        self.fields["consumer_key"].setFocus()

    @asyncSlot()
    async def on_save_clicked(self) -> None:
        # The engine's refusals carry a message for people (busy.py).
        await busy(self._save(), self.save_button, refused=lambda refusal: self.message.setText(str(refusal)))

    async def _save(self) -> None:
        settings = self.edited()
        if self.new_pin.text():
            await self.service.set_owner_pin(self.old_pin.text() or None, self.new_pin.text())
            self.old_pin.clear()
            self.new_pin.clear()
        await self.service.save_settings(settings)
        self.message.setText(text("set_saved", self.lang))
        self.settings_saved.emit(settings)
        self.accept()

    @asyncSlot()
    async def on_test_clicked(self) -> None:
        self.findings.show_placeholder(text("set_testing", self.lang))
        self.findings.show_findings(await busy(self.service.diagnostics(), self.test_button))
