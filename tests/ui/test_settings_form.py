"""The Settings screen is built from the settings declaration: one row per declared setting, in its order."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox

from pos_app.settings_schema import SCREEN_SETTINGS
from pos_app.ui.settings_dialog import SettingsDialog
from pos_app.ui.strings import text
from tests.ui.harness import Till

pytestmark = pytest.mark.gui


def test_the_settings_screen_shows_exactly_the_declared_settings_in_their_order(till: Till) -> None:
    till.press(Qt.Key.Key_F6)
    till.qtbot.waitUntil(lambda: bool(till.window.open_dialogs()), timeout=5000)
    dialog = next(d for d in till.window.open_dialogs() if isinstance(d, SettingsDialog))
    till.qtbot.waitUntil(lambda: dialog.loaded is not None, timeout=5000)
    assert list(dialog.fields) == [setting.name for setting in SCREEN_SETTINGS]
    (form,) = dialog.findChildren(QFormLayout)
    for setting in SCREEN_SETTINGS:
        widget = dialog.fields[setting.name]
        label = form.labelForField(widget)
        assert isinstance(label, QLabel) and label.text() == text(setting.label, "en"), setting.name
        if setting.secret:
            assert isinstance(widget, QLineEdit) and widget.echoMode() == QLineEdit.EchoMode.Password
        elif setting.choices:
            assert isinstance(widget, QComboBox)
            assert [widget.itemData(i) for i in range(widget.count())] == list(setting.choices)
            assert widget.currentData() == getattr(dialog.loaded, setting.name)
        elif setting.kind is bool:
            assert isinstance(widget, QCheckBox)
        elif setting.kind is int:
            assert isinstance(widget, QSpinBox) and widget.minimum() == setting.minimum
        else:
            assert isinstance(widget, QLineEdit) and widget.echoMode() == QLineEdit.EchoMode.Normal
    dialog.reject()
