"""Receipt printing on ESC/POS printers (network, USB, serial) through python-escpos; no Qt here."""

from pos_app.printing.printer import DEFAULT_TIMEOUT_S, PrinterUnavailable, print_receipt
from pos_app.printing.receipt import LABELS, Language, Receipt, Tender, kes, render_receipt, write_receipt
from pos_app.printing.targets import (
    PrinterSettingError,
    PrinterTarget,
    SerialPrinter,
    TcpPrinter,
    UsbPrinter,
    parse_printer_target,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "LABELS",
    "Language",
    "PrinterSettingError",
    "PrinterTarget",
    "PrinterUnavailable",
    "Receipt",
    "SerialPrinter",
    "TcpPrinter",
    "Tender",
    "UsbPrinter",
    "kes",
    "parse_printer_target",
    "print_receipt",
    "render_receipt",
    "write_receipt",
]
