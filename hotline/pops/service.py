"""PopService: call snapshots from the bus (TOPIC_CALL) -> screen pops on the bus (TOPIC_POP), per seat.

    pops = PopService(bus, history, make_current_pops(bus))
    await pops.start()        # subscribes; from now on every ring at a seat pops there
    await pops.close()

When a call rings at a seat (or is found talking there), the caller's history is fetched, a pop is
built (model.open_pop) and published with the seat in it; answer and hang-up publish the changed pop.
Each change is stored as the seat's current pop (current.py) before it is published, so a page that
connects later gets it. Run one PopService per bridge: with Redis, every web process serves the pops
it publishes.

The history lookup starts as soon as the call is seen with a caller number (IVR, queue), so by the
time a seat rings it is usually done; a lookup that fails or takes longer than `history_timeout` after
the ring lets the pop go without history (`history_error` says why). Work for one call runs in
order (one task chained after the other); calls run side by side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ami_bridge.constants import CallState
from ami_bridge.snapshots import CallSnapshot
from hotline.topics import TOPIC_CALL, TOPIC_POP, CallChange

from .. import tasks as owned
from ..bus import Bus, BusError, InProcessBus, RedisBus, Subscription, TeeBus
from ..settings import default
from .current import CurrentPops, make_current_pops
from .history import History, Ticket
from .model import EndReason, Pop, PopState, open_pop, step

log = logging.getLogger(__name__)

CLEARED_TTL_S = 60.0  # a cleared seat keeps its seq this long, so a late older save cannot bring a pop back
MAX_CALLS = 5000  # calls followed at once; beyond that the oldest are forgotten (a bridge that lost ends)


@dataclass
class PopStats:
    published: int = 0
    opened: int = 0
    history_errors: int = 0
    delay_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # AgentCalled -> published
    lookup_wait_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # of that, waiting history
    lookup_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # each lookup, start to end


@dataclass
class _Lookup:
    task: asyncio.Task[tuple[list[Ticket], Ticket | None]]
    started: float  # perf_counter


class PopService:
    def __init__(
        self,
        bus: Bus,
        history: History,
        pops: CurrentPops,
        *,
        history_limit: int = 20,
        history_timeout: float = default("pop_history_timeout"),
        keep_s: float = default("pop_keep_s"),
        live_ttl_s: float = 4 * 3600.0,
        prefetch: bool = True,
        source: Bus | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus, self.history, self.pops = bus, history, pops
        self.source = source or bus  # where the call snapshots come from (see beside_bridge)
        self.history_limit, self.history_timeout = history_limit, history_timeout
        self.keep_s = keep_s  # how long an answered call's ended pop stays current (the seat writes the ticket)
        self.live_ttl_s = live_ttl_s  # a ringing or answered pop's current entry expires after this without change
        self.prefetch = prefetch
        self.clock = clock
        self.stats = PopStats()
        self._sub: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}  # call id -> its latest piece of work
        self._latest: dict[str, CallSnapshot] = {}  # call id -> its newest snapshot seen
        self._by_call: dict[str, Pop] = {}  # call id -> its latest pop
        self._lookups: dict[str, _Lookup] = {}  # call id -> its history lookup
        self._seq = 0

    async def start(self) -> None:
        self._sub = self.source.subscribe(TOPIC_CALL)
        await self._sub.__aenter__()
        self._listener = asyncio.create_task(self._listen(self._sub), name="pops-listen")

    async def close(self) -> None:
        await owned.stop([self._listener, *self._tasks])
        self._listener, self._tasks = None, set()
        self._chains.clear()
        self._lookups.clear()
        if self._sub is not None:
            await self._sub.__aexit__(None, None, None)
            self._sub = None

    def pop_of(self, call_id: str) -> Pop | None:
        return self._by_call.get(call_id)

    async def _listen(self, sub: Subscription) -> None:
        dropped = 0
        async for _, message in sub:
            self.apply(message)
            if sub.dropped != dropped:
                log.warning("pops: %d call snapshots dropped (slow consumer); pops may lag", sub.dropped - dropped)
                dropped = sub.dropped

    def apply(self, message: CallChange) -> None:
        """One TOPIC_CALL message: queue its work behind the call's earlier work."""
        call, received = message.call, message.received
        self._latest[call.call_id] = call
        if self.prefetch and call.caller_number and call.state is not CallState.ENDED:
            self._lookup_for(call)
        prev = self._chains.get(call.call_id)
        task = self._spawn(self._run(prev, call, received), call.call_id)
        self._chains[call.call_id] = task
        if len(self._latest) > MAX_CALLS:
            self._forget(next(iter(self._latest)))

    def _spawn(self, coro: Any, call_id: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"pop {call_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, call_id))
        return task

    def _done(self, task: asyncio.Task[Any], call_id: str) -> None:
        self._tasks.discard(task)
        if self._chains.get(call_id) is task:
            del self._chains[call_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: pop work failed", call_id, exc_info=task.exception())

    async def _run(self, prev: asyncio.Task[None] | None, call: CallSnapshot, received: float | None) -> None:
        if prev is not None:
            await asyncio.wait([prev])  # in order; prev's own errors are logged by _done
        s = step(self._by_call.get(call.call_id), call, self.clock())
        if s.update is not None:
            await self._emit(s.update)
        if s.open_seat is not None:
            await self._open(call, s.open_seat, received)
        if call.state is CallState.ENDED:
            self._forget(call.call_id)

    async def _open(self, call: CallSnapshot, seat: str, received: float | None) -> None:
        waited_from = time.perf_counter()
        tickets, last, error = await self._history_of(call)
        latest = self._latest.get(call.call_id, call)
        if latest.seat != seat or latest.state not in (CallState.RINGING, CallState.TALKING):
            log.info("call %s: seat %s: moved on while its history was read; no pop", call.call_id, seat)
            return
        pop = open_pop(call, seat, tickets, last, history_error=error, received=received)
        self.stats.opened += 1
        if error is not None:
            self.stats.history_errors += 1
        await self._emit(pop, lookup_wait_ms=(time.perf_counter() - waited_from) * 1000)

    async def _history_of(self, call: CallSnapshot) -> tuple[list[Ticket], Ticket | None, str | None]:
        if not call.caller_number:
            return [], None, None
        lookup = self._lookup_for(call)
        try:
            async with asyncio.timeout(self.history_timeout):
                tickets, last = await asyncio.shield(lookup.task)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not lookup.task.cancelled() or (task is not None and task.cancelling()):
                raise  # we are being cancelled (close)
            return [], None, "history lookup cancelled"  # the call was forgotten meanwhile
        except TimeoutError:
            log.warning("call %s: the caller's history took over %.1f s; pop sent without it", call.call_id,
                        self.history_timeout)  # fmt: skip
            return [], None, f"history not ready after {self.history_timeout:g} s"
        except Exception as exc:
            self._lookups.pop(call.call_id, None)  # a later ring tries again
            log.error("call %s: could not read the caller's history: %s; pop sent without it", call.call_id, exc)
            return [], None, f"history unavailable: {exc}"
        return tickets, last, None

    def _lookup_for(self, call: CallSnapshot) -> _Lookup:
        lookup = self._lookups.get(call.call_id)
        if lookup is None:
            assert call.caller_number
            task = asyncio.create_task(self._fetch(call.caller_number), name=f"pop-history {call.call_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no "never retrieved"
            lookup = self._lookups[call.call_id] = _Lookup(task, time.perf_counter())
        return lookup

    async def _fetch(self, phone: str) -> tuple[list[Ticket], Ticket | None]:
        started = time.perf_counter()
        tickets, last = await asyncio.gather(self.history.history(phone, self.history_limit),
                                             self.history.last_callback(phone))  # fmt: skip
        self.stats.lookup_ms.append((time.perf_counter() - started) * 1000)
        return tickets, last

    async def _emit(self, pop: Pop, *, lookup_wait_ms: float | None = None) -> None:
        """Remember the pop, store it as the seat's current one, then publish it."""
        self._by_call[pop.call_id] = pop
        data = pop.to_json()
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        if pop.state is not PopState.ENDED:
            current, ttl = data, self.live_ttl_s
        elif pop.end_reason is EndReason.HUNG_UP:
            current, ttl = data, self.keep_s  # the seat may still be writing the ticket
        else:
            current, ttl = None, CLEARED_TTL_S  # missed or abandoned while ringing: nothing left to show
        try:
            await self.pops.save(pop.seat, self._seq, current, ttl)
        except BusError as exc:
            log.error("call %s: seat %s: %s (a page reloaded now will not get this pop)", pop.call_id, pop.seat, exc)
        try:
            await self.bus.publish(TOPIC_POP, data)
        except BusError as exc:
            log.error("call %s: seat %s: could not publish the pop: %s", pop.call_id, pop.seat, exc)
            return
        self.stats.published += 1
        self._log(pop, lookup_wait_ms)

    def _log(self, pop: Pop, lookup_wait_ms: float | None) -> None:
        if lookup_wait_ms is None or pop.received is None or pop.state is not PopState.RINGING:
            reason = f" ({pop.end_reason.value})" if pop.end_reason else ""
            log.info("call %s: seat %s: pop %s%s, rev %d", pop.call_id, pop.seat, pop.state.value, reason, pop.rev)
            return
        delay = (time.time() - pop.received) * 1000
        self.stats.delay_ms.append(delay)
        self.stats.lookup_wait_ms.append(lookup_wait_ms)
        log.info(
            "call %s: seat %s: pop %s for %s published %.1f ms after AgentCalled (%.1f ms waiting for history; "
            "%d tickets, %d open)",
            pop.call_id, pop.seat, pop.state.value, pop.caller_number, delay, lookup_wait_ms, len(pop.history),
            pop.open_tickets,
        )  # fmt: skip

    def _forget(self, call_id: str) -> None:
        self._latest.pop(call_id, None)
        self._by_call.pop(call_id, None)
        lookup = self._lookups.pop(call_id, None)
        if lookup is not None and not lookup.task.done():
            lookup.task.cancel()


def beside_bridge(bus: Bus, history: History, **options: Any) -> tuple[Bus, CurrentPops, PopService]:
    """PopService for the process that runs the bridge: (the bus the bridge must publish on, the current
    pops for the web routes, the service). With Redis the bridge publishes through a TeeBus, so the pops
    follow its call snapshots in this process and a pop costs no Redis round trip before it is built."""
    current = make_current_pops(bus)
    if not isinstance(bus, RedisBus):
        return bus, current, PopService(bus, history, current, **options)
    local = InProcessBus()
    return TeeBus(bus, local), current, PopService(bus, history, current, source=local, **options)
