"""The live floor statistics: primed from the database, kept current from the bus, pushed as TOPIC_FLOOR.

    floor = FloorService(bus, store, targets, zone)
    await floor.start()        # loads the last 24 h, subscribes, starts publishing
    floor.view()               # what /api/floor and /metrics show
    await floor.close()

Changes are pushed at most every `interval` seconds (a burst of events is one push), and at least
every `refresh` seconds (the 24-hour window moves even when nothing happens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ami_bridge.snapshots import SeatSnapshot
from hotline.topics import TOPIC_CALL, TOPIC_FLOOR, TOPIC_MISS, TOPIC_SEAT, CallChange, MissChange

from .. import tasks
from ..bus import Bus, Subscription
from ..db.store import Store
from ..survey.store import SurveyResult, SurveyStore
from ..topics import TOPIC_SURVEY
from .live import WINDOW, FloorTracker
from .stats import Targets, day_bounds

log = logging.getLogger(__name__)
IVR_MARGIN = timedelta(hours=1)  # a call may start (IVR) this long before it joins the queue


class FloorService:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        targets: Targets,
        zone: ZoneInfo,
        *,
        interval: float = 0.5,
        refresh: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.store = store
        self.tracker = FloorTracker(targets, zone)
        self.interval = interval
        self.refresh = refresh
        self.clock = clock
        self.published = 0
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: Subscription | None = None

    async def start(self) -> None:
        # subscribe first, then load: an event in between is applied twice, which is harmless
        self._sub = self.bus.subscribe(TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT, TOPIC_SURVEY)
        await self._sub.__aenter__()
        now = self.clock()
        since = min(now - WINDOW, day_bounds(now.astimezone(self.tracker.zone).date(), self.tracker.zone)[0])
        for call in await self.store.calls_between(since - IVR_MARGIN, now):  # counted when queued, stored by start
            self.tracker.on_call(call)
        for miss in await self.store.misses_between(since, now):
            self.tracker.on_miss(miss)
        for result in await SurveyStore(self.store.engine).between(since, now + timedelta(seconds=1)):
            self.tracker.surveys.on_result(result)
        for seat in await self.store.seats():
            self.tracker.on_seat(seat)
        self.tracker.prune(now)
        self._tasks = [
            asyncio.create_task(self._listen(self._sub), name="floor-listen"),
            asyncio.create_task(self._publish_loop(), name="floor-publish"),
        ]
        self._changed.set()

    async def close(self) -> None:
        await tasks.stop(self._tasks)
        self._tasks = []
        if self._sub is not None:
            await self._sub.__aexit__(None, None, None)
            self._sub = None

    def view(self) -> dict[str, Any]:
        return self.tracker.view(self.clock())

    def apply(self, message: CallChange | MissChange | SeatSnapshot | SurveyResult) -> None:
        """One bus message (of the topics it subscribed to) into the tracker."""
        if isinstance(message, CallChange):
            self.tracker.on_call(message.call)
        elif isinstance(message, MissChange):
            self.tracker.on_miss(message.miss)
        elif isinstance(message, SeatSnapshot):
            self.tracker.on_seat(message)
        else:
            self.tracker.surveys.on_result(message)
        self._changed.set()

    async def _listen(self, sub: Subscription) -> None:
        dropped = 0
        async for _topic, message in sub:
            self.apply(message)
            if sub.dropped != dropped:
                log.warning("floor: %d bus messages dropped (slow consumer); figures may lag", sub.dropped - dropped)
                dropped = sub.dropped

    async def _publish_loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as the event is
            # set, and close() then waits for ever (seen in the suite)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.refresh):
                    await self._changed.wait()
            self._changed.clear()
            now = self.clock()
            self.tracker.prune(now)
            try:
                await self.bus.publish(TOPIC_FLOOR, self.tracker.view(now))
                self.published += 1
            except Exception:
                log.exception("floor: could not publish the figures; next try in %.1f s", self.interval)
            await asyncio.sleep(self.interval)
