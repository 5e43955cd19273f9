"""One supervised AMI connection: connect, log in, keep alive, reconnect with backoff.

Why not panoramisk's Manager (1.4, the last release): it retries every 2 s without backoff, hides a
failed login, never times out an action, leaves half-answered actions hanging forever on disconnect,
re-sends unanswered ones (an Originate can run twice), never checks Ping replies, and drops UTF-8
characters split across reads. This client keeps the same shape (actions in, events out) with
those cases handled; see README "AMI link".

Everything Asterisk sends comes out of `stream` in order, as `Frame`s, with `LinkUp`/`LinkDown`
markers between connections. One consumer task reads it, so events are applied in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .protocol import AmiParser, FieldValue, Frame, FrameKind, encode_action

log = logging.getLogger(__name__)
QUICK_RETRY_S = 0.1  # after a link that was up drops: a try every 0.1 s (a refused connect on loopback is cheap) …
QUICK_RETRY_FOR_S = 3.0  # … for this long (an Asterisk restart takes about a second), then the backoff


class AmiError(RuntimeError):
    """Base of the AMI link's errors."""


class AmiUnreachable(AmiError):
    """No TCP connection to Asterisk's AMI (retried with backoff)."""


class AmiAuthError(AmiError):
    """Asterisk refused the AMI user or secret: fatal, not retried."""


class AmiActionError(AmiError):
    """Asterisk answered an action with Response: Error."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI action {action} failed: {message}")
        self.action = action
        self.message = message


class AmiTimeout(AmiError):
    """No (complete) reply to an action in time."""


class AmiDisconnected(AmiError):
    """The link dropped while an action waited for its reply. The action may or may not have run."""


@dataclass(frozen=True, slots=True)
class LinkUp:
    version: str
    connection: int  # 1 for the first connection, then 2, 3... after reconnects
    uptime_s: int | None = None  # how long Asterisk has run (FullyBooted's Uptime): a restart shows as a short one


@dataclass(frozen=True, slots=True)
class LinkDown:
    reason: str


StreamItem = Frame | LinkUp | LinkDown


@dataclass
class _Pending:
    action: str
    as_list: bool
    future: asyncio.Future[list[Frame]]
    frames: list[Frame] = field(default_factory=list)


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        ping_interval: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        boot_timeout: float = 60.0,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.boot_timeout = boot_timeout
        self.ping_interval = ping_interval
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.stream: asyncio.Queue[StreamItem] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.connections = 0
        self.down_reason: str | None = "not connected yet"  # why the link is down (None while it is up)
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ supervisor
    async def run(self) -> None:
        """Stay connected until close(). Raises AmiAuthError (fatal) on a refused login."""
        delay = self.backoff_initial
        quick_until = 0.0  # after a drop, retry every QUICK_RETRY_S until then: Asterisk restarts in about a second
        while not self._closing:
            began = time.monotonic()
            try:
                reason = await self._session()
                delay = self.backoff_initial  # it was up: retry soon
                if time.monotonic() - began > QUICK_RETRY_FOR_S:  # not one that drops right after each login
                    quick_until = time.monotonic() + QUICK_RETRY_FOR_S
            except AmiUnreachable as exc:
                reason = str(exc)
            except AmiAuthError as exc:
                self.down_reason = str(exc)
                raise
            except Exception as exc:  # never die silently: a dead supervisor is a bridge that never reconnects
                log.exception("AMI link to %s: unexpected error in the connection", self.address)
                reason = f"unexpected {type(exc).__name__}: {exc}"
            if self._closing:
                break
            if time.monotonic() < quick_until:  # one line for the quick tries, not one each
                if self.down_reason is None:
                    log.warning("AMI link to %s down (%s); reconnecting", self.address, reason)
                self.down_reason = reason
                await asyncio.sleep(QUICK_RETRY_S)
                continue
            self.down_reason = reason
            log.warning("AMI link to %s down (%s); reconnecting in %.1f s", self.address, reason, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max)

    async def _session(self) -> str:
        reader, writer = await self._open()
        self._writer = writer
        parser = AmiParser()
        tasks: list[asyncio.Task[None]] = []
        try:
            try:
                version, early = await self._login(reader, parser)
                early, booted = await self._await_boot(reader, parser, early)
            except OSError as exc:  # e.g. reset by an Asterisk that is shutting down: try again later
                raise AmiUnreachable(f"AMI at {self.address} dropped the connection during login: {exc!r}") from None
            self.connections += 1
            log.info(
                "AMI connected to %s (Asterisk Call Manager %s), link #%d", self.address, version, self.connections
            )
            self.down_reason = None
            self.connected.set()
            uptime = booted.get("Uptime", "")
            await self.stream.put(LinkUp(version, self.connections, int(uptime) if uptime.isdigit() else None))
            for frame in early:  # events that came in the same read as the login reply
                self._route(frame)
            tasks = [
                asyncio.create_task(self._read(reader, parser), name="ami-reader"),
                asyncio.create_task(self._keepalive(), name="ami-keepalive"),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return str(next(iter(done)).exception() or "closed by Asterisk")
        finally:
            self.connected.clear()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            writer.close()
            self._writer = None
            self._fail_pending("AMI link lost")
            if self.connections:
                await self.stream.put(LinkDown("link lost"))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise AmiUnreachable(
                f"cannot reach Asterisk AMI at {self.address}: {exc or 'timed out'} "
                f"(is Asterisk running? `hotline asterisk status`)"
            ) from None

    async def _login(self, reader: asyncio.StreamReader, parser: AmiParser) -> tuple[str, list[Frame]]:
        """Read the banner and log in before anything else flows; return the version and any later frames."""
        action_id = f"login-{next(self._ids)}"
        assert self._writer is not None
        self._writer.write(encode_action("Login", action_id, {"Username": self.username, "Secret": self._secret}))
        deadline = asyncio.get_running_loop().time() + self.connect_timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(remaining, 0.01)):
                    data = await reader.read(65536)
            except TimeoutError:
                raise AmiUnreachable(f"AMI at {self.address} did not answer the login in time") from None
            if not data:
                raise AmiUnreachable(f"AMI at {self.address} closed the connection during login")
            frames = parser.feed(data)
            for index, frame in enumerate(frames):
                if frame.kind is FrameKind.RESPONSE and frame.action_id == action_id:
                    if frame.name == "Success":
                        return parser.version or "?", frames[index + 1 :]
                    if "authentication" not in frame.get("Message").lower():
                        # e.g. "Asterisk is shutting down": not about our secret, so try again later
                        raise AmiUnreachable(f"Asterisk at {self.address} refused the login: {frame.get('Message')}")
                    raise AmiAuthError(
                        f"Asterisk at {self.address} refused AMI user {self.username!r}: {frame.get('Message')}. "
                        "Check HOTLINE_AMI_SECRET / the secret file against manager_secret.conf "
                        "(`hotline asterisk up` writes it from the same source)."
                    )
            if parser.error is not None:
                raise AmiUnreachable(f"{self.address} is not an AMI server: {parser.error}")

    async def _await_boot(
        self, reader: asyncio.StreamReader, parser: AmiParser, frames: list[Frame]
    ) -> tuple[list[Frame], Frame]:
        """Wait for FullyBooted, which Asterisk sends each session once its modules are loaded: before
        that, QueueStatus and friends are unknown commands. Returns the other frames seen meanwhile, and it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.boot_timeout
        seen: list[Frame] = []
        waiting_logged = False
        while True:
            for index, frame in enumerate(frames):
                if frame.kind is FrameKind.EVENT and frame.name == "FullyBooted":
                    return seen + frames[:index] + frames[index + 1 :], frame
            seen += frames
            if parser.error is not None:
                raise AmiUnreachable(f"{self.address} sent garbage while booting: {parser.error}")
            if not waiting_logged:
                log.info("AMI at %s: logged in, waiting for Asterisk to finish booting", self.address)
                waiting_logged = True
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.01)):
                    data = await reader.read(65536)
            except TimeoutError:
                raise AmiUnreachable(f"Asterisk at {self.address} did not finish booting within "
                                     f"{self.boot_timeout:.0f} s") from None  # fmt: skip
            if not data:
                raise AmiUnreachable(f"AMI at {self.address} closed the connection while Asterisk was booting")
            frames = parser.feed(data)

    async def _read(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        while parser.error is None:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("Asterisk closed the AMI connection")
            for frame in parser.feed(data):
                self._route(frame)
        log.error("garbage on the AMI link from %s: %s; recycling the connection", self.address, parser.error)
        raise parser.error

    def _route(self, frame: Frame) -> None:
        pending = self._pending.get(frame.action_id) if frame.action_id else None
        if pending is None:
            if frame.kind is FrameKind.EVENT:
                self.stream.put_nowait(frame)
            return
        pending.frames.append(frame)
        if frame.kind is FrameKind.RESPONSE and frame.name in ("Error", "Failure"):
            self._finish(frame.action_id, error=AmiActionError(pending.action, frame.get("Message")))
        elif not pending.as_list or frame.get("EventList").lower() == "complete":
            self._finish(frame.action_id)

    def _finish(self, action_id: str, error: Exception | None = None) -> None:
        pending = self._pending.pop(action_id)
        if pending.future.done():
            return
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(pending.frames)

    def _fail_pending(self, why: str) -> None:
        for action_id, pending in list(self._pending.items()):
            self._pending.pop(action_id)
            if not pending.future.done():
                pending.future.set_exception(AmiDisconnected(f"{why} while waiting for {pending.action}"))

    async def _keepalive(self) -> None:
        """Ping and check the reply: a half-open TCP link is noticed within two intervals."""
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action("Ping", timeout=self.ping_interval)
            except AmiTimeout:
                raise ConnectionError(f"no reply to Ping within {self.ping_interval:.0f} s") from None

    # ------------------------------------------------------------------ actions
    async def action(
        self, action: str, fields: Mapping[str, FieldValue] | None = None, *, timeout: float | None = None
    ) -> Frame:
        """Send an action and return its response frame; raises AmiActionError on Response: Error."""
        frames = await self._send(action, fields, as_list=False, timeout=timeout)
        return frames[0]

    async def action_list(
        self, action: str, fields: Mapping[str, FieldValue] | None = None, *, timeout: float | None = None
    ) -> list[Frame]:
        """Send a list action (CoreShowChannels, QueueStatus...) and return the events of the list."""
        frames = await self._send(action, fields, as_list=True, timeout=timeout)
        return [f for f in frames[1:] if f.get("EventList").lower() != "complete"]

    async def _send(
        self, action: str, fields: Mapping[str, FieldValue] | None, *, as_list: bool, timeout: float | None
    ) -> list[Frame]:
        if self._writer is None or not self.connected.is_set():
            raise AmiDisconnected(f"AMI link to {self.address} is down: {action} not sent")
        action_id = f"hl-{next(self._ids)}"
        payload = encode_action(action, action_id, fields)
        future: asyncio.Future[list[Frame]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(action, as_list, future)
        self._writer.write(payload)
        limit = self.action_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await asyncio.shield(future)
        except TimeoutError:
            self._pending.pop(action_id, None)
            raise AmiTimeout(f"no reply to {action} from {self.address} within {limit:.1f} s") from None

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.5):
                    await self.action("Logoff", timeout=1)
            self._writer.close()
