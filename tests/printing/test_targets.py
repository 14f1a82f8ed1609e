"""The printer settings string: the three ways to reach a printer, and a plain message for anything else."""

from __future__ import annotations

import pytest

from pos_app.printing import PrinterSettingError, SerialPrinter, TcpPrinter, UsbPrinter, parse_printer_target


@pytest.mark.parametrize(
    ("setting", "target"),
    [
        ("tcp://192.168.1.50:9100", TcpPrinter("192.168.1.50", 9100)),
        ("tcp://printer.local", TcpPrinter("printer.local", 9100)),
        (" TCP://192.168.1.50:9101/?width=32 ", TcpPrinter("192.168.1.50", 9101, 32)),
        ("usb://04b8:0e15", UsbPrinter(0x04B8, 0x0E15)),
        ("usb://0416:5011?width=32", UsbPrinter(0x0416, 0x5011, 32)),
        ("serial:///dev/ttyUSB0", SerialPrinter("/dev/ttyUSB0", 9600)),
        ("serial:///dev/ttyS0?baud=19200&width=48", SerialPrinter("/dev/ttyS0", 19200, 48)),
        ("serial://COM3?baud=38400", SerialPrinter("COM3", 38400)),
    ],
)
def test_each_kind_of_printer_is_read_from_its_setting(setting: str, target: object) -> None:
    assert parse_printer_target(setting) == target


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("", "No receipt printer is set"),
        ("192.168.1.50:9100", "not understood: write tcp://HOST:9100, usb://VID:PID or serial://"),
        ("lpt://1", "not understood"),
        ("tcp://", "not understood"),
        ("tcp://192.168.1.50:99999", "port 1-65535"),
        ("tcp://192.168.1.50:0", "port 1-65535"),
        ("tcp://192.168.1.50:9100/queue", "tcp://HOST:PORT"),
        ("tcp://192.168.1.50?width=40", "width is one of 32, 42, 48"),
        ("tcp://192.168.1.50?colour=red", "unknown option 'colour'"),
        ("usb://04b8", "usb://VID:PID"),
        ("usb://4b8:e15", "4 hex digits"),
        ("usb://04b8:zzzz", "4 hex digits"),
        ("serial://?baud=9600", "serial:///dev/ttyUSB0 or serial://COM3"),
        ("serial:///dev/ttyUSB0?baud=1234", "baud is one of"),
        ("serial:///dev/ttyUSB0?baud=9600&baud=19200", "give 'baud' once"),
    ],
)
def test_a_setting_that_cannot_be_used_is_refused_saying_what_to_write(setting: str, words: str) -> None:
    with pytest.raises(PrinterSettingError) as caught:
        parse_printer_target(setting)
    assert words in str(caught.value)


def test_targets_name_themselves_the_way_a_cashier_would_look_for_the_printer() -> None:
    assert str(TcpPrinter("192.168.1.50")) == "192.168.1.50:9100"
    assert str(UsbPrinter(0x04B8, 0x0E15)) == "USB 04b8:0e15"
    assert str(SerialPrinter("COM3")) == "serial port COM3"
