"""uvicorn's httptools protocol with the request line and headers bounded.

uvicorn's h11 protocol bounds them (`h11_max_incomplete_event_size`); its httptools protocol, the one it
picks when httptools is installed, reads them whole: 2,000 headers of 8 KB, or a 100 MB URL, were taken
in and held in memory. Nothing stands in front of the embedded relay to refuse them.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The request line and all headers together, at most (nginx's default allows 4 x 8 KiB header lines).
MAX_REQUEST_HEAD_BYTES = 64 * 1024

_MESSAGE = b"Request line or headers are too large"
# RFC 6585 §5: 431 Request Header Fields Too Large.
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\nconnection: close\r\n\r\n" + _MESSAGE
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Over `MAX_REQUEST_HEAD_BYTES` of request line and headers: 431 and the connection is closed.

    Counted per read the head is still open after, so the parser holds at most the bound plus one read
    (asyncio reads at most 256 KiB at a time).
    """

    _head_open = True
    _head_bytes = 0
    _refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

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
