"""One bus subscription per web process for the seat pages, routed by seat.

Every seat page wants its own seat's changes, misses and pops. Instead of one bus subscription per
page (200 pages: every message copied 200 times, 200 Redis connections), the feed holds one
subscription to those topics while at least one page is connected, and hands each message only to
the pages of the seat it names (the message's "seat"). A page never sees another seat's messages.

    async with feed.listen("8001") as inbox:    # subscribed (bus-wise) before this returns
        async for topic, message in inbox: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from hotline.topics import TOPIC_DIALER, TOPIC_MISS, TOPIC_POP, TOPIC_SEAT, TOPIC_THREEWAY, MissChange, Topic

from .. import tasks
from ..bus import Bus, Delivery, Message, Subscription

log = logging.getLogger(__name__)

TOPICS = (TOPIC_SEAT, TOPIC_MISS, TOPIC_POP, TOPIC_THREEWAY, TOPIC_DIALER)


class Inbox:
    """One page's bounded queue: when full, the oldest message goes (counted), the router never waits."""

    def __init__(self, seat: str, maxsize: int) -> None:
        self.seat = seat
        self.dropped = 0
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize)

    def offer(self, topic: Topic[Any], message: Message) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait((topic, message))

    async def get(self) -> Delivery:
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Delivery]:
        while True:
            yield await self._queue.get()


class SeatFeed:
    def __init__(self, bus: Bus, *, inbox_size: int = 200) -> None:
        self.bus = bus
        self.inbox_size = inbox_size
        self._inboxes: dict[str, set[Inbox]] = {}
        self._sub: Subscription | None = None
        self._router: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def pages(self) -> int:
        return sum(len(s) for s in self._inboxes.values())

    @contextlib.asynccontextmanager
    async def listen(self, seat: str) -> AsyncIterator[Inbox]:
        inbox = Inbox(seat, self.inbox_size)
        async with self._lock:
            if self._sub is None:
                await self._subscribe()
            self._inboxes.setdefault(seat, set()).add(inbox)
        try:
            yield inbox
        finally:
            async with self._lock:
                pages = self._inboxes.get(seat, set())
                pages.discard(inbox)
                if not pages:
                    self._inboxes.pop(seat, None)
                if not self._inboxes:
                    await self._unsubscribe()

    async def close(self) -> None:
        async with self._lock:
            self._inboxes.clear()
            await self._unsubscribe()

    async def _subscribe(self) -> None:
        sub = self.bus.subscribe(*TOPICS)
        await sub.__aenter__()
        self._sub = sub
        self._router = asyncio.create_task(self._route(sub), name="seat-feed")

    async def _unsubscribe(self) -> None:
        router, sub = self._router, self._sub
        self._router = self._sub = None
        await tasks.stop([router])
        if sub is not None:
            await sub.__aexit__(None, None, None)

    async def _route(self, sub: Subscription) -> None:
        dropped = 0
        async for topic, message in sub:
            seat = seat_of(message)
            for inbox in self._inboxes.get(seat, ()) if seat is not None else ():
                inbox.offer(topic, message)
            if sub.dropped != dropped:
                log.warning("seat pages: %d bus messages dropped (slow consumer)", sub.dropped - dropped)
                dropped = sub.dropped


def seat_of(message: Message) -> str | None:
    """The seat a message is for: a seat's snapshot, a miss, or a document's "seat"."""
    if isinstance(message, dict):
        seat = message.get("seat")
        return seat if isinstance(seat, str) else None
    if isinstance(message, MissChange):
        return message.miss.seat
    return getattr(message, "seat", None)
