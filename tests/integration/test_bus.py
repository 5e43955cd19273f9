"""The bus, in-process and over the real Redis at redis://localhost:6379."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from hotline.bus import CHANNEL_PREFIX, Bus, BusError, InProcessBus, RedisBus, make_bus

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://localhost:6379/0")


@pytest.fixture(params=["in-process", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    b: Bus = InProcessBus(queue_size=5) if request.param == "in-process" else RedisBus(REDIS_URL, queue_size=5)
    await b.ping()
    yield b
    await b.close()


async def test_delivers_only_subscribed_topics_in_order(bus: Bus) -> None:
    async with bus.subscribe("call") as calls, bus.subscribe("call", "seat") as both:
        await bus.publish("seat", {"seat": "8001", "state": "ready"})
        await bus.publish("call", {"call_id": "1", "caller": "张三"})
        await bus.publish("call", {"call_id": "2"})
        assert await calls.get(timeout=2) == ("call", {"call_id": "1", "caller": "张三"})
        assert await calls.get(timeout=2) == ("call", {"call_id": "2"})
        assert [await both.get(timeout=2) for _ in range(3)] == [
            ("seat", {"seat": "8001", "state": "ready"}),
            ("call", {"call_id": "1", "caller": "张三"}),
            ("call", {"call_id": "2"}),
        ]
        with pytest.raises(TimeoutError):
            await calls.get(timeout=0.2)


async def test_slow_subscriber_loses_oldest_and_never_blocks_publisher(bus: Bus) -> None:
    async with bus.subscribe("call") as sub:
        for i in range(8):  # queue_size is 5
            await asyncio.wait_for(bus.publish("call", {"n": i}), 1)
        await asyncio.sleep(0.2)  # let the Redis reader catch up
        got = [(await sub.get(timeout=2))[1]["n"] for _ in range(5)]
        assert got == [3, 4, 5, 6, 7]
        assert sub.dropped == 3


async def test_unsubscribed_after_exit(bus: Bus) -> None:
    async with bus.subscribe("seat") as sub:
        pass
    await bus.publish("seat", {"x": 1})
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.2)


async def test_iteration(bus: Bus) -> None:
    async with bus.subscribe("call") as sub:
        for i in range(3):
            await bus.publish("call", {"n": i})
        seen = []
        async for topic, message in sub:
            seen.append((topic, message["n"]))
            if len(seen) == 3:
                break
    assert seen == [("call", 0), ("call", 1), ("call", 2)]


async def test_redis_fans_out_between_two_processes_worth_of_clients() -> None:
    """Two buses (two web processes) on one Redis: what one publishes, the other's subscribers get."""
    a, b = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    try:
        async with b.subscribe("seat") as sub:
            await a.publish("seat", {"seat": "8002", "pause_reason": "小休"})
            assert await sub.get(timeout=2) == ("seat", {"seat": "8002", "pause_reason": "小休"})
    finally:
        await a.close()
        await b.close()


async def test_redis_skips_malformed_messages() -> None:
    bus = RedisBus(REDIS_URL)
    raw = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with bus.subscribe("call") as sub:
            await raw.publish(CHANNEL_PREFIX + "call", b"{not json")
            await raw.publish(CHANNEL_PREFIX + "call", b"[1, 2]")
            await bus.publish("call", {"ok": True})
            assert await sub.get(timeout=2) == ("call", {"ok": True})
    finally:
        await raw.aclose()
        await bus.close()


async def test_publishing_never_waits_for_redis() -> None:
    """A Redis that is away never stalls a publisher (the AMI reader): messages wait in a bounded outbox."""
    bus = RedisBus("redis://127.0.0.1:1/0", outbox_size=3)
    try:
        for i in range(5):
            await asyncio.wait_for(bus.publish("call", {"n": i}), 0.1)
        assert bus.dropped == 2
        with pytest.raises(TimeoutError):
            await bus.flush(0.3)
    finally:
        await asyncio.wait_for(bus.close(), 5)


async def test_publishes_keep_their_order_in_a_burst() -> None:
    bus = RedisBus(REDIS_URL)
    try:
        async with bus.subscribe("call") as sub:
            for i in range(300):
                await bus.publish("call", {"n": i})
            await bus.flush()
            assert [(await sub.get(timeout=2))[1]["n"] for _ in range(300)] == list(range(300))
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
