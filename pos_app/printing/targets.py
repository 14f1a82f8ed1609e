"""Where the receipt printer is, from one settings string, with messages that say how to fix it.

- `tcp://HOST[:PORT]`: a network printer's raw port (9100 unless given).
- `usb://VID:PID`: a USB printer by its vendor and product id in hex (`usb://04b8:0e15`).
- `serial:///dev/ttyUSB0?baud=9600` or `serial://COM3?baud=19200`: a serial printer (9600 baud unless given).
Any of them takes `?width=32` (58 mm paper), `42` (80 mm, the default) or `48`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from pos_app.printing.receipt import DEFAULT_WIDTH, WIDTHS

DEFAULT_TCP_PORT = 9100
DEFAULT_BAUD = 9600
BAUDS = (2400, 4800, 9600, 19200, 38400, 57600, 115200)
FORMS = "tcp://HOST:9100, usb://VID:PID or serial:///dev/ttyUSB0?baud=9600"


class PrinterSettingError(ValueError):
    """The printer setting cannot be understood; the message says what to write instead."""


@dataclass(frozen=True)
class TcpPrinter:
    host: str
    port: int = DEFAULT_TCP_PORT
    width: int = DEFAULT_WIDTH

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class UsbPrinter:
    vendor_id: int
    product_id: int
    width: int = DEFAULT_WIDTH

    def __str__(self) -> str:
        return f"USB {self.vendor_id:04x}:{self.product_id:04x}"


@dataclass(frozen=True)
class SerialPrinter:
    device: str
    baud: int = DEFAULT_BAUD
    width: int = DEFAULT_WIDTH

    def __str__(self) -> str:
        return f"serial port {self.device}"


PrinterTarget = TcpPrinter | UsbPrinter | SerialPrinter


def _options(query: str, allowed: set[str], setting: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in allowed:
            raise PrinterSettingError(f"Printer setting {setting!r}: unknown option {name!r}.")
        if len(values) != 1:
            raise PrinterSettingError(f"Printer setting {setting!r}: give {name!r} once.")
        options[name] = values[0]
    return options


def _choice(options: dict[str, str], name: str, choices: tuple[int, ...], default: int, setting: str) -> int:
    text = options.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) not in choices:
        listed = ", ".join(map(str, choices))
        raise PrinterSettingError(f"Printer setting {setting!r}: {name} is one of {listed}, not {text!r}.")
    return int(text)


def _usb_id(text: str, setting: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if len(text) != 4 or not 0 < value <= 0xFFFF:
        raise PrinterSettingError(
            f"Printer setting {setting!r}: USB ids are 4 hex digits each, like usb://04b8:0e15."
        )
    return value


def parse_printer_target(setting: str) -> PrinterTarget:
    """The printer a settings string names; raises PrinterSettingError naming the problem."""
    text = (setting or "").strip()
    if not text:
        raise PrinterSettingError(f"No receipt printer is set: write {FORMS}.")
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if not rest or scheme not in ("tcp", "usb", "serial"):
        raise PrinterSettingError(f"Printer setting {text!r} not understood: write {FORMS}.")
    parts = urlsplit(text)
    if scheme == "tcp":
        options = _options(parts.query, {"width"}, text)
        width = _choice(options, "width", WIDTHS, DEFAULT_WIDTH, text)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or parts.path not in ("", "/") or port == -1 or port == 0:
            raise PrinterSettingError(
                f"Printer setting {text!r}: a network printer is tcp://HOST or tcp://HOST:PORT "
                f"(port 1-65535, usually {DEFAULT_TCP_PORT})."
            )
        return TcpPrinter(parts.hostname, port or DEFAULT_TCP_PORT, width)
    if scheme == "usb":
        options = _options(parts.query, {"width"}, text)
        width = _choice(options, "width", WIDTHS, DEFAULT_WIDTH, text)
        vendor, colon, product = parts.netloc.partition(":")
        if not colon or parts.path not in ("", "/"):
            raise PrinterSettingError(
                f"Printer setting {text!r}: a USB printer is usb://VID:PID, like usb://04b8:0e15."
            )
        return UsbPrinter(_usb_id(vendor, text), _usb_id(product, text), width)
    options = _options(parts.query, {"baud", "width"}, text)
    width = _choice(options, "width", WIDTHS, DEFAULT_WIDTH, text)
    baud = _choice(options, "baud", BAUDS, DEFAULT_BAUD, text)
    device = parts.netloc + parts.path  # serial:///dev/ttyUSB0 → /dev/ttyUSB0; serial://COM3 → COM3
    if not device or device == "/":
        raise PrinterSettingError(
            f"Printer setting {text!r}: a serial printer is serial:///dev/ttyUSB0 or serial://COM3."
        )
    return SerialPrinter(device, baud, width)
