"""The sweep over SQLite and the real PostgreSQL, with real files made by sox: recordings of calls that ended
while the service was down get their catalogue rows from the calls the bridge wrote and the callback attempts;
a file no call in the database has gets a row flagged unknown-call; a file still being written (fresh, or its
call live in Asterisk) is left alone; a second sweep adds nothing; `hotline qa sweep` runs it by hand."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from ami_bridge.constants import CallOutcome, CallState, LegRole
from ami_bridge.snapshots import CallSnapshot, LegSnapshot
from hotline.db.models import CallbackAttemptRow, CallbackTaskRow
from hotline.db.store import Store
from hotline.recordings.service import RecordingService
from hotline.recordings.store import RecordingStore
from tests.helpers import realparts
from tests.helpers.recordings import recording_service

ZONE = ZoneInfo("Asia/Shanghai")
ENDED_CALL, OPEN_CALL, ATTEMPT, UNKNOWN = "1764500000.11", "1764500000.12", "cb-1-1", "1764500000.13"
FRESH, LIVE, OLD = "1764500000.14", "1764500000.15", "1763800000.16"
OUT, OUT_LIVE = "out-8004-1764500000.17", "out-8005-1764500000.18"  # seats' own calls out ([outbound])


@pytest.fixture
async def service(store: Store, tmp_path: Path) -> AsyncIterator[RecordingService]:
    async with recording_service(store, tmp_path / "rec") as svc:
        yield svc


def recording(folder: Path, name: str, seconds: float, *, age_s: float = 300) -> Path:
    """A stereo 8 kHz file made by sox: .raw as MixMonitor's D writes it (headerless 16-bit), or a finished file
    in the format its extension names (a .wav: one made before the centre switched to Ogg Vorbis); last
    written `age_s` seconds ago (0: just now)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    raw = ["-t", "raw", "-e", "signed", "-b", "16"] if path.suffix == ".raw" else []
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "2", *raw, str(path), "synth", str(seconds), "sine", "440"],
                   check=True, capture_output=True)  # fmt: skip
    if age_s:
        then = datetime.now(UTC).timestamp() - age_s
        os.utime(path, (then, then))
    return path


def folder_of(svc: RecordingService, day: date) -> Path:
    return svc.root / f"{day:%Y/%m/%d}"


async def add_known_calls(store: Store, now: datetime) -> None:
    answered = now - timedelta(minutes=10)
    seat_leg = LegSnapshot("1764500000.21", "PJSIP/8001-00000001", LegRole.SEAT, answered, answered,
                           answered + timedelta(seconds=3))  # fmt: skip
    await store.save_call(CallSnapshot(
        ENDED_CALL, CallState.ENDED, "13800000001", None, "12345", answered - timedelta(seconds=20), queue="hotline",
        seat="8001", answered_at=answered, ended_at=answered + timedelta(seconds=5), outcome=CallOutcome.ANSWERED,
        legs=(seat_leg,),
    ))  # fmt: skip
    # the bridge stopped while this one was being talked: its row never learned the end
    await store.save_call(CallSnapshot(
        OPEN_CALL, CallState.TALKING, "13800000002", None, "12345", answered - timedelta(seconds=30), queue="hotline",
        seat="8002", answered_at=answered,
    ))  # fmt: skip
    async with async_sessionmaker(store.engine)() as session, session.begin():
        task = CallbackTaskRow(kind="回拨", source="request:1", number="13900000003", status="reached",
                               deadline_at=now, next_at=now, created_at=now, updated_at=now)  # fmt: skip
        session.add(task)
        await session.flush()
        session.add(CallbackAttemptRow(id=ATTEMPT, task_id=task.id, seat="8003", number="13900000003",
                                       started_at=answered, seat_answered_at=answered, answered_at=answered,
                                       ended_at=answered + timedelta(seconds=10), outcome="answered",
                                       dial_status="ANSWER"))  # fmt: skip


async def test_the_sweep_catalogues_what_the_service_missed(service: RecordingService, store: Store) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(ZONE).date()
    await add_known_calls(store, now)
    folder = folder_of(service, today)
    recording(folder, f"{ENDED_CALL}.raw", 3)  # the talk: the seat's 3 s (the survey after it is not recorded)
    recording(folder, f"{OPEN_CALL}.raw", 4)
    recording(folder, f"{ATTEMPT}.raw", 3)  # a 10 s callback talk with only 3 s of audio
    recording(folder, f"{UNKNOWN}.wav", 2)  # a call the database never saw, recorded before the switch to ogg
    fresh = recording(folder, f"{FRESH}.raw", 1, age_s=0)  # still being written: a live call's
    recording(folder, f"{LIVE}.raw", 2)  # quiet for minutes, but its call is up in Asterisk
    recording(folder_of(service, today - timedelta(days=8)), f"{OLD}.wav", 1)  # older than the sweep's 7 days
    recording(folder, f"{OUT}.raw", 2)
    recording(folder, f"{OUT_LIVE}.raw", 2)  # the seat's channel is still up
    (folder / "notes.txt").write_text("not a recording")
    (folder / f".{UNKNOWN}.tmp.wav").write_bytes(b"")  # sox's temporary files
    (folder / f".{FRESH}.tmp.ogg").write_bytes(b"")

    counts = await service.sweep({LIVE, "1764500000.99", "1764500000.18"})
    assert counts == {"swept": 4, "unknown": 1, "fresh": 1, "live": 2}, counts

    ended = await service.store.get(ENDED_CALL)
    assert ended is not None and (ended["status"], ended["flagged"]) == ("ok", False), ended
    assert (ended["seat"], ended["caller_number"], ended["queue"]) == ("8001", "13800000001", "hotline")
    assert ended["call_s"] == 3.0 and abs(ended["duration_s"] - 3.0) < 0.05  # the seat leg's end, not the call's
    assert ended["path"] == f"{today:%Y/%m/%d}/{ENDED_CALL}.ogg" and ended["day"] == today.isoformat()
    ogg = folder / f"{ENDED_CALL}.ogg"
    assert ogg.is_file() and not ogg.with_suffix(".raw").exists()  # finalised: the .raw became the default ogg
    assert ended["size"] == ogg.stat().st_size and ended["size"] < 3 * 8000 * 4 / 4  # compressed

    open_ = await service.store.get(OPEN_CALL)
    assert open_ is not None and (open_["status"], open_["seat"], open_["call_s"]) == ("ok", "8002", 0.0), open_
    assert "not checked" in open_["status_reason"] and abs(open_["duration_s"] - 4.0) < 0.05

    attempt = await service.store.get(ATTEMPT)
    assert attempt is not None and (attempt["queue"], attempt["seat"], attempt["caller_number"]) == (
        "回访",
        "8003",
        "13900000003",
    ), attempt
    assert (attempt["status"], attempt["call_s"], attempt["flagged"]) == ("short", 10.0, True)

    unknown = await service.store.get(UNKNOWN)
    assert unknown is not None and (unknown["status"], unknown["flagged"]) == ("unknown-call", True), unknown
    assert f"no call or callback attempt {UNKNOWN} in the database" in unknown["status_reason"]
    assert unknown["seat"] is None and unknown["started_at"] == datetime.fromtimestamp(1764500000, UTC).isoformat()
    assert abs(unknown["duration_s"] - 2.0) < 0.05 and unknown["keep_until"]  # purged like any other, in time
    assert unknown["path"] == f"{today:%Y/%m/%d}/{UNKNOWN}.wav"  # the old .wav stays as it is, catalogued as one

    out = await service.store.get(OUT)  # not flagged: the seat's own call out, known by its name
    assert out is not None and (out["status"], out["seat"], out["queue"]) == ("ok", "8004", "外呼"), out
    assert out["started_at"] == datetime.fromtimestamp(1764500000, UTC).isoformat()

    for left in (FRESH, LIVE, OLD, OUT_LIVE):
        assert await service.store.get(left) is None, left
    assert fresh.is_file() and (folder / f"{LIVE}.raw").is_file()  # untouched: no .ogg made from them
    assert not (folder / f"{FRESH}.ogg").exists() and not (folder / f"{LIVE}.ogg").exists()

    rows = await service.store.listing()
    again = await service.sweep({LIVE, "1764500000.18"})
    assert again == {"catalogued": 5, "fresh": 1, "live": 2}, again  # a second sweep adds nothing
    assert await service.store.listing() == rows

    old = datetime.now(UTC).timestamp() - 120  # the fresh file a while later; the live call has ended
    os.utime(fresh, (old, old))
    later = await service.sweep(set())
    assert later == {"catalogued": 5, "unknown": 2, "swept": 1}, later  # and the seat's call out has ended
    assert (await service.store.get(FRESH) or {}).get("status") == "unknown-call"

    await service.check()  # the nightly check: a good file does not clear unknown-call
    assert (await service.store.get(UNKNOWN) or {}).get("status") == "unknown-call"
    (folder / f"{UNKNOWN}.wav").unlink()
    await service.check()  # a file problem found later still wins
    assert (await service.store.get(UNKNOWN) or {}).get("status") == "missing"


def test_the_sweep_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`hotline qa sweep`: refuses without Asterisk to ask what is live; with --asterisk-stopped it sweeps."""
    import asyncio

    from hotline.cli import main

    root, db = tmp_path / "rec", tmp_path / "cli" / "hotline.db"
    realparts.cli_env(monkeypatch, tmp_path, root, db)  # recordings as flac: the setting reaches the command
    folder = root / f"{datetime.now(ZONE).date() - timedelta(days=2):%Y/%m/%d}"
    recording(folder, f"{UNKNOWN}.raw", 2)

    assert main(["qa", "sweep"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Asterisk's AMI at 127.0.0.1:1" in err and "--asterisk-stopped" in err, err
    assert (folder / f"{UNKNOWN}.raw").is_file()  # nothing touched

    assert main(["qa", "sweep", "--days", "1", "--asterisk-stopped"]) == 0
    assert "recordings swept: {}" in capsys.readouterr().out  # two days back is out of reach
    assert main(["qa", "sweep", "--asterisk-stopped"]) == 0
    assert "'unknown': 1" in capsys.readouterr().out

    async def row() -> dict[str, object] | None:
        store = await Store.open(f"sqlite:///{db}")
        try:
            return await RecordingStore(store.engine).get(UNKNOWN)
        finally:
            await store.close()

    swept = asyncio.run(row())
    assert swept is not None and swept["status"] == "unknown-call", swept
    assert swept["path"] == f"{folder.relative_to(root)}/{UNKNOWN}.flac" and not (folder / f"{UNKNOWN}.raw").exists()
    assert (folder / f"{UNKNOWN}.flac").is_file()
