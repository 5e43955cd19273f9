"""The store over SQLite and over the real PostgreSQL at postgresql://localhost/test."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ami_bridge.constants import CallOutcome, CallState, LegRole, SeatState
from ami_bridge.snapshots import CallSnapshot, LegSnapshot, SeatSnapshot
from hotline.db.migrate import current, downgrade_engine, head, newest_file_revision, upgrade_engine
from hotline.db.models import Base
from hotline.db.store import Store, StoreError, async_url

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "postgresql://localhost/test")
T0 = datetime(2026, 11, 25, 1, 2, 3, 456000, tzinfo=UTC)


def a_call(**changes: object) -> CallSnapshot:
    call = CallSnapshot(
        call_id="1764032523.11",
        state=CallState.RINGING,
        caller_number="13800138000",
        caller_name="王女士",
        dialed="12345",
        started_at=T0,
        queue="hotline",
        queued_at=T0 + timedelta(seconds=3),
        seat="8001",
        ring_started_at=T0 + timedelta(seconds=4),
        legs=(LegSnapshot("1764032523.11", "PJSIP/carrier-00000001", LegRole.CITIZEN, T0),),
    )
    return replace(call, **changes)  # type: ignore[arg-type]


async def test_call_round_trip_keeps_every_field_and_utc(store: Store) -> None:
    call = a_call()
    await store.save_call(call)
    assert await store.get_call(call.call_id) == call
    got = await store.get_call(call.call_id)
    assert got is not None and got.started_at.tzinfo is not None and got.started_at == T0


async def test_saving_again_updates_in_place_with_legs(store: Store) -> None:
    await store.save_call(a_call())
    seat_leg = LegSnapshot(
        "1764032527.12",
        "PJSIP/8001-00000002",
        LegRole.SEAT,
        T0 + timedelta(seconds=4),
        answered_at=T0 + timedelta(seconds=6),
    )
    done = a_call(
        state=CallState.ENDED, outcome=CallOutcome.ANSWERED, answered_at=T0 + timedelta(seconds=6),
        ended_at=T0 + timedelta(seconds=60), ring_ms=2000, wait_ms=3000,
        legs=(replace(a_call().legs[0], ended_at=T0 + timedelta(seconds=60), hangup_cause=16), seat_leg),
    )  # fmt: skip
    await store.save_call(done)
    await store.save_call(done)  # a retry is harmless
    assert await store.get_call(done.call_id) == done
    assert await store.count_calls() == 1


async def test_recent_calls_newest_first_and_per_caller(store: Store) -> None:
    for i in range(5):
        await store.save_call(
            a_call(
                call_id=f"c{i}",
                started_at=T0 + timedelta(minutes=i),
                legs=(),
                caller_number="13900000000" if i % 2 else "13800138000",
            )
        )
    assert [c.call_id for c in await store.recent_calls(limit=3)] == ["c4", "c3", "c2"]
    assert [c.call_id for c in await store.recent_calls(caller_number="13900000000")] == ["c3", "c1"]


async def test_other_timezones_are_stored_as_the_same_instant(store: Store) -> None:
    beijing = timezone(timedelta(hours=8))
    await store.save_call(a_call(started_at=T0.astimezone(beijing), legs=()))
    got = await store.get_call("1764032523.11")
    assert got is not None and got.started_at == T0 and got.started_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused_and_nothing_is_half_saved(store: Store) -> None:
    bad_leg = LegSnapshot("x.2", "PJSIP/8001-1", LegRole.SEAT, datetime(2026, 11, 25, 9, 0))  # naive
    with pytest.raises(Exception, match="naive datetime"):
        await store.save_call(a_call(legs=(*a_call().legs, bad_leg)))
    assert await store.get_call("1764032523.11") is None


async def test_seat_state_and_events(store: Store) -> None:
    ready = SeatSnapshot("8001", SeatState.READY, interface="PJSIP/8001", since=T0)
    await store.save_seat(ready, logged_in=True)
    await store.save_seat(ready, logged_in=True)  # no change: no new event
    paused = replace(
        ready, state=SeatState.PAUSED, pause_reason="未接", since=T0 + timedelta(seconds=10), misses_in_row=1
    )
    await store.save_seat(paused, logged_in=True)
    await store.save_seat(replace(paused, pause_reason="小休", since=T0 + timedelta(seconds=20)), logged_in=True)
    assert await store.seats() == [replace(paused, pause_reason="小休", since=T0 + timedelta(seconds=20))]
    events = await store.seat_events("8001")
    assert [(e.state, e.pause_reason) for e in events] == [("ready", None), ("paused", "未接"), ("paused", "小休")]
    assert events[1].at == T0 + timedelta(seconds=10)


async def test_a_batch_is_saved_whole_in_one_go(store: Store) -> None:
    """The write-behind's batch: calls (legs added and removed), seats with their events, misses; a batch the
    database refuses leaves nothing of itself behind."""
    from ami_bridge.snapshots import MissSnapshot

    first = a_call()
    other = a_call(
        call_id="c2", caller_number="13900000000", legs=(LegSnapshot("c2.1", "PJSIP/x-1", LegRole.CITIZEN, T0),)
    )
    ready = SeatSnapshot("8001", SeatState.READY, interface="PJSIP/8001", since=T0)
    miss = MissSnapshot("8003", "c1", T0, 10012, False, 1)
    await store.save(calls=[first, other], seats=[(ready, True)], misses=[miss])
    seat_leg = LegSnapshot("1764032527.12", "PJSIP/8001-2", LegRole.SEAT, T0 + timedelta(seconds=4))
    moved = a_call(state=CallState.TALKING, legs=(seat_leg,))  # the citizen's leg is gone, the seat's came
    talking = replace(ready, state=SeatState.TALKING, call_id=first.call_id, since=T0 + timedelta(seconds=6))
    logged_out = SeatSnapshot("8002", SeatState.LOGGED_OUT, since=T0)
    await store.save(calls=[moved, other], seats=[(talking, True), (logged_out, False)], misses=[miss])
    assert await store.get_call(first.call_id) == moved and await store.get_call("c2") == other
    assert await store.seats() == [talking, logged_out]
    assert [(e.state, e.call_id) for e in await store.seat_events("8001")] == [
        ("ready", None),
        ("talking", first.call_id),
    ]
    assert await store.misses_between(T0, T0 + timedelta(days=1)) == [miss]
    naive = LegSnapshot("x.2", "PJSIP/8001-1", LegRole.SEAT, datetime(2026, 11, 25, 9, 0))
    with pytest.raises(Exception, match="naive datetime"):
        await store.save(calls=[a_call(call_id="c3", legs=()), a_call(call_id="c4", legs=(naive,))],
                         seats=[(replace(talking, state=SeatState.WRAP_UP), True)])  # fmt: skip
    assert await store.get_call("c3") is None and await store.seats() == [talking, logged_out]


async def test_schema_matches_the_models_and_migrations_go_both_ways(store: Store) -> None:
    assert await current(store.engine) == head()
    async with store.engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    assert diff == [], f"models and migrations disagree: {diff}"
    await downgrade_engine(store.engine, "base")
    assert await current(store.engine) is None
    await upgrade_engine(store.engine)
    assert await current(store.engine) == head()


def test_a_start_at_the_newest_schema_reads_the_revision_without_alembic(tmp_path: Path) -> None:
    """Every restart checks alembic_version against the versions folder's newest file: Alembic is imported only to
    migrate (its import is ~0.2 s of a restart). The file names must give Alembic's own head."""
    assert newest_file_revision() == head()
    db = f"sqlite:///{tmp_path / 'h.db'}"
    probe = (
        "import asyncio, sys\n"
        "from hotline.db.store import Store\n"
        f"async def main():\n    await (await Store.open({db!r})).close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True) for _ in "12"]
    assert [r.stdout.split()[-1] for r in runs] == ["True", "False"], [r.stderr[-500:] for r in runs]


def test_urls_pick_the_async_driver() -> None:
    assert async_url("postgresql://localhost/test") == "postgresql+asyncpg://localhost/test"
    assert async_url("sqlite:////var/lib/hotline/hotline.db") == "sqlite+aiosqlite:////var/lib/hotline/hotline.db"
    assert async_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(StoreError, match="PostgreSQL"):
        async_url("mysql://localhost/test")
    with pytest.raises(StoreError, match="not a database URL"):
        async_url("localhost/test")


async def test_unreachable_database_names_it_without_the_password() -> None:
    with pytest.raises(StoreError) as err:
        await Store.open("postgresql://hotline:s3cret@127.0.0.1:1/hotline")
    assert "127.0.0.1:1" in str(err.value) and "s3cret" not in str(err.value)


async def test_misses_are_recorded_once_and_read_by_time(store: Store) -> None:
    from ami_bridge.snapshots import MissSnapshot

    miss = MissSnapshot("8003", "c1", T0, 10012, False, 1)
    await store.add_miss(miss)
    await store.add_miss(miss)  # a retry of the write-behind
    await store.add_miss(MissSnapshot("8003", "c2", T0 + timedelta(hours=1), 1500, True, 2))
    assert await store.misses_between(T0, T0 + timedelta(minutes=30)) == [miss]
    assert len(await store.misses_between(T0, T0 + timedelta(days=1))) == 2


async def test_calls_between_and_misses_per_call(store: Store) -> None:
    await store.save_call(a_call(call_id="early", started_at=T0 - timedelta(minutes=1), legs=()))
    await store.save_call(a_call(call_id="in", started_at=T0 + timedelta(minutes=1), legs=(), misses=2))
    got = await store.calls_between(T0, T0 + timedelta(hours=1))
    assert [(c.call_id, c.misses) for c in got] == [("in", 2)]
