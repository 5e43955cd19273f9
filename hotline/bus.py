"""The event bus: the bridge publishes call and seat snapshots; web sockets and the demo subscribe.

Topics are typed (`Topic[T]`, hotline/topics.py): `publish(TOPIC_SEAT, seat)` takes the frozen value, and a
subscriber gets the same value (in one process, the very object). Two implementations, one protocol:

- ``InProcessBus`` for a single box (the default): bounded queues per subscriber. A subscriber
  that cannot keep up loses its *oldest* messages (counted in ``Subscription.dropped``); the
  publisher never waits, so a stuck browser can never stall the AMI reader.
- ``RedisBus`` when ``REDIS_URL`` is set: every web process sees every event. Channels are
  ``hotline:<topic>``; each message is encoded once by the publisher (msgspec JSON, UTF-8, Chinese kept
  readable) and decoded once by each subscribing process, into the topic's type. Publishing does
  not wait for Redis either: messages go, in order, through one writer task that pipelines them
  (one round trip for a burst), so a slow or lost Redis never stalls the AMI reader. While Redis
  is away they wait in a bounded outbox (oldest dropped, counted in ``dropped``) and are retried.

    async with bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
        async for topic, message in sub:   # topic: the Topic; message: a CallChange or a SeatSnapshot
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import tasks
from .errors import Unavailable
from .topics import Topic

log = logging.getLogger(__name__)

T = TypeVar("T")
Message = Any  # a message of some topic: the topic's type
Delivery = tuple[Topic[Any], Message]
CHANNEL_PREFIX = "hotline:"
DEFAULT_QUEUE_SIZE = 1000


class BusError(Unavailable, RuntimeError):
    """The bus cannot be reached or used."""

    error = "bus-unavailable"
    part = "bus"


class Subscription(Protocol):
    dropped: int

    async def __aenter__(self) -> Subscription: ...
    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None: ...
    def __aiter__(self) -> AsyncIterator[Delivery]: ...
    async def get(self, timeout: float | None = None) -> Delivery: ...


class Bus(Protocol):
    async def ping(self) -> None: ...
    def problem(self) -> str | None:
        """Why the bus cannot deliver now (None: it can), for /health."""
        ...

    async def publish(self, topic: Topic[T], message: T) -> None: ...
    def subscribe(self, *topics: Topic[Any]) -> Subscription: ...
    async def close(self) -> None: ...


class _QueueSubscription:
    """A subscriber's queue; iterating yields (topic, message) until the subscription closes."""

    def __init__(self, topics: tuple[Topic[Any], ...], maxsize: int) -> None:
        if not topics:
            raise ValueError("subscribe to at least one topic")
        self.topics = frozenset(topics)
        self.dropped = 0
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize)

    def offer(self, topic: Topic[Any], message: Message) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait((topic, message))

    async def get(self, timeout: float | None = None) -> Delivery:
        """The next message; TimeoutError after `timeout` seconds without one."""
        if timeout is None:
            return await self._queue.get()
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Delivery]:
        while True:
            yield await self._queue.get()


class InProcessBus:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subs: set[_InProcessSubscription] = set()

    async def ping(self) -> None:
        return None

    def problem(self) -> str | None:
        return None

    async def publish(self, topic: Topic[T], message: T) -> None:
        """Hands the value itself to each subscriber of the topic (frozen values: nothing is copied)."""
        for sub in list(self._subs):
            if topic in sub.topics:
                sub.offer(topic, message)

    def subscribe(self, *topics: Topic[Any]) -> _InProcessSubscription:
        return _InProcessSubscription(self, topics)

    async def close(self) -> None:
        self._subs.clear()


class _InProcessSubscription(_QueueSubscription):
    def __init__(self, bus: InProcessBus, topics: tuple[Topic[Any], ...]) -> None:
        super().__init__(topics, bus.queue_size)
        self._bus = bus

    async def __aenter__(self) -> _InProcessSubscription:
        self._bus._subs.add(self)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._bus._subs.discard(self)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBus:
    def __init__(
        self, url: str, queue_size: int = DEFAULT_QUEUE_SIZE, outbox_size: int = 10_000, *, prefix: str = CHANNEL_PREFIX
    ) -> None:
        """`prefix`: of every channel; Redis channels are shared by every client of the server (not per database
        number), so two services on one Redis (or test runs side by side) each take their own."""
        self.url, self.queue_size, self.outbox_size, self.prefix = url, queue_size, outbox_size, prefix
        self.redis = aioredis.Redis.from_url(url, socket_connect_timeout=5)
        self.dropped = 0  # messages lost because Redis was away longer than the outbox holds
        self.error: str | None = None  # why the last publish to Redis failed; None once one went through
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None

    async def ping(self) -> None:
        """Fail fast, naming the URL, when Redis is not there."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise BusError(
                f"cannot reach Redis at {_safe_url(self.url)}: {exc}. Start Redis, or unset REDIS_URL to use "
                "the in-process bus (one process only)."
            ) from exc

    def problem(self) -> str | None:
        if self.error is None:
            return None
        return f"{self.error} ({len(self._outbox)} messages waiting, at most {self.outbox_size}, then the oldest go)"

    async def publish(self, topic: Topic[T], message: T) -> None:
        """Encode the message once and queue it for the writer task; returns at once (never waits for Redis)."""
        data = _ENCODER.encode(message)
        if len(self._outbox) >= self.outbox_size:
            self._outbox.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("bus: Redis at %s is away; %d messages dropped so far", _safe_url(self.url), self.dropped)
        self._outbox.append((self.prefix + topic.name, data))
        self._idle.clear()
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="bus-writer")

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every message published so far has gone to Redis (TimeoutError after `timeout` s)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 500))]
                pipe = self.redis.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                try:
                    await pipe.execute()
                    self.error = None
                except (RedisError, OSError) as exc:
                    self.error = f"cannot publish to Redis at {_safe_url(self.url)}: {exc}"
                    log.error("bus: cannot publish to Redis at %s: %s; retrying in 1 s (%d waiting)",
                              _safe_url(self.url), exc, len(self._outbox) + len(batch))  # fmt: skip
                    self._outbox.extendleft(reversed(batch))
                    while len(self._outbox) > self.outbox_size:
                        self._outbox.popleft()
                        self.dropped += 1
                    await asyncio.sleep(1)
            self._idle.set()

    def subscribe(self, *topics: Topic[Any]) -> _RedisSubscription:
        return _RedisSubscription(self, topics)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.flush(2.0)
        await tasks.stop([self._writer])
        await self.redis.aclose()


class _RedisSubscription(_QueueSubscription):
    """Reads the Redis pubsub in a task into the local bounded queue (drop oldest when full)."""

    def __init__(self, bus: RedisBus, topics: tuple[Topic[Any], ...]) -> None:
        super().__init__(topics, bus.queue_size)
        self._bus = bus
        # channel -> (topic, its decoder): each message is decoded once, into the topic's type
        self._by_channel = {bus.prefix + t.name: (t, _decoder(t)) for t in topics}
        self._pubsub = bus.redis.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _RedisSubscription:
        channels = sorted(self._by_channel)
        try:
            await self._pubsub.subscribe(*channels)
            # Wait for the server's confirmations: only then is a message published now sure to arrive.
            confirmed = 0
            while confirmed < len(channels):
                reply = await self._pubsub.parse_response(block=True, timeout=5)
                if reply is None:
                    raise BusError(f"Redis at {_safe_url(self._bus.url)} did not confirm the subscription")
                if reply[0] in (b"subscribe", "subscribe"):
                    confirmed += 1
        except (RedisError, OSError) as exc:
            await self._pubsub.aclose()
            raise BusError(f"cannot subscribe at Redis {_safe_url(self._bus.url)}: {exc}") from exc
        self._reader = asyncio.create_task(self._read(), name=f"bus-reader {','.join(channels)}")
        return self

    async def _read(self) -> None:
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                log.error("bus: lost Redis at %s: %s; retrying in 1 s", _safe_url(self._bus.url), exc)
                await asyncio.sleep(1)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
            topic, decoder = self._by_channel[channel]
            try:
                payload = decoder.decode(msg["data"])
            except msgspec.DecodeError as exc:  # another version's publisher, or not ours
                log.warning("bus: skipped a message on %s that is not a %s: %s", channel, _name(topic), exc)
                continue
            self.offer(topic, payload)

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await tasks.stop([self._reader])
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe()
        await self._pubsub.aclose()


class TeeBus:
    """Publishes to `main` and to `local`; subscribers read `main`. The bridge publishes through one when
    the bus is Redis, so what runs beside it (PopService) can follow its snapshots in this process, without
    a Redis round trip, while every other process still gets them over Redis."""

    def __init__(self, main: Bus, local: InProcessBus) -> None:
        self.main, self.local = main, local

    async def ping(self) -> None:
        await self.main.ping()

    def problem(self) -> str | None:
        return self.main.problem()

    async def publish(self, topic: Topic[T], message: T) -> None:
        await self.local.publish(topic, message)
        await self.main.publish(topic, message)

    def subscribe(self, *topics: Topic[Any]) -> Subscription:
        return self.main.subscribe(*topics)

    async def close(self) -> None:
        await self.local.close()


_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[Topic[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(topic: Topic[Any]) -> msgspec.json.Decoder[Any]:
    """One decoder per topic (msgspec builds its type plan once)."""
    if topic not in _DECODERS:
        _DECODERS[topic] = msgspec.json.Decoder(dict[str, Any] if topic.type is dict else topic.type)
    return _DECODERS[topic]


def _name(topic: Topic[Any]) -> str:
    return getattr(topic.type, "__name__", str(topic.type))


def make_bus(redis_url: str = "") -> Bus:
    """In-process when `redis_url` is empty, else Redis."""
    if not redis_url:
        return InProcessBus()
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise BusError(f"REDIS_URL {_safe_url(redis_url)!r} must start with redis://, rediss:// or unix://")
    return RedisBus(redis_url)
