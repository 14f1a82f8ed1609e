"""Printing a receipt without ever holding up the till: the blocking printer I/O runs in a worker thread,
bounded by a timeout, and every way a printer can be away becomes one `PrinterUnavailable`.

Printing comes after the sale is stored: a failure here loses nothing, and the receipt can be printed
again from history (`Receipt.reprint`).
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
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


class Away(StrEnum):
    """Every way a printer can be away; each has one sentence per language (`_PROBLEM`)."""

    NO_PYUSB = "no_pyusb"
    NO_PYSERIAL = "no_pyserial"
    USB = "usb"
    SERIAL = "serial"
    NETWORK = "network"
    TIMEOUT = "timeout"


# English, then Kiswahili: the owner reads these in Settings' test print, in the till's language.
_PROBLEM: dict[Away, tuple[str, str]] = {
    Away.NO_PYUSB: (
        "USB printing needs the pyusb package, which is not installed.",
        "Kuchapisha kupitia USB kunahitaji kifurushi cha pyusb, ambacho hakijasakinishwa.",
    ),
    Away.NO_PYSERIAL: (
        "Serial printing needs the pyserial package, which is not installed.",
        "Kuchapisha kupitia serial kunahitaji kifurushi cha pyserial, ambacho hakijasakinishwa.",
    ),
    Away.USB: (
        "The receipt printer ({target}) is not found: check its USB cable and that it is on.",
        "Printa ya risiti ({target}) haionekani: angalia kebo yake ya USB na kwamba imewashwa.",
    ),
    Away.SERIAL: (
        "The receipt printer ({target}) cannot be reached: check its cable and that it is on.",
        "Printa ya risiti ({target}) haifikiki: angalia kebo yake na kwamba imewashwa.",
    ),
    Away.NETWORK: (
        "The receipt printer ({target}) does not answer: check that it is on and connected.",
        "Printa ya risiti ({target}) haijibu: hakikisha imewashwa na imeunganishwa.",
    ),
    Away.TIMEOUT: (
        "The receipt printer ({target}) did not answer within {seconds:g} s.",
        "Printa ya risiti ({target}) haikujibu ndani ya sekunde {seconds:g}.",
    ),
}
_KEPT = (
    "The sale is saved; print it again from history when the printer is back.",
    "Mauzo yamehifadhiwa; yachapishe tena kutoka historia printa ikirudi.",
)


class PrinterUnavailable(Exception):
    """The receipt was not printed. `reason` is plain sentences for the cashier: `problem`, what is wrong
    with the printer, then that the sale is kept (a test print from Settings shows `problem` alone).
    Both are English (for the logs); `problem_in`/`reason_in` give them in the till's language."""

    def __init__(self, away: Away, target: PrinterTarget | None = None, seconds: float = 0.0) -> None:
        self.away = away
        self._target = str(target) if target is not None else ""
        self._seconds = seconds
        self.problem = self.problem_in("en")
        self.reason = self.reason_in("en")
        super().__init__(self.reason)

    def problem_in(self, language: Language) -> str:
        english, swahili = _PROBLEM[self.away]
        return (swahili if language == "sw" else english).format(target=self._target, seconds=self._seconds)

    def reason_in(self, language: Language) -> str:
        return f"{self.problem_in(language)} {_KEPT[1] if language == 'sw' else _KEPT[0]}"


def _open(target: PrinterTarget, timeout_s: float) -> Any:
    """A python-escpos driver for the target, opened (typed Any: python-escpos ships no types)."""
    printer: Any
    if isinstance(target, TcpPrinter):
        printer = Network(target.host, target.port, timeout=timeout_s, profile="default")
    elif isinstance(target, UsbPrinter):
        if not Usb.is_usable():
            raise PrinterUnavailable(Away.NO_PYUSB)
        printer = Usb(target.vendor_id, target.product_id, timeout=int(timeout_s * 1000), profile="default")
    elif isinstance(target, SerialPrinter):
        if not Serial.is_usable():
            raise PrinterUnavailable(Away.NO_PYSERIAL)
        printer = Serial(target.device, target.baud, timeout=timeout_s, profile="default")
    else:
        assert_never(target)
    printer.open()
    if isinstance(target, SerialPrinter):
        # python-escpos sets only pyserial's read timeout; a printer holding flow control would block writes.
        printer.device.write_timeout = timeout_s
    return printer


def _away(target: PrinterTarget) -> Away:
    if isinstance(target, UsbPrinter):
        return Away.USB
    if isinstance(target, SerialPrinter):
        return Away.SERIAL
    return Away.NETWORK


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
        raise PrinterUnavailable(_away(target), target) from exc


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
        raise PrinterUnavailable(Away.TIMEOUT, target, timeout_s) from None
