"""uvicorn's httptools protocol, sending each small response in one write.

uvicorn writes a response's status line and headers to the socket as soon as the app sends
``http.response.start``, and the body at ``http.response.body``: two ``send()`` system calls
and two TCP segments per response, and the client wakes up twice. For the API's small JSON
answers that is about a tenth of the server's CPU time per request. Here the connection's
transport holds a response head back and sends it together with the first piece of its body.
Nothing else about the protocol changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A response head as uvicorn writes it. 1xx heads (100 Continue) are never held: the client
# waits for them before it sends the request body.
_HEAD = b"HTTP/1.1 "


class HeldHeadTransport(asyncio.Transport):
    """A transport that holds a response head until the next write, and sends both at once.

    Whatever ends a response or the connection (the response's completion, ``close``,
    ``write_eof``, ``abort``) sends what is held first, so holding changes when bytes leave,
    never which bytes leave or in which order.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif type(data) is bytes and data.startswith(_HEAD) and data[9:10] != b"1":
            self._held = data  # uvicorn writes each head as one bytes object
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send what is held, if anything."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def discard(self) -> None:
        """Drop what is held: the connection is gone."""
        self._held = None

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self.flush()
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`HeldHeadTransport`."""

    held: HeldHeadTransport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.held = HeldHeadTransport(transport)
        super().connection_made(self.held)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.held is not None:
            self.held.discard()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # A response without body bytes (HEAD, 204, 304) ends here with its head still held.
        if self.held is not None:
            self.held.flush()
        super().on_response_complete()
