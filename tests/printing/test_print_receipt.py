"""Printing to real printer endpoints on this machine: a raw port-9100 listener on loopback (what a network
receipt printer speaks: accept, read bytes), a serial port (a pseudo-terminal), and printers that are away."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import tty
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from pos_app.printing import (
    PrinterSettingError,
    PrinterUnavailable,
    Receipt,
    SerialPrinter,
    TcpPrinter,
    Tender,
    print_receipt,
)

PAID = Receipt(
    shop_name="Mama Njeri General Store",
    sale_id="S-0042",
    description="Sukari 2kg",
    amount_kes=1250,
    tender=Tender.MPESA,
    paid_at=datetime(2026, 12, 2, 11, 5, tzinfo=UTC),
    receipt_code="UL2ABC1234",
    phone_masked="0708 *** 149",
)


@dataclass
class RawPrinterPort:
    """A port-9100 listener: every connection's bytes, kept once the sender closes."""

    port: int
    jobs: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    @property
    def setting(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


@pytest.fixture
async def raw_printer() -> AsyncIterator[RawPrinterPort]:
    jobs: asyncio.Queue[bytes] = asyncio.Queue()

    async def job(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await jobs.put(await reader.read())
        writer.close()

    server = await asyncio.start_server(job, "127.0.0.1", 0)
    async with server:
        yield RawPrinterPort(server.sockets[0].getsockname()[1], jobs)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def silent_printer() -> Iterator[int]:
    """A listener whose accept queue is full: a new connection is never answered (the SYN is dropped),
    like a printer switched off behind a switch that still holds its address."""
    with socket.socket() as listener, contextlib.ExitStack() as fillers:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(8):
            filler = fillers.enter_context(socket.socket())
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # the queue is full: this connection was not answered, nor will the next be
        else:
            pytest.fail("the listener kept accepting: cannot make a silent printer here")
        yield port


async def test_a_paid_sale_reaches_a_network_printer_as_one_esc_pos_job(raw_printer: RawPrinterPort) -> None:
    await print_receipt(PAID, raw_printer.setting, timeout_s=5)
    data = await asyncio.wait_for(raw_printer.jobs.get(), 5)
    assert data.startswith(b"\x1b@")  # ESC @ initialise
    for words in (b"Mama Njeri General Store", b"KES 1,250", b"UL2ABC1234", b"0708 *** 149", b"Sukari 2kg"):
        assert words in data
    assert data.endswith(b"\x1dV\x00")  # GS V 0: cut
    assert raw_printer.jobs.empty()


async def test_a_reprint_in_kiswahili_from_history_reaches_the_printer_marked_as_a_copy(
    raw_printer: RawPrinterPort,
) -> None:
    await print_receipt(replace(PAID, reprint=True), TcpPrinter("127.0.0.1", raw_printer.port), language="sw")
    data = await asyncio.wait_for(raw_printer.jobs.get(), 5)
    assert b"NAKALA" in data and b"JUMLA" in data and b"KES 1,250" in data


async def test_a_printer_that_refuses_the_connection_is_unavailable_and_the_next_print_still_works(
    raw_printer: RawPrinterPort,
) -> None:
    with pytest.raises(PrinterUnavailable) as caught:
        await print_receipt(PAID, f"tcp://127.0.0.1:{closed_port()}", timeout_s=5)
    assert caught.value.reason.startswith("The receipt printer (127.0.0.1:")
    assert "does not answer: check that it is on and connected" in caught.value.reason
    assert "The sale is saved; print it again from history" in caught.value.reason
    assert caught.value.reason.startswith(caught.value.problem) and "sale" not in caught.value.problem
    await print_receipt(PAID, raw_printer.setting, timeout_s=5)
    assert b"UL2ABC1234" in await asyncio.wait_for(raw_printer.jobs.get(), 5)


async def test_a_printer_that_never_answers_is_unavailable_within_the_timeout_without_blocking_the_till() -> (
    None
):
    ticks = 0

    async def till_keeps_running() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(till_keeps_running())
    with silent_printer() as port:
        async with asyncio.timeout(5):  # a hang would fail here, not pass slowly
            with pytest.raises(PrinterUnavailable, match=re.escape(f"(127.0.0.1:{port})")):
                await print_receipt(PAID, f"tcp://127.0.0.1:{port}", timeout_s=0.5)
    ticker.cancel()
    assert ticks > 1  # the event loop ran while the printer was tried


async def test_a_serial_printer_gets_the_same_job() -> None:
    controller, device = os.openpty()
    tty.setraw(device)
    loop = asyncio.get_running_loop()
    received = bytearray()
    cut = asyncio.Event()

    def readable() -> None:
        received.extend(os.read(controller, 4096))
        if received.endswith(b"\x1dV\x00"):
            cut.set()

    loop.add_reader(controller, readable)
    try:
        await print_receipt(PAID, SerialPrinter(os.ttyname(device), 19200), timeout_s=5)
        await asyncio.wait_for(cut.wait(), 5)
    finally:
        loop.remove_reader(controller)
        os.close(controller)
        os.close(device)
    assert received.startswith(b"\x1b@") and b"KES 1,250" in received and b"UL2ABC1234" in received


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("serial:///dev/no-such-printer", "(serial port /dev/no-such-printer) cannot be reached"),
        ("usb://04b8:0e15", "(USB 04b8:0e15) is not found: check its USB cable"),
    ],
)
async def test_an_unplugged_serial_or_usb_printer_is_unavailable(setting: str, words: str) -> None:
    with pytest.raises(PrinterUnavailable) as caught:
        await print_receipt(PAID, setting, timeout_s=2)
    assert words in caught.value.reason
    assert "The sale is saved" in caught.value.reason


async def test_a_printer_setting_that_cannot_be_understood_is_a_setting_error_not_a_missing_printer() -> None:
    with pytest.raises(PrinterSettingError, match="not understood"):
        await print_receipt(PAID, "printer on the counter")
