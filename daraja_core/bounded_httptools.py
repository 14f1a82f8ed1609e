"""uvicorn's httptools protocol with the request line and headers bounded.

uvicorn's h11 protocol bounds them (`h11_max_incomplete_event_size`); its httptools protocol, the one it
picks when httptools is installed, reads them whole: 2,000 headers of 8 KB, or a 100 MB URL, were taken
in and held in memory. Nothing stands in front of the embedded relay to refuse them.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The request line and all headers together, at most (nginx's default allows 4 x 8 KiB header lines).
MAX_REQUEST_HEAD_BYTES = 64 * 1024

# A request line and headers not complete this long after the connection opened (or after the previous
# response) are refused: uvicorn waits for them forever, so clients trickling a byte now and then, or saying
# nothing at all, could hold every connection (and file descriptor) the relay has.
HEAD_TIMEOUT_S = 10.0

_MESSAGE = b"Request line or headers are too large"
# RFC 6585 §5: 431 Request Header Fields Too Large.
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\nconnection: close\r\n\r\n" + _MESSAGE
)


_SLOW_MESSAGE = b"Request line and headers took too long"
_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_SLOW_MESSAGE)).encode() + b"\r\nconnection: close\r\n\r\n" + _SLOW_MESSAGE
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Over `MAX_REQUEST_HEAD_BYTES` of request line and headers: 431 and the connection is closed.
    A head not complete within `HEAD_TIMEOUT_S` of the connection (or of the previous response): 408, closed.

    Counted per read the head is still open after, so the parser holds at most the bound plus one read
    (asyncio reads at most 256 KiB at a time).
    """

    head_timeout_s = HEAD_TIMEOUT_S
    _head_open = True
    _head_bytes = 0
    _refused = False
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._start_head_timer()  # the next request on this connection gets as long, no longer

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._head_open and not self.transport.is_closing() and not self._refused:
            self._refused = True
            self.transport.write(_TOO_SLOW)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._head_open and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
                self._refused = True
                self.transport.write(_TOO_LARGE)
                self.transport.close()
