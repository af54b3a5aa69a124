"""The HTTP protocol that sends a response's head and body in one write."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from onestack.server.protocol import HeldHeadTransport, HttpProtocol


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 5000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_head_waits_for_the_body() -> None:
    real = FakeTransport()
    held = HeldHeadTransport(real)
    held.write(HEAD)
    assert real.writes == []
    held.write(b"{}")
    assert real.writes == [HEAD + b"{}"]
    held.write(b"more")
    assert real.writes == [HEAD + b"{}", b"more"]


def test_informational_heads_and_other_data_go_at_once() -> None:
    real = FakeTransport()
    held = HeldHeadTransport(real)
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    held.write(b"HTTP/1.1")  # too short to be a head
    held.write(b"anything")
    assert real.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1", b"anything"]


def test_flush_close_and_discard() -> None:
    real = FakeTransport()
    held = HeldHeadTransport(real)
    held.write(HEAD)
    held.flush()
    held.flush()
    assert real.writes == [HEAD]
    held.write(HEAD)
    held.close()
    assert real.writes == [HEAD, HEAD] and real.closed
    other = FakeTransport()
    dropped = HeldHeadTransport(other)
    dropped.write(HEAD)
    dropped.discard()
    dropped.close()
    assert other.writes == []


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b"" if scope["path"] == "/empty" else scope["path"].encode()
    status = 204 if scope["path"] == "/empty" else 200
    headers = [(b"content-length", str(len(body)).encode())] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_protocol_answers_pipelined_requests_in_order_one_write_each() -> None:
    async def run() -> list[bytes]:
        config = Config(_app, log_config=None, access_log=False, lifespan="off")
        config.load()
        state = ServerState()
        protocol = HttpProtocol(config=config, server_state=state, app_state={})
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /bb HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /ccc HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        for _ in range(100):
            if len(transport.writes) == 4:
                break
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(run())
    assert len(writes) == 4
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n/a")
    assert writes[1].startswith(b"HTTP/1.1 200 OK\r\n") and writes[1].endswith(b"\r\n\r\n")
    assert b"content-length: 3\r\n" in writes[1]  # HEAD: the head alone, sent when done
    assert writes[2].startswith(b"HTTP/1.1 204 No Content\r\n")
    assert writes[3].endswith(b"\r\n\r\n/ccc")
