"""uvicorn's httptools protocol with a cap on the request head.

uvicorn's h11 protocol caps a request head at 16 KiB; its (faster) httptools protocol has
no cap, and a single multi-megabyte header costs quadratic CPU on the event loop. This
subclass answers 400 and closes the connection once a request's line and headers pass
MAX_HEAD_BYTES, so the parser never sees more than one read past the cap.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after this chunk (a chunk may also carry body bytes, so
        # only a head that has not ended counts): at most one chunk past the cap is parsed.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.send_400_response("Request header fields too large")

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request on this keep-alive connection
        self._head_bytes = 0
