"""Speed figures for the bridge: `make bench`. Prints figures; asserts nothing.

1. The pure pipeline: AMI bytes → frames → typed events → call and seat state machines, replaying the
   transcripts recorded from the real Asterisk 22.
2. The store: saving finished calls (2 legs each), SQLite file vs the local PostgreSQL.
3. The bus: publish → subscriber latency, in-process vs the local Redis.
4. Real Asterisk 22 with sipp: event lag (Asterisk's timestamp → applied in the bridge) under a burst
   of concurrent calls, a resync with those calls up, and Asterisk restart → bridge resynced.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec

from ami_bridge import events as ev
from ami_bridge.calls import CallBook
from ami_bridge.constants import CallOutcome, CallState, LegRole
from ami_bridge.protocol import AmiParser
from ami_bridge.seats import SeatBook
from ami_bridge.snapshots import CallSnapshot, LegSnapshot
from ami_bridge.topics import TOPIC_CALL, CallChange
from hotline.bus import Bus, InProcessBus, RedisBus
from hotline.db.store import Store
from tests.helpers.transcripts import wire_bytes

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "postgresql://localhost/test")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://localhost:6379/0")
TRANSCRIPTS = ("answered_call.jsonl", "missed_call.jsonl", "abandoned_call.jsonl")


def pipeline(rounds: int = 300) -> None:
    data = [wire_bytes(name) for name in TRANSCRIPTS]
    events_total = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in data:
            calls, seats = CallBook(), SeatBook()
            for frame in AmiParser().feed(raw):
                event = ev.decode(frame)
                if event is None:
                    continue
                events_total += 1
                calls.apply(event)
                seats.apply(event)
    took = time.perf_counter() - started
    print(f"pipeline: {events_total / took:,.0f} events/s ({events_total} typed events, {took:.2f} s, one core)")


def _finished_call(n: int) -> CallSnapshot:
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC) + timedelta(seconds=n)
    return CallSnapshot(
        call_id=f"{n}.0", state=CallState.ENDED, caller_number="13800138000", caller_name=None, dialed="12345",
        started_at=t0, queue="hotline", queued_at=t0, seat="8001", ring_started_at=t0, answered_at=t0,
        ended_at=t0 + timedelta(seconds=60), outcome=CallOutcome.ANSWERED, ring_ms=2000, wait_ms=2500,
        legs=(LegSnapshot(f"{n}.0", "PJSIP/carrier-in-1", LegRole.CITIZEN, t0),
              LegSnapshot(f"{n}.1", "PJSIP/8001-1", LegRole.SEAT, t0)),
    )  # fmt: skip


async def _saves_per_s(store: Store, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        await store.save_call(replace(_finished_call(n), state=CallState.TALKING))
        await store.save_call(_finished_call(n))
    return 2 * count / (time.perf_counter() - started)


async def _batched_saves_per_s(store: Store, count: int, batch: int = 50) -> float:
    """As the write-behind saves on a busy floor: every flush one transaction of `batch` calls."""
    started = time.perf_counter()
    for first in range(10_000, 10_000 + count, batch):
        numbers = range(first, first + batch)
        await store.save(calls=[replace(_finished_call(n), state=CallState.TALKING) for n in numbers])
        await store.save(calls=[_finished_call(n) for n in numbers])
    return 2 * count / (time.perf_counter() - started)


async def store_figures(count: int = 500) -> None:
    rates: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        rates["SQLite"] = (await _saves_per_s(sqlite, count), await _batched_saves_per_s(sqlite, count * 10))
        await sqlite.close()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        pg = await Store.open(PG_URL, schema=schema)
        rates["PostgreSQL"] = (await _saves_per_s(pg, count), await _batched_saves_per_s(pg, count * 10))
        await pg.close()
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    for name, (one, batched) in rates.items():
        print(f"store: {name:10} {one:7,.0f} call saves/s one per transaction, {batched:7,.0f} in the write-behind's "
              f"batches of 50 ({batched / one:.1f}x)")  # fmt: skip
    print(f"store: PostgreSQL/SQLite = {rates['PostgreSQL'][0] / rates['SQLite'][0]:.2f} (one), "
          f"{rates['PostgreSQL'][1] / rates['SQLite'][1]:.2f} (batches)")  # fmt: skip


async def _latency_us(bus: Bus, count: int) -> float:
    """Publish a call's change (a real snapshot with two legs) → the subscriber holds the typed CallChange."""
    samples = []
    async with bus.subscribe(TOPIC_CALL) as sub:
        for n in range(count):
            change = CallChange(replace(_finished_call(n), caller_name="张三"), time.time())
            started = time.perf_counter()
            await bus.publish(TOPIC_CALL, change)
            _, got = await sub.get(timeout=5)
            samples.append((time.perf_counter() - started) * 1e6)
            assert got == change
    return statistics.median(samples)


def codec_figures(count: int = 20_000) -> None:
    """One call change across processes: the earlier wire (to_json → json.dumps; json.loads to a dict, which every
    consumer then turned back into a snapshot: not counted here) against the typed topic's (msgspec encode once;
    decode once into the CallChange itself)."""
    change = CallChange(replace(_finished_call(1), caller_name="张三"), time.time())
    started = time.perf_counter()
    for _ in range(count):
        json.loads(json.dumps(change.to_json(), ensure_ascii=False))
    old = (time.perf_counter() - started) / count * 1e6
    encoder, decoder = msgspec.json.Encoder(), msgspec.json.Decoder(CallChange)
    started = time.perf_counter()
    for _ in range(count):
        decoder.decode(encoder.encode(change))
    new = (time.perf_counter() - started) / count * 1e6
    print(f"bus codec: one call change encoded + decoded: dict/json {old:.1f} µs, typed/msgspec {new:.1f} µs "
          f"(new/old = {new / old:.2f}x)")  # fmt: skip


async def bus_figures(count: int = 2000) -> None:
    local = InProcessBus()
    redis_bus = RedisBus(REDIS_URL)
    try:
        a = await _latency_us(local, count)
        b = await _latency_us(redis_bus, count)
    finally:
        await redis_bus.close()
    print(f"bus: publish→receive median in-process {a:.0f} µs, Redis {b:.0f} µs (Redis/in-process = {b / a:.0f}×)")


async def asterisk_figures(calls: int = 10) -> None:
    from bench.parts import SIP_PORT, bench_service
    from hotline.demo import phones

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        state = Path(tmp)
        running: list[phones.Phone] = []
        async with bench_service(state, wrapup_s=0) as (service, instance):
            try:
                seats = list(phones.DEMO_SEATS[:calls])
                for seat in seats:
                    await service.seats.login(seat)
                    running.append(await phones.seat_phone(seat, 500, state))
                await asyncio.sleep(1)
                service.bridge.stats.lag_ms.clear()
                for i in range(calls):
                    citizen = await phones.citizen_call(f"1380000{i:04d}", 30000, state, sip_port=SIP_PORT, index=i)
                    running.append(citizen)
                deadline = time.monotonic() + 30
                while sum(c.state is CallState.TALKING for c in service.bridge.calls.active()) < calls:
                    if time.monotonic() > deadline:
                        states = [(c.state.value, c.seat) for c in service.bridge.calls.active()]
                        raise RuntimeError(f"calls did not all connect within 30 s: {states}")
                    await asyncio.sleep(0.05)
                lag = sorted(service.bridge.stats.lag_ms)
                p95 = lag[int(len(lag) * 0.95)]
                median = statistics.median(lag)
                print(f"asterisk: {calls} concurrent calls set up; AMI event lag median {median:.1f} ms, "
                      f"p95 {p95:.1f} ms over {len(lag)} events")  # fmt: skip
                started = time.perf_counter()
                await service.bridge.resync()
                resync_ms = (time.perf_counter() - started) * 1000
                print(f"asterisk: resync with {calls} live calls and {calls} seats: {resync_ms:.0f} ms")
                before = service.client.connections
                await asyncio.to_thread(instance.stop)
                restarted = time.monotonic()
                await asyncio.to_thread(instance.start)
                boot = time.monotonic() - restarted
                while service.client.connections == before or not service.bridge.resynced.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                total = time.monotonic() - restarted
                print(f"asterisk: restart → bridge resynced {total:.2f} s, of which Asterisk's own boot {boot:.2f} s "
                      f"(bridge's share {total - boot:.2f} s = {(total - boot) / total:.0%})")  # fmt: skip
            finally:
                for phone in running:
                    await phone.stop()


async def main() -> None:
    pipeline()
    await store_figures()
    codec_figures()
    await bus_figures()
    await asterisk_figures()


if __name__ == "__main__":
    asyncio.run(main())
