"""The Settings screen, driven by the keyboard: built from the settings declaration section by section
(the shop first), the owner PIN typed twice, a visible "Saved" line, refusals under their field, a test
print to a real raw-port printer on loopback, and a screen that fits 1024×600."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from pos_app.engine.errors import WrongPin
from pos_app.settings_schema import SCREEN_SETTINGS, SECTIONS
from pos_app.ui.settings_dialog import SettingsDialog
from pos_app.ui.strings import text
from tests.ui.harness import OWNER_PIN, Till, focused

pytestmark = pytest.mark.gui


def open_settings(till: Till) -> SettingsDialog:
    till.press(Qt.Key.Key_F6)
    till.qtbot.waitUntil(lambda: bool(till.window.open_dialogs()), timeout=5000)
    dialog = next(d for d in till.window.open_dialogs() if isinstance(d, SettingsDialog))
    till.qtbot.waitUntil(lambda: dialog.loaded is not None and dialog.isVisible(), timeout=5000)
    return dialog


def tab_to(till: Till, widget: QWidget, most: int = 40) -> None:
    """Press Tab until `widget` has the keyboard focus, as a person would."""
    for _ in range(most):
        if focused() is widget:
            return
        till.qtbot.keyClick(focused(), Qt.Key.Key_Tab)  # type: ignore[arg-type]
    pytest.fail(f"Tab never reached {widget.objectName()}")


def type_into(till: Till, widget: QWidget, words: str) -> None:
    tab_to(till, widget)
    till.qtbot.keyClicks(widget, words)


@dataclass
class RawPrinter:
    """A network printer's raw port (9100-style) on loopback: accepts, reads until the sender closes."""

    listener: socket.socket
    jobs: list[bytes] = field(default_factory=list)

    @property
    def setting(self) -> str:
        return f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed at the end of the test
                return
            with connection:
                job = b""
                while chunk := connection.recv(4096):
                    job += chunk
                self.jobs.append(job)


@pytest.fixture
def raw_printer() -> Iterator[RawPrinter]:
    listener = socket.create_server(("127.0.0.1", 0))
    printer = RawPrinter(listener)
    thread = threading.Thread(target=printer.serve, daemon=True)
    thread.start()
    yield printer
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_screen_shows_the_declared_settings_section_by_section_shop_first(till: Till) -> None:
    dialog = open_settings(till)
    boxes = [box for box in dialog.findChildren(QGroupBox) if box.objectName().startswith("settingsSection_")]
    # Top to bottom on the screen: the shop, the M-Pesa connection, the relay and tunnel, the printer.
    boxes.sort(key=lambda box: box.mapTo(dialog, box.rect().topLeft()).y())
    assert [box.title() for box in boxes] == [text(f"set_section_{section}", "en") for section in SECTIONS]
    assert [box.title() for box in boxes] == [
        "Shop",
        "M-Pesa connection",
        "Relay and tunnel",
        "Receipt printer",
    ]
    assert list(dialog.fields) == [setting.name for setting in SCREEN_SETTINGS]
    for setting in SCREEN_SETTINGS:
        widget = dialog.fields[setting.name]
        form = dialog.sections[setting.section].layout()
        assert isinstance(form, QFormLayout)
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
    width = dialog.fields["printer_width"]
    assert isinstance(width, QComboBox) and width.currentText() == "80 mm (42 characters a line)"

    # The keyboard goes through the shop first: name, till number, language, largest charge, then the PIN
    # typed twice, and only then the M-Pesa connection.
    assert focused() is dialog.fields["shop_name"]
    order = [focused()]
    for _ in range(7):
        till.qtbot.keyClick(focused(), Qt.Key.Key_Tab)  # type: ignore[arg-type]
        order.append(focused())
    assert order == [
        dialog.fields["shop_name"],
        dialog.fields["till_number"],
        dialog.fields["language"],
        dialog.fields["max_amount_kes"],
        dialog.old_pin,
        dialog.new_pin,
        dialog.confirm_pin,
        dialog.fields["consumer_key"],
    ]
    dialog.reject()


def test_the_screen_fits_1024x600_and_tab_scrolls_to_the_printer(till: Till) -> None:
    dialog = open_settings(till)
    assert dialog.width() <= 1024 and dialog.height() <= 600 - 40  # room for the window's title bar
    minimum = dialog.minimumSizeHint()
    assert minimum.width() <= 1024 and minimum.height() <= 560
    bar = dialog.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0  # the form scrolls rather than growing the dialog
    printer = dialog.fields["printer"]
    assert printer.visibleRegion().isEmpty()  # below the fold at first
    tab_to(till, printer)
    till.qtbot.waitUntil(lambda: not printer.visibleRegion().isEmpty(), timeout=3000)
    assert bar.value() > 0
    dialog.reject()


def test_a_new_pin_typed_differently_twice_is_refused_and_the_same_twice_is_saved(till: Till) -> None:
    dialog = open_settings(till)
    pin_error = dialog.errors["pin"]
    type_into(till, dialog.old_pin, OWNER_PIN)
    type_into(till, dialog.new_pin, "1357")
    type_into(till, dialog.confirm_pin, "1375")
    till.qtbot.keyClick(dialog.confirm_pin, Qt.Key.Key_Return)  # Enter = Save
    mismatch = "The two new PINs are not the same. Type the new PIN again in both boxes."
    till.qtbot.waitUntil(lambda: pin_error.text() == mismatch, timeout=3000)
    assert pin_error.isVisible() and dialog.isVisible()
    assert dialog.message.text() == f"Not saved: {mismatch}"
    # Both new-PIN boxes are emptied and the cursor waits in the first; the old PIN still holds.
    assert dialog.new_pin.text() == dialog.confirm_pin.text() == "" and focused() is dialog.new_pin
    till.run(till.service.set_owner_pin(OWNER_PIN, OWNER_PIN))

    till.qtbot.keyClicks(dialog.new_pin, "1357")
    type_into(till, dialog.confirm_pin, "1357")
    till.qtbot.keyClick(dialog.confirm_pin, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: dialog.message.text() == "Saved: Owner PIN.", timeout=5000)
    assert dialog.message.isVisible() and not pin_error.isVisible()
    assert dialog.old_pin.text() == dialog.new_pin.text() == dialog.confirm_pin.text() == ""
    till.run(till.service.set_owner_pin("1357", "1357"))  # the new PIN opens what the owner PIN guards
    with pytest.raises(WrongPin):
        till.run(till.service.set_owner_pin(OWNER_PIN, "2222"))
    dialog.reject()


def test_the_pin_refusals_are_plain_kiswahili_on_a_kiswahili_screen(till: Till) -> None:
    dialog = SettingsDialog(till.service, "sw", till.window)
    till.qtbot.addWidget(dialog)
    till.run(dialog.load())
    dialog.show()
    till.qtbot.waitExposed(dialog)
    dialog.activateWindow()
    till.qtbot.waitUntil(lambda: focused() is dialog.fields["shop_name"], timeout=3000)
    assert dialog.sections["shop"].title() == "Duka"
    type_into(till, dialog.new_pin, "1357")
    type_into(till, dialog.confirm_pin, "7531")
    till.qtbot.keyClick(dialog.confirm_pin, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: dialog.errors["pin"].isVisible(), timeout=3000)
    assert dialog.errors["pin"].text() == (
        "PIN mpya mbili hazifanani. Andika PIN mpya tena kwenye visanduku vyote viwili."
    )
    till.qtbot.keyClicks(dialog.new_pin, "12")
    type_into(till, dialog.confirm_pin, "12")
    till.qtbot.keyClick(dialog.confirm_pin, Qt.Key.Key_Return)
    till.qtbot.waitUntil(
        lambda: dialog.errors["pin"].text() == "PIN ya mmiliki lazima iwe tarakimu 4 hadi 8.", timeout=3000
    )
    type_into(till, dialog.new_pin, "2468")
    type_into(till, dialog.confirm_pin, "2468")
    till.qtbot.keyClick(dialog.confirm_pin, Qt.Key.Key_Return)  # no current PIN typed: the owner has one
    till.qtbot.waitUntil(
        lambda: dialog.errors["pin"].text() == "PIN ya sasa ya mmiliki si sahihi.", timeout=5000
    )
    assert focused() is dialog.old_pin
    dialog.reject()


def test_save_says_what_it_saved_and_the_screen_stays_open(till: Till) -> None:
    dialog = open_settings(till)
    type_into(till, dialog.fields["shop_name"], "Mama Njeri Store")
    type_into(till, dialog.fields["printer"], "usb://04b8:0202")
    till.qtbot.keyClick(focused(), Qt.Key.Key_Return)  # type: ignore[arg-type]
    till.qtbot.waitUntil(lambda: dialog.message.text().startswith("Saved"), timeout=5000)
    assert dialog.message.text() == "Saved: Shop name, Printer."
    assert dialog.message.isVisible() and dialog.isVisible()
    assert dialog.loaded is not None and dialog.loaded.shop_name == "Mama Njeri Store"
    till.qtbot.keyClick(focused(), Qt.Key.Key_Return)  # type: ignore[arg-type]
    nothing = "Nothing was changed, so nothing was saved."
    till.qtbot.waitUntil(lambda: dialog.message.text() == nothing, timeout=5000)
    till.qtbot.keyClick(focused(), Qt.Key.Key_Escape)  # type: ignore[arg-type]
    till.qtbot.waitUntil(lambda: not till.window.open_dialogs(), timeout=5000)


def test_a_printer_the_till_cannot_understand_is_refused_under_its_field(till: Till) -> None:
    dialog = open_settings(till)
    printer_error = dialog.errors["printer"]
    type_into(till, dialog.fields["printer"], "printer on the counter")
    till.qtbot.keyClick(focused(), Qt.Key.Key_Return)  # type: ignore[arg-type]
    till.qtbot.waitUntil(printer_error.isVisible, timeout=3000)
    assert printer_error.text().startswith("This printer is not understood. Printer setting 'printer on the")
    assert "write tcp://HOST:9100" in printer_error.text()
    assert dialog.message.text().startswith("Not saved: This printer is not understood.")
    assert focused() is dialog.fields["printer"]
    assert till.run(till.service.load_settings()).printer == ""
    dialog.reject()


def test_test_print_reaches_a_network_printer_with_the_shop_name(till: Till, raw_printer: RawPrinter) -> None:
    dialog = open_settings(till)
    type_into(till, dialog.fields["shop_name"], "Mama Njeri Store")
    type_into(till, dialog.fields["printer"], raw_printer.setting)
    tab_to(till, dialog.print_button)
    till.qtbot.keyClick(dialog.print_button, Qt.Key.Key_Space)
    port = raw_printer.listener.getsockname()[1]
    sent = f"A test receipt was sent to 127.0.0.1:{port}. Check that it came out."
    till.qtbot.waitUntil(lambda: dialog.print_result.text() == sent, timeout=10_000)
    till.qtbot.waitUntil(lambda: bool(raw_printer.jobs), timeout=5000)
    (job,) = raw_printer.jobs
    assert job.startswith(b"\x1b@")  # ESC @: the printer is initialised
    assert b"Mama Njeri Store" in job and b"DEMO - NOT A REAL PAYMENT" in job
    assert dialog.print_button.isEnabled()
    dialog.reject()


def test_a_printer_that_is_away_is_said_plainly_and_the_screen_stays_usable(till: Till) -> None:
    dialog = open_settings(till)
    port = closed_port()
    type_into(till, dialog.fields["printer"], f"tcp://127.0.0.1:{port}")
    tab_to(till, dialog.print_button)
    till.qtbot.keyClick(dialog.print_button, Qt.Key.Key_Space)
    till.qtbot.waitUntil(lambda: dialog.print_result.text().startswith("Nothing was printed"), timeout=15_000)
    assert dialog.print_result.text() == (
        f"Nothing was printed. The receipt printer (127.0.0.1:{port}) does not answer: "
        "check that it is on and connected."
    )
    assert dialog.print_button.isEnabled() and focused() is dialog.print_button
    # The rest of the screen still works: the owner saves the shop name.
    type_into(till, dialog.fields["shop_name"], "Duka la Amani")
    till.qtbot.keyClick(focused(), Qt.Key.Key_Return)  # type: ignore[arg-type]
    till.qtbot.waitUntil(lambda: dialog.message.text() == "Saved: Shop name, Printer.", timeout=5000)
    dialog.reject()


def test_in_kiswahili_a_printer_that_is_away_is_said_in_kiswahili(till: Till) -> None:
    till.press(Qt.Key.Key_F9)
    till.qtbot.waitUntil(lambda: till.service.config.language == "sw")
    dialog = open_settings(till)
    port = closed_port()
    type_into(till, dialog.fields["printer"], f"tcp://127.0.0.1:{port}")
    tab_to(till, dialog.print_button)
    till.qtbot.keyClick(dialog.print_button, Qt.Key.Key_Space)
    till.qtbot.waitUntil(lambda: dialog.print_result.text().startswith("Hakuna"), timeout=15_000)
    assert dialog.print_result.text() == (
        f"Hakuna kilichochapishwa. Printa ya risiti (127.0.0.1:{port}) haijibu: "
        "hakikisha imewashwa na imeunganishwa."
    )
    dialog.reject()


def test_test_print_without_a_printer_says_what_to_write(till: Till) -> None:
    dialog = open_settings(till)
    tab_to(till, dialog.print_button)
    till.qtbot.keyClick(dialog.print_button, Qt.Key.Key_Space)
    till.qtbot.waitUntil(lambda: bool(dialog.print_result.text()), timeout=3000)
    assert dialog.print_result.text() == "Write the printer first, for example tcp://192.168.1.50:9100."
    assert focused() is dialog.fields["printer"]
    dialog.reject()


def test_opening_the_window_does_not_load_the_printer_driver() -> None:
    """python-escpos takes about 0.2 s to import: the Settings screen loads it on the first Test print."""
    found = subprocess.run(
        [sys.executable, "-c", "import sys, pos_app.ui.main_window; print('escpos' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert found.stdout.strip() == "False"
