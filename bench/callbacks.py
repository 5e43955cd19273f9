"""Planning a day with 100,000 open 回访 tasks: the time to pick the next calls, and memory.

    python -m bench.callbacks [--tasks 100000] [--database postgresql://localhost/test]

Fills callback_tasks (SQLite file by default; PostgreSQL in a scratch schema with --database), then
times one planning round as the dialer runs it: the due tasks from the index (status, deadline_at),
the busy tickets, and the pure plan over 50 ready seats. Memory: the process's peak RSS growth over
the round, and the Python allocations of the round (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import insert

from hotline.callbacks import schedule as sc
from hotline.callbacks.store import CallbackStore
from hotline.db.models import CallbackTaskRow
from hotline.db.store import Store
from hotline.workdays import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SH)


async def fill(store: Store, n: int) -> None:
    rng = random.Random(7)
    rows = []
    for i in range(n):
        rows.append(
            {
                "kind": "回访", "source": f"reply:{i}", "ticket_id": None, "number": f"138{i:08d}",
                "preferred_seat": f"80{rng.randint(1, 50):02d}", "status": "pending", "attempts": rng.randint(0, 2),
                "deadline_at": NOW + timedelta(hours=rng.randint(-2, 72)), "deadline_provisional": False,
                "next_at": NOW + timedelta(minutes=rng.randint(-600, 600)), "created_at": NOW, "updated_at": NOW,
            }
        )  # fmt: skip
    async with store.engine.begin() as conn:
        for start in range(0, n, 5000):
            await conn.execute(insert(CallbackTaskRow), rows[start : start + 5000])


async def run(n: int, database: str | None) -> None:
    calendar = WorkCalendar.load()
    schema = None
    with tempfile.TemporaryDirectory() as d:
        if database:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(database)
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            url = database
        else:
            url = f"sqlite:///{Path(d) / 'bench.db'}"
        store = await Store.open(url, schema=schema)
        try:
            await fill(store, n)
            callbacks = CallbackStore(store.engine, calendar, sc.Policy(), clock=lambda: NOW)
            seats = [f"80{i:02d}" for i in range(1, 51)]
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            times = []
            tracemalloc.start()
            for _ in range(20):
                started = time.perf_counter()
                due = await callbacks.due(NOW)
                busy = await callbacks.busy_tickets()
                plan = sc.plan(due, seats, NOW, calendar, sc.Policy(), busy_tickets=busy)
                times.append((time.perf_counter() - started) * 1000)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(
                f"{n} open tasks ({'PostgreSQL' if database else 'SQLite'}): a planning round picks {len(plan)} calls "
                f"for 50 ready seats in median {statistics.median(times):.1f} ms (max {max(times):.1f} ms); "
                f"Python allocations per round peak {peak / 1024:.0f} KiB; "
                f"process peak RSS {rss_after / 1024:.0f} MiB "
                f"(+{(rss_after - rss_before) / 1024:.1f} MiB in the rounds)"
            )
        finally:
            await store.close()
            if schema is not None:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--database", default=None, help="postgresql://... (default: a SQLite file)")
    args = parser.parse_args()
    asyncio.run(run(args.tasks, args.database))


if __name__ == "__main__":
    main()
