"""FastAGI, the small part of it the IVR uses: one session per AGI() call from the dialplan.

    session = await AgiSession.open(reader, writer)      # reads the agi_* headers
    digit = await session.stream_file("/…/welcome", escape="12")

Our own (≈150 lines), not panoramisk's FastAGI: panoramisk 1.4 (its last release) runs sync routes with
`asyncio.coroutine` (gone in 3.11), spins when a peer closes before the headers (a TCP health check),
and has no timeouts (see ../shared/notes). The parsing is pure (`parse_reply`, `parse_headers`); the
session adds a timeout to every command and turns a hung-up channel into `AgiHangup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

REPLY_RE = re.compile(r"^(?P<code>\d{3})(?:[ -](?P<rest>.*))?$")
RESULT_RE = re.compile(r"result=(?P<result>-?[^ ]*)(?: \((?P<data>.*)\))?")
MAX_HEADERS = 100


class AgiError(RuntimeError):
    """Asterisk refused a command or the link broke; the message names the command."""


class AgiHangup(AgiError):
    """The caller hung up (result -1, or 511 on a dead channel)."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    result: str  # "0", "-1", digits...
    data: str | None  # the part in parentheses: "timeout", a variable's value


def parse_reply(line: str) -> Reply:
    """One AGI reply line ("200 result=49", "200 result=1 (value)", "511 Command Not Permitted ...")."""
    m = REPLY_RE.match(line.strip())
    if m is None:
        raise AgiError(f"not an AGI reply: {line!r}")
    rest = m.group("rest") or ""
    r = RESULT_RE.search(rest)
    if r is None:
        return Reply(int(m.group("code")), "", rest or None)
    return Reply(int(m.group("code")), r.group("result"), r.group("data"))


def parse_headers(lines: list[str]) -> dict[str, str]:
    """The `agi_name: value` lines Asterisk sends first, without the prefix."""
    headers = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.startswith("agi_"):
            headers[key[4:].strip()] = value.strip()
    return headers


def quote(value: str) -> str:
    """An AGI argument: quoted, with quotes and backslashes escaped, no newlines."""
    clean = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    return f'"{clean}"'


class AgiSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> None:
        self.reader, self.writer, self.headers = reader, writer, headers
        self.timeout = 120.0  # a command's reply: GET DATA and playbacks take their time

    @classmethod
    async def open(
        cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float = 5.0
    ) -> AgiSession:
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while len(lines) < MAX_HEADERS:
                raw = await reader.readline()
                if not raw:  # closed before the headers ended: a health check, or Asterisk gave up
                    raise AgiError("the peer closed before sending the AGI headers")
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line:
                    break
                lines.append(line)
        return cls(reader, writer, parse_headers(lines))

    @property
    def route(self) -> str:
        """The path of agi://host:port/<route>, without query."""
        request = self.headers.get("request", "")
        path = request.split("://", 1)[-1].partition("/")[2]
        return path.partition("?")[0].strip("/")

    async def command(self, text: str) -> Reply:
        self.writer.write(text.encode() + b"\n")
        async with asyncio.timeout(self.timeout):
            await self.writer.drain()
            raw = await self.reader.readline()
            if not raw:
                raise AgiHangup(f"{text.split()[0]}: Asterisk closed the AGI link (caller hung up)")
            reply = parse_reply(raw.decode("utf-8", errors="replace"))
            while raw and reply.code == 520 and raw.startswith(b"520-"):  # multi-line usage text
                raw = await self.reader.readline()
                if raw.startswith(b"520 "):
                    break
        if reply.code == 511:
            raise AgiHangup(f"{text.split()[0]}: the channel is gone (caller hung up)")
        if reply.code != 200:
            raise AgiError(f"AGI command {text!r} refused: {reply.code} {reply.data or reply.result}")
        return reply

    async def stream_file(self, path: str, escape: str = "") -> str:
        """Play a file (no extension); returns the key pressed during it, or ""."""
        reply = await self.command(f"STREAM FILE {path} {quote(escape)}")
        if reply.result == "-1":  # a missing file also says -1: only a gone channel stops the flow
            await self.check_alive()
            return ""
        return self._digit(reply, "STREAM FILE")

    async def check_alive(self) -> None:
        """Raise AgiHangup unless the caller's channel is still up."""
        reply = await self.command("CHANNEL STATUS")
        if reply.result == "-1":
            raise AgiHangup("CHANNEL STATUS: caller hung up")

    async def wait_for_digit(self, timeout_ms: int) -> str:
        return self._digit(await self.command(f"WAIT FOR DIGIT {timeout_ms}"), "WAIT FOR DIGIT")

    async def get_data(self, path: str, timeout_ms: int, max_digits: int) -> str:
        """Play a file and collect up to max_digits keys (# ends early); "" when none came in time."""
        reply = await self.command(f"GET DATA {path} {timeout_ms} {max_digits}")
        if reply.result == "-1":
            raise AgiHangup("GET DATA: caller hung up")
        return reply.result if reply.result.isdigit() or set(reply.result) <= set("0123456789*#") else ""

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, expression: str) -> str | None:
        """`${NAME}` or a function such as `${QUEUE_MEMBER(hotline,free)}`; None when unset."""
        reply = await self.command(f"GET FULL VARIABLE {quote(expression)}")
        return reply.data if reply.result == "1" else None

    async def hangup(self) -> None:
        await self.command("HANGUP")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)

    @staticmethod
    def _digit(reply: Reply, what: str) -> str:
        if reply.result == "-1":
            raise AgiHangup(f"{what}: caller hung up")
        code = int(reply.result) if reply.result.lstrip("-").isdigit() else 0
        return chr(code) if code > 0 else ""
