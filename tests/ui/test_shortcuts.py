"""Every key does the same thing in English and Kiswahili, is shown on its button and is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.main_window import MainWindow
from pos_app.ui.presentation import Action
from pos_app.ui.shortcuts import CHARGE_KEY, KEYS, NAV_KEYS, QR_KEY, STEP_KEYS
from pos_app.ui.status_panel import StatusPanel
from tests.ui.harness import focused

pytestmark = pytest.mark.gui

README = Path(__file__).resolve().parents[2] / "README.md"


def shown_key(label: str) -> str:
    """The key a button's label names, from its closing "(…)"."""
    found = re.search(r"\(([^()]+)\)$", label)
    assert found, f"no key on the button {label!r}"
    return found.group(1)


@pytest.mark.parametrize("action", list(Action))
def test_each_next_step_has_the_same_key_in_english_and_kiswahili_shown_on_its_button(qtbot, action):
    panel = StatusPanel()
    qtbot.addWidget(panel)
    button = panel.buttons[action]
    seen = {}
    for lang in ("en", "sw"):
        panel.set_language(lang)
        seen[lang] = (shown_key(button.text()), button.shortcut().toString())
        assert "&" not in button.text()
    assert seen["en"] == seen["sw"]
    assert seen["en"][0] == STEP_KEYS[action]


def test_each_screen_key_is_the_same_in_english_and_kiswahili_shown_on_its_button(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    seen = {}
    for lang in ("en", "sw"):
        window.set_language(lang)
        seen[lang] = {name: (shown_key(b.text()), b.shortcut().toString()) for name, b in window.nav.items()}
        seen[lang]["charge"] = (shown_key(window.sale.charge_button.text()), "")
        qr_button = window.sale.qr_button
        seen[lang]["qr"] = (shown_key(qr_button.text()), qr_button.shortcut().toString())
    assert seen["en"] == seen["sw"]
    assert {name: keys[0] for name, keys in seen["en"].items()} == {
        **NAV_KEYS,
        "charge": CHARGE_KEY,
        "qr": QR_KEY,
    }
    assert seen["en"]["qr"][1] == QR_KEY


def test_try_another_number_is_alt_a_in_kiswahili_too(till):
    window = till.window
    window.set_language("sw")
    till.charge("45", "0711000002")
    till.wait_for_status("Haijalipwa")
    till.press(Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: window.sale.phone_input.hasFocus())
    assert window.sale.phone_input.text() == ""
    assert window.sale.amount_input.text() == "45"
    assert focused() == window.sale.phone_input


def test_the_readme_lists_every_key():
    readme = README.read_text(encoding="utf-8")
    for key in KEYS:
        assert re.search(rf"^\| \*\*{re.escape(key)}\*\* \|", readme, re.MULTILINE), key
