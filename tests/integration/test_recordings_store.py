"""The recordings catalogue, QA sampling and the retention purge over SQLite and the real PostgreSQL: a day with
known calls gives the required counts and every complaint call; purged files are deleted and their rows marked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.db.models import SurveyResultRow, TicketCallRow, TicketRow
from hotline.db.store import Store
from hotline.recordings.formats import Format
from hotline.recordings.paths import relative_path
from hotline.recordings.sampling import Reason
from hotline.recordings.scoring import parse_sheet
from hotline.recordings.service import RecordingService
from tests.helpers.recordings import recording_service

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)
T0 = datetime(2026, 11, 30, 0, 30, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
async def service(store: Store, tmp_path: Path) -> AsyncIterator[RecordingService]:
    async with recording_service(store, tmp_path / "rec") as svc:
        yield svc


async def add_call(svc: RecordingService, call_id: str, seat: str, at: datetime, day: date = DAY) -> None:
    rel = relative_path(day, call_id, Format.OGG)
    path = svc.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"OggS" + b"\0" * 2000)
    await svc.store.save({
        "call_id": call_id, "seat": seat, "caller_number": "13800000000", "queue": "hotline", "day": day.isoformat(),
        "started_at": at, "call_s": 60.0, "duration_s": 60.0, "size": 2004, "sha256": None, "path": rel,
        "status": "ok", "keep_until": None,
    })  # fmt: skip


async def add_ticket(store: Store, call_id: str, category: str) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    async with async_sessionmaker(store.engine)() as session, session.begin():
        ticket = TicketRow(status="受理", category=category, urgency="normal", caller_number="13800000000",
                           content="…", created_at=T0, updated_at=T0)  # fmt: skip
        session.add(ticket)
        await session.flush()
        session.add(TicketCallRow(ticket_id=ticket.id, call_id=call_id, added_at=T0))


async def add_survey(store: Store, call_id: str, seat: str, satisfied: bool) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    async with async_sessionmaker(store.engine)() as session, session.begin():
        session.add(SurveyResultRow(call_id=call_id, seat=seat, queue="hotline", caller_number="1", scale=5,
                                    level=1 if satisfied else 5, label="x", satisfied=satisfied, reason="answered",
                                    at=T0))  # fmt: skip


async def test_sampling_a_day_with_known_calls(service: RecordingService, store: Store) -> None:
    # seat 8001: 60 calls (5 % → 3), 8002: 10 calls (minimum 2), 8003: 1 call; and one the day before
    for i in range(60):
        await add_call(service, f"1764433800.{i}", "8001", T0 + timedelta(minutes=10 * i))
    for i in range(10):
        await add_call(service, f"1764433900.{i}", "8002", T0 + timedelta(minutes=30 * i))
    await add_call(service, "1764434000.0", "8003", T0)
    await add_call(service, "1764340000.0", "8001", T0 - timedelta(days=1), DAY - timedelta(days=1))
    complaints = ["1764433800.5", "1764433800.41", "1764433900.9"]
    for call_id in complaints:
        await add_ticket(store, call_id, "投诉举报")
    await add_ticket(store, "1764433800.6", "咨询")
    await add_survey(store, "1764433800.7", "8001", satisfied=False)
    await add_survey(store, "1764433800.8", "8001", satisfied=True)
    assert await service.store.flag("1764433900.3", "班长 张", "语气不好")
    await add_ticket(store, "1764340000.0", "投诉举报")  # another day: not in this day's sample

    plan, added = await service.sample(DAY)
    random_by_seat: dict[str, int] = {}
    for p in plan.picks:
        if p.reasons == (Reason.RANDOM,):
            random_by_seat[p.seat] = random_by_seat.get(p.seat, 0) + 1
    assert random_by_seat == {"8001": 3, "8002": 2, "8003": 1}
    mandatory = {p.call_id: p.reasons for p in plan.picks if p.reasons != (Reason.RANDOM,)}
    assert mandatory == {
        "1764433800.5": (Reason.COMPLAINT,), "1764433800.41": (Reason.COMPLAINT,),
        "1764433900.9": (Reason.COMPLAINT,), "1764433800.7": (Reason.UNSATISFIED,),
        "1764433900.3": (Reason.FLAGGED,),
    }  # fmt: skip
    assert added == len(plan.picks) == 11
    stored = await service.store.samples(day=DAY.isoformat())
    assert {s["call_id"] for s in stored} == {p.call_id for p in plan.picks}
    assert all(c in {s["call_id"] for s in stored} for c in complaints)
    assert {s["call_id"] for s in await service.store.samples(day=DAY.isoformat(), reason="complaint")} == set(
        complaints
    )

    _, added_again = await service.sample(DAY)  # a second run draws no second random share
    assert added_again == 0 and len(await service.store.samples(day=DAY.isoformat())) == 11
    await add_ticket(store, "1764433800.59", "投诉举报")  # filed later the same day: the next run adds it alone
    _, added_late = await service.sample(DAY)
    assert added_late == (0 if "1764433800.59" in {p.call_id for p in plan.picks} else 1)
    assert "1764433800.59" in {s["call_id"] for s in await service.store.samples(day=DAY.isoformat())}

    # a score: the sample moves from unscored to scored
    sheet = parse_sheet({"items": {k: {"passed": True} for k in
                                   ("opening", "closing", "polite", "tone", "mandarin", "accuracy", "process")},
                         "overall": "合格"})  # fmt: skip
    await service.store.save_score("1764433800.5", "8001", DAY.isoformat(), "qa1", sheet)
    assert len(await service.store.samples(day=DAY.isoformat(), scored=True)) == 1
    unscored = await service.store.samples(day=DAY.isoformat(), scored=False)
    assert len(unscored) == len(await service.store.samples(day=DAY.isoformat())) - 1


async def test_purge_deletes_files_past_retention_and_keeps_complaints(service: RecordingService, store: Store) -> None:
    old = DAY - timedelta(days=45)
    await add_call(service, "1760000000.1", "8001", T0 - timedelta(days=45), old)  # ordinary, 45 days: purged
    await add_call(service, "1760000000.2", "8001", T0 - timedelta(days=45), old)  # complaint: kept 90 days
    await add_call(service, "1760000000.3", "8001", T0 - timedelta(days=45), old)  # sampled, not scored: kept
    await add_call(service, "1764433800.1", "8001", T0)  # today's: kept
    await add_ticket(store, "1760000000.2", "投诉举报")
    from hotline.recordings.sampling import Pick

    await service.store.add_samples(old, [Pick("1760000000.3", "8001", (Reason.RANDOM,))])
    purged = await service.purge(DAY)
    assert purged == 1
    row = await service.store.get("1760000000.1")
    assert row is not None and row["status"] == "purged" and row["purged_at"] and not row["flagged"]
    assert not (service.root / row["path"]).exists()
    for kept in ("1760000000.2", "1760000000.3", "1764433800.1"):
        r = await service.store.get(kept)
        assert r is not None and r["status"] == "ok" and (service.root / r["path"]).exists()
    assert await service.purge(DAY) == 0  # nothing twice


async def test_the_start_catches_up_on_talks_left_uncatalogued(service: RecordingService, store: Store) -> None:
    """A process that died between a call's end and its catalogue (the settle pause) left an answered talk with no
    row: the next start's catch-up finds it in the database, and only it (not a catalogued call, not one that was
    never answered, not one that ended before the window), and catalogues it (its file is missing: flagged so)."""
    from ami_bridge.constants import CallOutcome, CallState
    from ami_bridge.snapshots import CallSnapshot

    def call(call_id: str, answered: bool, ended: datetime) -> CallSnapshot:
        started = ended - timedelta(minutes=2)
        return CallSnapshot(call_id, CallState.ENDED, "13800000000", None, None, started, queue="hotline", seat="8001",
                            answered_at=started + timedelta(seconds=10) if answered else None, ended_at=ended,
                            outcome=CallOutcome.ANSWERED if answered else CallOutcome.ABANDONED)  # fmt: skip

    now = datetime.now(UTC)
    minutes = lambda n: now - timedelta(minutes=n)  # noqa: E731
    await store.save(calls=[call("left", True, minutes(5)), call("done", True, minutes(4)),
                            call("lost", False, minutes(3)), call("old", True, now - timedelta(days=2))])  # fmt: skip
    await add_call(service, "done", "8001", now - timedelta(minutes=6))
    talks = await service.store.not_catalogued(now - timedelta(days=1), now)
    assert [t.call_id for t in talks] == ["left"]
    service.config = replace(service.config, settle_s=0)
    assert await service.catch_up(now) == 1
    row = await service.store.get("left")
    assert row is not None and row["status"] == "missing", row
    assert await service.store.not_catalogued(now - timedelta(days=1), now) == []
