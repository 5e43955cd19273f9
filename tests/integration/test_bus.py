"""The bus, in-process and over the real Redis at redis://localhost:6379: typed topics, in order, bounded."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from ami_bridge.constants import CallState, SeatState
from ami_bridge.snapshots import CallSnapshot, SeatSnapshot
from ami_bridge.topics import TOPIC_CALL, TOPIC_SEAT, CallChange, Topic
from hotline.bus import Bus, BusError, InProcessBus, RedisBus, make_bus
from hotline.topics import TOPIC_POP
from tests.helpers import realparts

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://localhost:6379/0")
PREFIX = f"hotline-test-{realparts.WORKER or 'main'}:"  # Redis channels are the server's: one set per test worker
T0 = datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tick:
    n: int


TICKS: Topic[Tick] = Topic("test-tick", Tick)


def call(call_id: str, caller: str | None = None) -> CallChange:
    return CallChange(CallSnapshot(call_id, CallState.QUEUED, caller, None, "12345", T0, queue="hotline"), 1.5)


def seat(number: str, state: SeatState = SeatState.READY, reason: str | None = None) -> SeatSnapshot:
    return SeatSnapshot(number, state, f"PJSIP/{number}", reason, None, T0)


@pytest.fixture(params=["in-process", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    b: Bus = (
        InProcessBus(queue_size=5)
        if request.param == "in-process"
        else RedisBus(REDIS_URL, queue_size=5, prefix=PREFIX)
    )
    await b.ping()
    yield b
    await b.close()


async def test_delivers_only_subscribed_topics_in_order_as_their_types(bus: Bus) -> None:
    async with bus.subscribe(TOPIC_CALL) as calls, bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as both:
        await bus.publish(TOPIC_SEAT, seat("8001"))
        await bus.publish(TOPIC_CALL, call("1", "张三"))
        await bus.publish(TOPIC_CALL, call("2"))
        assert await calls.get(timeout=2) == (TOPIC_CALL, call("1", "张三"))
        assert await calls.get(timeout=2) == (TOPIC_CALL, call("2"))
        got = [await both.get(timeout=2) for _ in range(3)]
        assert got == [(TOPIC_SEAT, seat("8001")), (TOPIC_CALL, call("1", "张三")), (TOPIC_CALL, call("2"))]
        assert got[0][1].state is SeatState.READY and got[1][1].call.started_at == T0  # enums, times with µs
        with pytest.raises(TimeoutError):
            await calls.get(timeout=0.2)


async def test_in_process_hands_over_the_value_itself() -> None:
    bus = InProcessBus()
    async with bus.subscribe(TOPIC_CALL) as sub:
        sent = call("1")
        await bus.publish(TOPIC_CALL, sent)
        assert (await sub.get(timeout=1))[1] is sent


async def test_a_document_topic_carries_json_objects(bus: Bus) -> None:
    async with bus.subscribe(TOPIC_POP) as sub:
        await bus.publish(TOPIC_POP, {"seat": "8001", "state": "ringing", "history": [{"unit": "市住建局"}]})
        assert await sub.get(timeout=2) == (TOPIC_POP, {"seat": "8001", "state": "ringing",
                                                        "history": [{"unit": "市住建局"}]})  # fmt: skip


async def test_slow_subscriber_loses_oldest_and_never_blocks_publisher(bus: Bus) -> None:
    async with bus.subscribe(TICKS) as sub:
        for i in range(8):  # queue_size is 5
            await asyncio.wait_for(bus.publish(TICKS, Tick(i)), 1)
        await asyncio.sleep(0.2)  # let the Redis reader catch up
        got = [(await sub.get(timeout=2))[1].n for _ in range(5)]
        assert got == [3, 4, 5, 6, 7]
        assert sub.dropped == 3


async def test_unsubscribed_after_exit(bus: Bus) -> None:
    async with bus.subscribe(TOPIC_SEAT) as sub:
        pass
    await bus.publish(TOPIC_SEAT, seat("8001"))
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.2)


async def test_iteration(bus: Bus) -> None:
    async with bus.subscribe(TICKS) as sub:
        for i in range(3):
            await bus.publish(TICKS, Tick(i))
        seen = []
        async for topic, message in sub:
            seen.append((topic.name, message.n))
            if len(seen) == 3:
                break
    assert seen == [("test-tick", 0), ("test-tick", 1), ("test-tick", 2)]


async def test_redis_fans_out_between_two_processes_worth_of_clients() -> None:
    """Two buses (two web processes) on one Redis: what one publishes, the other's subscribers get."""
    a, b = RedisBus(REDIS_URL, prefix=PREFIX), RedisBus(REDIS_URL, prefix=PREFIX)
    try:
        async with b.subscribe(TOPIC_SEAT) as sub:
            sent = seat("8002", SeatState.PAUSED, "小休")
            await a.publish(TOPIC_SEAT, sent)
            topic, got = await sub.get(timeout=2)
            assert topic == TOPIC_SEAT and isinstance(got, SeatSnapshot) and got == sent and got is not sent
    finally:
        await a.close()
        await b.close()


async def test_redis_skips_what_is_not_the_topics_type() -> None:
    """Not JSON, JSON of another shape, a snapshot with a state this version does not know: skipped, logged."""
    bus = RedisBus(REDIS_URL, prefix=PREFIX)
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with bus.subscribe(TOPIC_SEAT) as sub:
            await raw.publish(PREFIX + "seat", b"{not json")
            await raw.publish(PREFIX + "seat", b"[1, 2]")
            await raw.publish(PREFIX + "seat", b'{"seat": "8001", "state": "dancing"}')
            await bus.publish(TOPIC_SEAT, seat("8003"))
            assert await sub.get(timeout=2) == (TOPIC_SEAT, seat("8003"))
    finally:
        await raw.aclose()
        await bus.close()


async def test_publishing_never_waits_for_redis() -> None:
    """A Redis that is away never stalls a publisher (the AMI reader): messages wait in a bounded outbox."""
    bus = RedisBus("redis://127.0.0.1:1/0", outbox_size=3)
    try:
        for i in range(5):
            await asyncio.wait_for(bus.publish(TICKS, Tick(i)), 0.1)
        assert bus.dropped == 2
        with pytest.raises(TimeoutError):
            await bus.flush(0.3)
    finally:
        await asyncio.wait_for(bus.close(), 5)


async def test_publishes_keep_their_order_in_a_burst() -> None:
    bus = RedisBus(REDIS_URL, prefix=PREFIX)
    try:
        async with bus.subscribe(TICKS) as sub:
            for i in range(300):
                await bus.publish(TICKS, Tick(i))
            await bus.flush()
            assert [(await sub.get(timeout=2))[1].n for _ in range(300)] == list(range(300))
    finally:
        await bus.close()


async def test_unreachable_redis_says_where_and_what_to_do() -> None:
    bus = make_bus("redis://:s3cret@127.0.0.1:1/0")
    try:
        with pytest.raises(BusError) as err:
            await bus.ping()
    finally:
        await bus.close()
    message = str(err.value)
    assert "127.0.0.1:1" in message and "s3cret" not in message and "REDIS_URL" in message


def test_make_bus_refuses_other_schemes() -> None:
    assert isinstance(make_bus(""), InProcessBus)
    with pytest.raises(BusError, match="must start with redis://"):
        make_bus("http://localhost:6379")
