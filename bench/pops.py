"""Screen pop delay: `.venv/bin/python -m bench.pops`. Prints figures; asserts nothing.

From the bridge receiving AgentCalled (the frame handed to the bridge's stream, as the AMI client does)
to the pop arriving at the seat's websocket client, p50 and p99, at 1, 10 and 50 new calls per second
for ~10 s each, with 200 seats' pages connected (logged in, one websocket each, in another process).

The pipeline is the real one: AMI bytes -> parser -> Bridge (call and seat models, bus, write-behind
to PostgreSQL) -> PopService (history from PostgreSQL) -> current pop + bus -> the seat routes'
websocket -> client. Only Asterisk is replaced: a driver writes the AMI events of synthetic calls
(Newchannel, the IVR's 2 s, QueueCallerJoin, AgentCalled, AgentConnect 0.5 s later, AgentComplete
and hang-ups 1.5 s after that).

The database: a scratch PostgreSQL schema with 1,000,000 past tickets (300,000 numbers, plus 3,000
frequent callers with ~30 tickets each), read by the real ticket store (hotline/tickets TicketStore,
SQLAlchemy, on the same engine as the bridge's write-behind, as hotline.service wires it). With
`--history table` a plain table of our own (asyncpg, plus 200,000 callback results) stands in for
it instead; the output says which was used (and falls back to the table when the ticket store's
schema cannot be filled).

Two ways the history is read, both printed: `prefetch` (the default: the lookup starts when the call
is first seen, during the IVR, and is usually done by the ring) and `at ring` (the lookup starts at
AgentCalled: the worst case, a call that rings the moment it arrives). Both buses: in-process and
Redis (localhost:6379, on channels of its own so it never disturbs other users of that Redis).

    .venv/bin/python -m bench.pops [--seconds 10] [--rates 1,10,50] [--bus both|inprocess|redis]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

import hotline.bus
import hotline.pops.current
from ami_bridge.bridge import Bridge
from ami_bridge.protocol import AmiParser
from ami_bridge.seat_control import SeatControl
from hotline.api import errors
from hotline.bus import Bus, InProcessBus, RedisBus
from hotline.db.store import Store
from hotline.live import BridgeLive
from hotline.pops.service import PopService, beside_bridge
from hotline.seats import http as seats_http
from hotline.seats.auth import SeatAuth

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "postgresql://localhost/test")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://localhost:6379/0")
SEATS = [str(6001 + n) for n in range(200)]  # not the test seats: nothing else uses these numbers
TICKETS, NUMBERS, FREQUENT = 1_000_000, 300_000, 3_000
IVR_S, TALK_AFTER_S, HANG_UP_AFTER_S = 2.0, 0.5, 1.5
UNITS = ["市住建局", "区城管局", "市交通局", "市水务局", "市生态环境局", "市市场监管局", "区人社局", "市教育局"]
BENCH_PREFIX = "hotline-bench:"  # Redis channels of its own: never mixed with a running hotline or test

# ------------------------------------------------------------------ the database: 1 M past tickets


FILL_TICKET_STORE = """
    INSERT INTO "{schema}".units (name, area, phones, categories, topics, hours, updated_at)
    SELECT u, '市直', '["12345"]', '["投诉举报"]', '[]', '', now() FROM unnest({units}) AS u;
    INSERT INTO "{schema}".tickets (status, category, urgency, caller_number, content, unit_id, created_at,
                                    updated_at, closed_at)
    SELECT CASE i % 20 WHEN 1 THEN '办理' WHEN 2 THEN '派单' ELSE '办结' END,
           (ARRAY['投诉举报','求助','咨询','建议'])[1 + i % 4], 'normal',
           CASE WHEN i % 10 = 0 THEN '138' || lpad(((i / 10) % {frequent})::text, 8, '0')
                ELSE '139' || lpad(((i::bigint * 7919) % {numbers})::text, 8, '0') END,
           '市民反映小区门口道路破损，夜间路灯不亮，希望有关部门尽快处理。' || i,
           (SELECT min(id) FROM "{schema}".units) + i % {n_units},
           now() - make_interval(mins => i % 1000000), now(),
           CASE WHEN i % 20 IN (1, 2) THEN NULL ELSE now() - make_interval(mins => i % 1000000 - 1) END
    FROM generate_series(1, {tickets}) AS i;
    ANALYZE "{schema}".tickets; ANALYZE "{schema}".units;
"""


async def fill_ticket_store(conn: asyncpg.Connection, schema: str) -> float:
    """1 M tickets into the ticket store's own tables (made by the migrations of Store.open)."""
    started = time.perf_counter()
    units = "ARRAY[" + ",".join(f"'{u}'" for u in UNITS) + "]"
    await conn.execute(FILL_TICKET_STORE.format(schema=schema, units=units, frequent=FREQUENT, numbers=NUMBERS,
                                                n_units=len(UNITS), tickets=TICKETS))  # fmt: skip
    return time.perf_counter() - started


async def make_tickets(conn: asyncpg.Connection, schema: str) -> float:
    started = time.perf_counter()
    units = "(ARRAY[" + ",".join(f"'{u}'" for u in UNITS) + "])"
    await conn.execute(f"""
        CREATE SCHEMA "{schema}";
        CREATE TABLE "{schema}".tickets (
            id bigint PRIMARY KEY, caller_number text NOT NULL, status text NOT NULL, category text NOT NULL,
            unit text, content text NOT NULL, created_at timestamptz NOT NULL, closed_at timestamptz);
        INSERT INTO "{schema}".tickets
        SELECT i,
               CASE WHEN i % 10 = 0 THEN '138' || lpad(((i / 10) % {FREQUENT})::text, 8, '0')
                    ELSE '139' || lpad(((i::bigint * 7919) % {NUMBERS})::text, 8, '0') END,
               CASE i % 20 WHEN 1 THEN '办理中' WHEN 2 THEN '已派单' ELSE '已办结' END,
               (ARRAY['投诉','求助','咨询','建议'])[1 + i % 4],
               {units}[1 + i % {len(UNITS)}],
               '市民反映小区门口道路破损，夜间路灯不亮，希望有关部门尽快处理。' || i,
               now() - make_interval(mins => i % 1000000),
               CASE WHEN i % 20 IN (1, 2) THEN NULL ELSE now() - make_interval(mins => i % 1000000 - 1) END
        FROM generate_series(1, {TICKETS}) AS i;
        CREATE INDEX ON "{schema}".tickets (caller_number, created_at DESC);
        CREATE TABLE "{schema}".callbacks (
            id bigint PRIMARY KEY, caller_number text NOT NULL, ticket_id bigint NOT NULL, result text NOT NULL,
            at timestamptz NOT NULL);
        INSERT INTO "{schema}".callbacks
        SELECT i, caller_number, id, (ARRAY['满意','基本满意','不满意'])[1 + i % 3], created_at + interval '3 days'
        FROM (SELECT row_number() OVER () AS i, caller_number, id, created_at
              FROM "{schema}".tickets WHERE id % 5 = 0) AS t;
        CREATE INDEX ON "{schema}".callbacks (caller_number, at DESC);
        ANALYZE "{schema}".tickets; ANALYZE "{schema}".callbacks;
    """)  # fmt: skip
    return time.perf_counter() - started


class PgHistory:
    """hotline.pops.history.History over the scratch tables (asyncpg, prepared statements)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self._history = (
            f'SELECT id, status, category, unit, left(content, 40) AS content, created_at, closed_at IS NULL AS open '
            f'FROM "{schema}".tickets WHERE caller_number = $1 ORDER BY closed_at IS NOT NULL, created_at DESC LIMIT $2'
        )  # fmt: skip
        self._callback = (
            f'SELECT ticket_id, result, at FROM "{schema}".callbacks WHERE caller_number = $1 ORDER BY at DESC LIMIT 1'
        )

    async def history(self, phone: str, limit: int = 20) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(self._history, phone, limit)]

    async def last_callback(self, phone: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(self._callback, phone)
        return None if row is None else dict(row)


def caller(n: int) -> str:
    """70 % known numbers (a fifth of them frequent callers), 30 % never seen."""
    r = random.random()
    if r < 0.14:
        return "138" + f"{random.randrange(FREQUENT):08d}"
    if r < 0.70:
        return "139" + f"{random.randrange(NUMBERS):08d}"
    return "137" + f"{n:08d}"


# ------------------------------------------------------------------ synthetic AMI


class FakeAmi:
    """Stands in for AmiClient: AMI bytes in, parsed frames onto the stream the bridge reads."""

    def __init__(self) -> None:
        self.stream: asyncio.Queue[Any] = asyncio.Queue()
        self.connected = asyncio.Event()  # never set: the bridge does no resync against it
        self.parser = AmiParser()
        self.parser.feed(b"Asterisk Call Manager/11.0.0\r\n")

    def send(self, event: str, headers: list[tuple[str, str]]) -> float:
        """One event; returns when it was handed to the bridge (time.monotonic)."""
        lines = [("Event", event), ("Privilege", "agent,all"), ("Timestamp", f"{time.time():.6f}"), *headers]
        data = "".join(f"{k}: {v}\r\n" for k, v in lines).encode() + b"\r\n"
        frames = self.parser.feed(data)
        stamp = time.monotonic()
        for frame in frames:
            self.stream.put_nowait(frame)
        return stamp


def chan(prefix: str, name: str, uid: str, linked: str, number: str, state: int, role: str) -> list[tuple[str, str]]:
    return [
        (f"{prefix}Channel", name), (f"{prefix}ChannelState", str(state)), (f"{prefix}CallerIDNum", number),
        (f"{prefix}CallerIDName", "<unknown>"), (f"{prefix}Context", "from-carrier" if role == "citizen" else "queue"),
        (f"{prefix}Exten", "12345"), (f"{prefix}Uniqueid", uid), (f"{prefix}Linkedid", linked),
        (f"{prefix}ChanVariable", f"HOTLINE_CALL={linked}"), (f"{prefix}ChanVariable", f"HOTLINE_ROLE={role}"),
        (f"{prefix}ChanVariable", "HOTLINE_IVR=2 投诉/1 城市管理" if role == "citizen" else "HOTLINE_IVR="),
    ]  # fmt: skip


def member(seat: str) -> list[tuple[str, str]]:
    return [("Queue", "hotline"), ("MemberName", seat), ("Interface", f"PJSIP/{seat}"), ("Status", "1"),
            ("Paused", "0"), ("PausedReason", ""), ("InCall", "0"), ("Wrapuptime", "0"), ("LastCall", "0")]  # fmt: skip


@dataclass
class Driver:
    ami: FakeAmi
    rang: dict[str, tuple[str, float]] = field(default_factory=dict)  # call id -> (seat, AgentCalled handed over)
    busy_until: dict[str, float] = field(default_factory=dict)
    calls: set[asyncio.Task[None]] = field(default_factory=set)
    n: int = 0
    _next_seat: int = 0

    def log_in_seats(self) -> None:
        for seat in SEATS:
            self.ami.send("QueueMemberAdded", member(seat))

    def free_seat(self) -> str:
        now = time.monotonic()
        for _ in range(len(SEATS)):
            seat = SEATS[self._next_seat % len(SEATS)]
            self._next_seat += 1
            if self.busy_until.get(seat, 0) <= now:
                self.busy_until[seat] = now + TALK_AFTER_S + HANG_UP_AFTER_S + 0.5
                return seat
        raise RuntimeError("every seat is busy: lower the rate")

    async def run(self, rate: float, seconds: float) -> None:
        started = time.monotonic()
        for k in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + k / rate - time.monotonic()))
            task = asyncio.create_task(self._call())
            self.calls.add(task)
            task.add_done_callback(self.calls.discard)
        await asyncio.gather(*list(self.calls))

    async def _call(self) -> None:
        self.n += 1
        n, number = self.n, caller(self.n)
        linked = f"{int(time.time())}.{n}"
        citizen = chan("", f"PJSIP/carrier-in-{n:08x}", linked, linked, number, 6, "citizen")
        self.ami.send("Newchannel", citizen)
        await asyncio.sleep(IVR_S)
        self.ami.send("QueueCallerJoin", [*citizen, ("Queue", "hotline"), ("Position", "1"), ("Count", "1")])
        await asyncio.sleep(0.005)
        seat = self.free_seat()
        leg = f"{linked}-s"
        agent = [("Queue", "hotline"), ("Interface", f"PJSIP/{seat}"), ("MemberName", seat)]
        ringing = chan("Dest", f"PJSIP/{seat}-{n:08x}", leg, linked, seat, 0, "seat")
        self.rang[linked] = (seat, self.ami.send("AgentCalled", [*citizen, *ringing, *agent]))
        await asyncio.sleep(TALK_AFTER_S)
        up = chan("Dest", f"PJSIP/{seat}-{n:08x}", leg, linked, seat, 6, "seat")
        self.ami.send("AgentConnect", [*citizen, *up, *agent, ("HoldTime", "2"), ("RingTime", "1")])
        await asyncio.sleep(HANG_UP_AFTER_S)
        self.ami.send("AgentComplete", [*citizen, *up, *agent, ("Reason", "caller"), ("TalkTime", "2")])
        self.ami.send("Hangup", [*chan("", f"PJSIP/{seat}-{n:08x}", leg, linked, seat, 6, "seat"), ("Cause", "16")])
        self.ami.send("Hangup", [*citizen, ("Cause", "16")])


# ------------------------------------------------------------------ 200 seat pages, in another process


def pages_main(url: str, passwords: dict[str, str], conn: Connection) -> None:
    asyncio.run(_pages(url, passwords, conn))


async def _pages(url: str, passwords: dict[str, str], conn: Connection) -> None:
    got: list[tuple[str, str, str, int, float]] = []  # (socket's seat, pop's seat, call id, rev, time.monotonic)

    async def follow(http: aiohttp.ClientSession, seat: str, ready: asyncio.Event) -> None:
        async with http.post(f"{url}/api/session", json={"seat": seat, "password": passwords[seat]}) as resp:
            token = (await resp.json())["token"]
        async with http.ws_connect(f"{url.replace('http', 'ws')}/ws/seats/{seat}", params={"token": token}) as ws:
            await ws.receive()  # the snapshot
            ready.set()
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT and msg.data.startswith('{"topic": "pop"'):
                    stamp = time.monotonic()
                    pop = msg.json()
                    got.append((seat, pop["seat"], pop["call_id"], pop["rev"], stamp))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        readies = {seat: asyncio.Event() for seat in passwords}
        tasks = [asyncio.create_task(follow(http, seat, readies[seat])) for seat in passwords]
        await asyncio.gather(*(e.wait() for e in readies.values()))
        conn.send("ready")
        while (command := await asyncio.to_thread(conn.recv)) != "stop":
            assert command == "flush"
            conn.send(got[:])
            got.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------------ one bus: the server side and the phases


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@contextlib.asynccontextmanager
async def server(bus: Bus, history: Any, store: Store | None) -> AsyncIterator[tuple[str, Driver, PopService]]:
    ami = FakeAmi()
    bridge_bus, current, pops = beside_bridge(bus, history)  # as hotline.service.Service wires it
    bridge = Bridge(ami, bridge_bus, store, wrapup_s=0)  # type: ignore[arg-type]
    await pops.start()
    await bridge.start()
    auth = SeatAuth(uuid.uuid4().bytes * 2, {seat: f"pw-{seat}" for seat in SEATS})
    app = web.Application(middlewares=[errors])
    control = SeatControl(None, "hotline", ("小休",))  # type: ignore[arg-type]
    seats_http.add_routes(app, control, BridgeLive(bridge), bus, auth=auth, pops=current)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    driver = Driver(ami)
    driver.log_in_seats()
    try:
        yield f"http://127.0.0.1:{port}", driver, pops
    finally:
        await runner.cleanup()
        await bridge.close()
        await pops.close()


async def phase(driver: Driver, pops: PopService, conn: Connection, rate: float, seconds: float) -> dict[str, Any]:
    driver.rang.clear()
    pops.stats.delay_ms.clear()
    pops.stats.lookup_ms.clear()
    pops.stats.lookup_wait_ms.clear()
    await driver.run(rate, seconds)
    await asyncio.sleep(0.5)
    conn.send("flush")
    got = await asyncio.to_thread(conn.recv)
    first = {(call_id, sock): stamp for sock, _, call_id, rev, stamp in got if rev == 1}
    delays = [(first[(cid, seat)] - put) * 1000 for cid, (seat, put) in driver.rang.items() if (cid, seat) in first]
    wrong = sum(1 for sock, pop_seat, *_ in got if sock != pop_seat)
    server_ms, wait_ms = list(pops.stats.delay_ms), list(pops.stats.lookup_wait_ms)
    return {
        "calls": len(driver.rang), "popped": len(delays), "wrong_seat": wrong, "p50": pct(delays, 0.5),
        "p99": pct(delays, 0.99), "max": max(delays, default=float("nan")),
        "lookup_p50": pct(list(pops.stats.lookup_ms), 0.5), "lookup_p99": pct(list(pops.stats.lookup_ms), 0.99),
        "share": sum(wait_ms) / sum(server_ms) if server_ms and sum(server_ms) else float("nan"),
        "server_p50": pct(server_ms, 0.5), "server_p99": pct(server_ms, 0.99),
        "updates": sum(1 for *_, rev, _ in got if rev > 1),
    }  # fmt: skip


async def run_bus(name: str, rates: list[float], seconds: float, history: Any, store: Store | None) -> None:
    bus: Bus = InProcessBus() if name == "in-process" else RedisBus(REDIS_URL, prefix=BENCH_PREFIX)
    await bus.ping()
    try:
        async with server(bus, history, store) as (url, driver, pops):
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=pages_main, args=(url, {s: f"pw-{s}" for s in SEATS}, child), daemon=True)
            proc.start()
            child.close()  # ours: so a page process that dies makes recv() fail instead of waiting for ever
            try:
                assert await asyncio.to_thread(parent.recv) == "ready"
                await asyncio.sleep(3)  # the seats' QueueMemberAdded settle
                for prefetch in (True, False):
                    pops.prefetch = prefetch
                    for rate in rates:
                        r = await phase(driver, pops, parent, rate, seconds)
                        mode = "prefetch" if prefetch else "at ring "
                        print(
                            f"{name:10} {mode} {rate:4.0f} calls/s: {r['popped']:4d}/{r['calls']:<4d} pops, "
                            f"AgentCalled→page p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  max {r['max']:6.1f} ms"
                            f" | published p50 {r['server_p50']:5.2f} p99 {r['server_p99']:6.2f}"
                            f" | DB lookup p50 {r['lookup_p50']:5.2f} ms p99 {r['lookup_p99']:5.2f} ms,"
                            f" {r['share']:5.1%} of the server's delay | wrong seat {r['wrong_seat']},"
                            f" updates {r['updates']}",
                            flush=True,
                        )  # fmt: skip
            finally:
                parent.send("stop")
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
    finally:
        await bus.close()


async def history_source(
    kind: str, conn: asyncpg.Connection, schema: str, store: Store
) -> tuple[Any, str, asyncpg.Pool | None]:
    """(the History, what it is, a pool to close) for `kind`: "store" (the real TicketStore) or "table"."""
    if kind == "store":
        try:
            from hotline import casefile
            from hotline.tickets.plugin import CallerHistory
            from hotline.tickets.store import TicketStore
            from hotline.workdays import WorkCalendar

            took = await fill_ticket_store(conn, f"{schema}_store")
            size = await conn.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('\"{schema}_store\".tickets'))")
            what = (f"the ticket store (hotline/tickets TicketStore, SQLAlchemy, the bridge's engine): {TICKETS:,} "
                    f"past tickets ({size} with indexes), made in {took:.1f} s; it keeps no callbacks yet")  # fmt: skip
            return CallerHistory(casefile.wire(TicketStore(store.engine, WorkCalendar.load()))), what, None
        except Exception as exc:  # the ticket store's schema moved on: say so and use the table
            print(f"NOTE: could not fill the ticket store's tables ({type(exc).__name__}: {exc}); using a table")
    took = await make_tickets(conn, schema)
    size = await conn.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('\"{schema}\".tickets'))")
    pool = await asyncpg.create_pool(PG_URL, min_size=4, max_size=10)
    what = (f"a table made here standing in for the ticket store (asyncpg; same query: by phone, open first, "
            f"newest 20): {TICKETS:,} past tickets + {TICKETS // 5:,} callback results ({size}), "
            f"made in {took:.1f} s")  # fmt: skip
    return PgHistory(pool, schema), what, pool


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="1,10,50")
    parser.add_argument("--bus", choices=("both", "inprocess", "redis"), default="both")
    parser.add_argument("--history", choices=("store", "table"), default="store")
    parser.add_argument("--no-store", action="store_true", help="no write-behind of calls and seats to PostgreSQL")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    # the Redis bus on channels and keys of its own: never mixed with a running hotline or test on this Redis
    hotline.pops.current.KEY_PREFIX = "hotline-bench:pop:"
    schema = f"bench_pops_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_URL)
    pool: asyncpg.Pool | None = None
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}_store"')
        store = await Store.open(PG_URL, schema=f"{schema}_store")  # migrated: calls, seats, tickets, units
        try:
            history, what, pool = await history_source(args.history, conn, schema, store)
            print(f"database: {what}")
            print(f"200 seat pages (websockets, logged in) in a second process; {args.seconds:g} s per rate; "
                  f"bridge write-behind to PostgreSQL {'off' if args.no_store else 'on'}; "
                  f"machine: {os.cpu_count()} CPUs")  # fmt: skip
            for name in ("in-process", "redis"):
                if args.bus in ("both", name.replace("-", "")):
                    await run_bus(name, rates, args.seconds, history, None if args.no_store else store)
        finally:
            await store.close()
            if pool is not None:
                await pool.close()
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_store" CASCADE')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
