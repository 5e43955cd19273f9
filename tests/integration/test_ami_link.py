"""The AMI link under bad conditions: garbage, truncation, a wrong secret, nobody listening."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ami_bridge.client import AmiAuthError, AmiClient, AmiDisconnected, LinkDown, LinkUp
from ami_bridge.protocol import Frame
from tests.helpers import realparts

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FULLY_BOOTED = b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"


LoginReply = Callable[[int, str, asyncio.StreamWriter], Awaitable[None]]


def ok(action_id: str) -> bytes:
    return f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode()


@contextlib.asynccontextmanager
async def ami_server(reply: LoginReply) -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server that speaks just enough AMI: the banner, then `reply(n, login action id, writer)`
    for connection n; it then holds the connection until the client leaves (3 s at most)."""
    count = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        writer.write(BANNER)
        data = await reader.readuntil(b"\r\n\r\n")
        action_id = next(line.split(": ", 1)[1] for line in data.decode().split("\r\n") if line.startswith("ActionID"))
        await reply(count[0], action_id, writer)
        await writer.drain()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.read(), 3)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], count


def fake_ami(after_login: Callable[[int], bytes]) -> contextlib.AbstractAsyncContextManager[tuple[int, list[int]]]:
    """Login accepted, Asterisk booted, then `after_login(n)` on connection n."""

    async def reply(n: int, action_id: str, writer: asyncio.StreamWriter) -> None:
        writer.write(ok(action_id) + FULLY_BOOTED + after_login(n))

    return ami_server(reply)


def client(port: int, secret: str = "x") -> AmiClient:
    return AmiClient(
        "127.0.0.1", port, "hotline-bridge", secret, ping_interval=5, backoff_initial=0.05, backoff_max=0.2
    )


async def drain_until(c: AmiClient, predicate: Callable[[object], bool], timeout: float = 5) -> list[object]:
    seen: list[object] = []
    while not seen or not predicate(seen[-1]):
        seen.append(await asyncio.wait_for(c.stream.get(), timeout))
    return seen


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not AMI at all\r\n\r\n",
        b"Event: Newchannel\r\nChannel: PJSIP/x\r\n" + b"\xff" * 10 + b" no colon\r\n\r\n",
        b"Event: Hangup\r\nCause: 1",  # truncated: the connection ends mid-frame
    ],
)
async def test_garbage_recycles_the_connection(garbage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    good = b"Event: Hangup\r\nUniqueid: 1.1\r\nCause: 16\r\n\r\n"
    async with fake_ami(lambda n: garbage if n == 1 else good) as (port, count):
        c = client(port)
        runner = asyncio.create_task(c.run())
        try:
            items = await drain_until(c, lambda i: isinstance(i, Frame) and i.name == "Hangup")
        finally:
            await c.close()
            runner.cancel()
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["LinkUp", "LinkDown", "LinkUp", "Frame"], kinds
    assert isinstance(items[2], LinkUp) and items[2].connection == 2
    assert count[0] == 2


async def test_garbage_is_logged_clearly(caplog: pytest.LogCaptureFixture) -> None:
    async with fake_ami(lambda n: b"not ami\r\n\r\n" if n == 1 else b"") as (port, _):
        c = client(port)
        runner = asyncio.create_task(c.run())
        with caplog.at_level(logging.ERROR, logger="ami_bridge.client"):
            await drain_until(c, lambda i: isinstance(i, LinkDown))
        await c.close()
        runner.cancel()
    assert any("garbage on the AMI link" in r.getMessage() and "recycling" in r.getMessage() for r in caplog.records)


async def test_pending_action_fails_instead_of_hanging() -> None:
    """The link drops while an action waits for its reply: the caller gets AmiDisconnected at once."""
    async with fake_ami(lambda n: b"") as (port, _):
        c = client(port)
        runner = asyncio.create_task(c.run())
        await asyncio.wait_for(c.connected.wait(), 5)
        waiting = asyncio.create_task(c.action("QueueStatus", timeout=30))
        await asyncio.sleep(0.1)
        c._writer.transport.abort()  # type: ignore[union-attr]  # the TCP link dies
        with pytest.raises(AmiDisconnected):
            await asyncio.wait_for(waiting, 5)
        await c.close()
        runner.cancel()


async def test_unreachable_is_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    c = AmiClient("127.0.0.1", 1, "u", "s", backoff_initial=0.05, backoff_max=0.4)
    with caplog.at_level(logging.WARNING, logger="ami_bridge.client"):
        runner = asyncio.create_task(c.run())
        await asyncio.sleep(1.2)
        await c.close()
        runner.cancel()
    lines = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(lines) >= 3
    assert all("127.0.0.1:1" in line for line in lines)
    delays = [float(line.rsplit("reconnecting in ", 1)[1].split(" s")[0]) for line in lines]
    assert delays[:4] == sorted(delays[:4]) and max(delays) <= 0.4  # grows, capped


@pytest.mark.asterisk
async def test_wrong_secret_is_fatal_and_clear(asterisk: object, settings: object) -> None:
    host, port, user, _ = realparts.ami_credentials(settings)  # type: ignore[arg-type]
    c = AmiClient(host, port, user, "wrong-secret", backoff_initial=0.05)
    with pytest.raises(AmiAuthError, match="refused AMI user 'hotline-bridge'"):
        await asyncio.wait_for(c.run(), 10)
    assert c.connections == 0


async def until_link_up(reply: LoginReply) -> tuple[list[object], int]:
    """A client against `reply` until its first LinkUp: what came out of its stream, and how many
    connections it made."""
    async with ami_server(reply) as (port, count):
        c = client(port)
        runner = asyncio.create_task(c.run())
        try:
            items = await drain_until(c, lambda i: isinstance(i, LinkUp))
        finally:
            await c.close()
            runner.cancel()
    return items, count[0]


async def test_login_refused_while_shutting_down_is_retried() -> None:
    """Asterisk answers every action, Login included, with an error while it shuts down: not fatal."""

    async def reply(n: int, action_id: str, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            writer.write(
                f"Response: Error\r\nActionID: {action_id}\r\nMessage: Asterisk is shutting down\r\n\r\n".encode()
            )
        else:
            writer.write(ok(action_id) + FULLY_BOOTED)

    items, count = await until_link_up(reply)
    assert count == 2 and isinstance(items[0], LinkUp) and items[0].connection == 1


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST, as a dying Asterisk's kernel does to a half-served login."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.parametrize("when", ["before the login reply", "while booting"])
async def test_connection_reset_during_login_is_retried(when: str, caplog: pytest.LogCaptureFixture) -> None:
    """Asterisk restarting: the old process resets the connection mid-login. The client must try again,
    not die (it once did: ConnectionResetError escaped the supervisor and the bridge stayed down)."""

    async def reply(n: int, action_id: str, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            if when == "while booting":
                writer.write(ok(action_id))
                await writer.drain()
                await asyncio.sleep(0.05)
            reset(writer)
        else:
            writer.write(ok(action_id) + FULLY_BOOTED)

    with caplog.at_level(logging.WARNING, logger="ami_bridge.client"):
        items, count = await until_link_up(reply)
    assert count == 2 and isinstance(items[0], LinkUp) and items[0].connection == 1
    assert any("dropped the connection during login" in r.getMessage() for r in caplog.records)


async def test_link_is_up_only_once_asterisk_has_booted() -> None:
    """Connected while Asterisk still loads modules: no LinkUp (and so no resync) before FullyBooted."""
    release = asyncio.Event()

    async def reply(n: int, action_id: str, writer: asyncio.StreamWriter) -> None:
        writer.write(ok(action_id) + b"Event: Reload\r\nModule: app_queue.so\r\n\r\n")
        await writer.drain()
        await release.wait()
        writer.write(FULLY_BOOTED)

    async with ami_server(reply) as (port, _):
        c = client(port)
        runner = asyncio.create_task(c.run())
        try:
            await asyncio.sleep(0.3)
            assert c.stream.empty() and not c.connected.is_set()
            release.set()
            items = await drain_until(c, lambda i: isinstance(i, Frame))
        finally:
            await c.close()
            runner.cancel()
    assert [type(i).__name__ for i in items] == ["LinkUp", "Frame"] and items[1].name == "Reload"
