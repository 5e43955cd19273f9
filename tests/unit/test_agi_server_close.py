"""The FastAGI server stopping with a session in the middle of a prompt: the session ends quietly (the caller
goes on in the dialplan), asyncio logs no error about a cancelled connection handler."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from ivr.flow import IvrConfig
from ivr.server import AgiServer


async def nothing(_: object) -> None:
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_close_mid_session_ends_it_without_an_asyncio_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = AgiServer(IvrConfig(sounds="/s"), nothing, nothing)
    port = free_port()
    await server.start("127.0.0.1", port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_request: agi://127.0.0.1/inbound\nagi_uniqueid: 1700000000.1\nagi_callerid: 13800138000\n\n")
    await writer.drain()
    asked = await asyncio.wait_for(reader.readline(), 5)  # the session asks its first question; we never answer
    assert asked.startswith(b"GET FULL VARIABLE")
    await server.close()
    await asyncio.sleep(0.05)  # let the server's done-callbacks run
    writer.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("IVR stopped with the service" in m for m in messages), messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], messages
