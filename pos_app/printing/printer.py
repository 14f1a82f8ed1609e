"""Printing a receipt without ever holding up the till: the blocking printer I/O runs in a worker thread,
bounded by a timeout, and every way a printer can be away becomes one `PrinterUnavailable`.

Printing comes after the sale is stored: a failure here loses nothing, and the receipt can be printed
again from history (`Receipt.reprint`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, assert_never

from pos_app.printing._escpos import EscposError, Network, Serial, Usb
from pos_app.printing.receipt import Language, Receipt, check_layout, write_receipt
from pos_app.printing.targets import (
    PrinterTarget,
    SerialPrinter,
    TcpPrinter,
    UsbPrinter,
    parse_printer_target,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_KEPT = "The sale is saved; print it again from history when the printer is back."


class PrinterUnavailable(Exception):
    """The receipt was not printed. `reason` is plain sentences for the cashier: `problem`, what is wrong
    with the printer, then that the sale is kept (a test print from Settings shows `problem` alone)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.reason = f"{problem} {_KEPT}"
        super().__init__(self.reason)


def _open(target: PrinterTarget, timeout_s: float) -> Any:
    """A python-escpos driver for the target, opened (typed Any: python-escpos ships no types)."""
    printer: Any
    if isinstance(target, TcpPrinter):
        printer = Network(target.host, target.port, timeout=timeout_s, profile="default")
    elif isinstance(target, UsbPrinter):
        if not Usb.is_usable():
            raise PrinterUnavailable("USB printing needs the pyusb package, which is not installed.")
        printer = Usb(target.vendor_id, target.product_id, timeout=int(timeout_s * 1000), profile="default")
    elif isinstance(target, SerialPrinter):
        if not Serial.is_usable():
            raise PrinterUnavailable("Serial printing needs the pyserial package, which is not installed.")
        printer = Serial(target.device, target.baud, timeout=timeout_s, profile="default")
    else:
        assert_never(target)
    printer.open()
    if isinstance(target, SerialPrinter):
        # python-escpos sets only pyserial's read timeout; a printer holding flow control would block writes.
        printer.device.write_timeout = timeout_s
    return printer


def _away(target: PrinterTarget) -> str:
    if isinstance(target, UsbPrinter):
        return f"The receipt printer ({target}) is not found: check its USB cable and that it is on."
    if isinstance(target, SerialPrinter):
        return f"The receipt printer ({target}) cannot be reached: check its cable and that it is on."
    return f"The receipt printer ({target}) does not answer: check that it is on and connected."


def _print_blocking(target: PrinterTarget, receipt: Receipt, language: Language, timeout_s: float) -> None:
    try:
        printer = _open(target, timeout_s)
        try:
            write_receipt(printer, receipt, language, target.width)
        finally:
            printer.close()
    except PrinterUnavailable:
        raise
    # OSError covers refused and timed-out sockets, serial ports and USB transfers (pyserial's and pyusb's
    # errors are OSErrors); python-escpos wraps "cannot open" in its own Error; pyusb without a libusb
    # backend raises NoBackendError, a ValueError.
    except (OSError, EscposError, ValueError) as exc:
        log.warning("receipt printer %s failed: %s", target, exc)
        raise PrinterUnavailable(_away(target)) from exc


async def print_receipt(
    receipt: Receipt,
    printer: PrinterTarget | str,
    *,
    language: Language = "en",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Print the receipt, or raise PrinterUnavailable within about `timeout_s`.

    `printer` is a target or its settings string (`pos_app/printing/targets.py`); a setting that cannot be
    understood raises PrinterSettingError at once. The event loop is never blocked: the driver runs in a
    thread whose socket, serial and USB calls carry the same timeout, so it ends soon after we stop waiting.
    """
    target = parse_printer_target(printer) if isinstance(printer, str) else printer
    check_layout(language, target.width)  # a programming error, raised here rather than as "printer away"
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.to_thread(_print_blocking, target, receipt, language, timeout_s)
    except TimeoutError:
        log.warning("receipt printer %s did not finish within %.1f s", target, timeout_s)
        raise PrinterUnavailable(
            f"The receipt printer ({target}) did not answer within {timeout_s:g} s."
        ) from None
