"""`hotline qa recompress` (hotline/recordings/recompress.py) over a real SQLite store and files sox really made: an old
.wav becomes the configured .ogg with its row moved and the .wav gone, and is served as audio/ogg; a .wav cut
short whose header still promises the whole call is kept; a run killed between any two steps loses nothing and
the next one finishes; purged rows, live, recent and unfinished files are left; --dry-run changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.api import errors
from hotline.bus import make_bus
from hotline.db.store import Store
from hotline.recordings import files
from hotline.recordings.checker import RecStatus, Talk
from hotline.recordings.formats import Format
from hotline.recordings.recompress import left_alone, recompress
from hotline.recordings.retention import Retention
from hotline.recordings.sampling import Rule
from hotline.recordings.service import RecordingConfig, RecordingService
from hotline.recordings.store import RecordingStore
from tests.helpers import realparts
from tests.helpers.recordings import raw_tone

DAY = "2026/11/30"
ANSWERED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
OLD, NEW, OTHER = "1764468000.1", "1764468000.2", "1764468000.3"


def config(root: Path, fmt: Format = Format.OGG) -> RecordingConfig:
    return RecordingConfig(root, ZoneInfo("Asia/Shanghai"), 0.0, 1.5, Retention(30, 90), Rule(0.05, 2), time(1, 30),
                           7, format=fmt)  # fmt: skip


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RecordingService]:
    store = await Store.open(f"sqlite:///{tmp_path / 'db' / 'hotline.db'}")
    bus = make_bus("")
    yield RecordingService(None, bus, RecordingStore(store.engine), config(tmp_path / "rec"))
    await bus.close()
    await store.close()


async def catalogued(svc: RecordingService, call_id: str, fmt: Format = Format.WAV, seconds: float = 4.0,
                     *, age_s: float = 600) -> Path:  # fmt: skip
    """A call's recording made in `fmt` (a .wav: before the centre switched to Ogg) and catalogued as the service
    does at the call's end; last written `age_s` ago."""
    rel = f"{DAY}/{call_id}.{fmt.value}"
    raw_tone(files.raw_of(svc.root / rel), seconds)
    row = await svc.catalogue_talk(Talk(call_id, "8001", "13800000001", "hotline", ANSWERED, seconds), rel=rel)
    assert row["status"] == "ok" and row["path"] == rel, row
    return age(svc.root / rel, age_s)


def age(path: Path, seconds: float) -> Path:
    then = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (then, then))
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_an_old_wav_becomes_the_configured_ogg_and_is_served_so(service: RecordingService) -> None:
    wav = await catalogued(service, OLD)
    before = await service.store.get(OLD)
    assert before is not None
    report = await recompress(service, since=None, live=set(), who="ops")

    ogg = wav.with_suffix(".ogg")
    row = await service.store.get(OLD)
    assert row is not None and row["path"] == f"{DAY}/{OLD}.ogg" and not wav.exists()
    data = ogg.read_bytes()
    assert data.startswith(b"OggS") and row["size"] == len(data) and row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["status"] == "ok" and abs(row["duration_s"] - 4.0) < 0.1 and row["status_reason"].startswith("4.0 s")
    assert sorted(p.name for p in ogg.parent.iterdir()) == [f"{OLD}.ogg"]  # no temporary left
    assert report.failed == [] and report.converted == [(OLD, before["path"], before["size"], len(data))]
    assert len(data) * 4 < before["size"]
    share = f"{len(data) / before['size']:.0%}"
    assert report.lines() == [f"converted 1 recordings into ogg: 0.1 MiB -> 0.0 MiB ({share} of before), 0.1 MiB saved"]
    audit = await service.store.audit_log(call_id=OLD)
    assert [(a["who"], a["action"]) for a in audit] == [("ops", "recompress")]
    assert f"{DAY}/{OLD}.wav -> {DAY}/{OLD}.ogg" in audit[0]["detail"]
    again = await recompress(service, since=None, live=set())
    assert again.converted == [] and again.skipped == {"already ogg": 1} and ogg.read_bytes() == data

    from hotline.recordings.http import QaContext, add_routes
    from hotline.recordings.qaauth import QaAuth, add_user
    from tests.helpers.recordings import KEY

    users = service.root.parent / "staff.json"
    add_user(users, "qa", "qa-password")
    staff = QaAuth(KEY, users)
    app = web.Application(middlewares=[errors])
    add_routes(app, QaContext(service, staff, object(), {}))  # type: ignore[arg-type]
    token, _ = staff.login("qa", "qa-password")
    async with TestClient(TestServer(app)) as http:
        resp = await http.get(f"/api/recordings/{OLD}/audio", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200 and resp.headers["Content-Type"] == "audio/ogg" and await resp.read() == data


async def test_the_nightly_jobs_that_read_the_row_before_it_moved_write_nothing_over_it(
    service: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's check and purge run in another process while a long recompress goes on."""
    wav = await catalogued(service, OLD)
    stale = await service.store.kept()
    await recompress(service, since=None, live=set())
    moved = await service.store.get(OLD)
    assert moved is not None and moved["path"] == f"{DAY}/{OLD}.ogg" and not wav.exists()
    real_kept = service.store.kept

    async def read_before(**kwargs: Any) -> list[dict[str, Any]]:
        return stale

    monkeypatch.setattr(service.store, "kept", read_before)
    await service.check()  # it measured the .wav, gone: not flagged missing
    assert await service.store.get(OLD) == moved
    today = ANSWERED.date() + timedelta(days=100)
    assert await service.purge(today) == 0  # the .ogg stays catalogued: purged on the next run
    assert await service.store.get(OLD) == moved and wav.with_suffix(".ogg").is_file()
    monkeypatch.setattr(service.store, "kept", real_kept)
    assert await service.purge(today) == 1 and not wav.with_suffix(".ogg").exists()
    assert (await service.store.get(OLD) or {})["status"] == "purged"


async def test_a_wav_cut_short_whose_header_lies_is_kept(service: RecordingService) -> None:
    wav = await catalogued(service, OLD, seconds=6)
    await catalogued(service, NEW, seconds=3)
    with wav.open("r+b") as f:  # the header still says 6 s; the data stops after about 2 s
        f.truncate(44 + 2 * 8000 * 4)
    age(wav, 600)
    row, kept = await service.store.get(OLD), wav.read_bytes()
    report = await recompress(service, since=None, live=set())

    assert [c[0] for c in report.converted] == [NEW]  # the others go on
    [(call_id, why)] = report.failed
    assert call_id == OLD and "says 6.00 s" in why and "holds 2.00 s" in why and "kept as it was" in why, why
    assert wav.read_bytes() == kept and await service.store.get(OLD) == row
    assert sorted(p.name for p in wav.parent.iterdir()) == [f"{OLD}.wav", f"{NEW}.ogg"]
    assert any(line.startswith("FAILED 1") for line in report.lines())


class Crash(BaseException):
    """The process killed between two steps."""


async def test_a_run_killed_at_any_step_loses_nothing_and_the_next_finishes(
    service: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = await catalogued(service, OLD)
    ogg, audio = wav.with_suffix(".ogg"), wav.read_bytes()
    real_set_status, real_audit = service.store.set_status, service.store.audit

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    # killed after the new file was renamed into place, before the row moved: the row's .wav is the recording
    monkeypatch.setattr(service.store, "set_status", crash)
    with pytest.raises(Crash):
        await recompress(service, since=None, live=set())
    row = await service.store.get(OLD)
    assert row is not None and row["path"] == f"{DAY}/{OLD}.wav" and wav.read_bytes() == audio and ogg.is_file()
    monkeypatch.setattr(service.store, "set_status", real_set_status)

    # killed after the row moved, before the old file was deleted: the row's .ogg is the recording
    monkeypatch.setattr(service.store, "audit", crash)
    with pytest.raises(Crash):
        await recompress(service, since=None, live=set())
    row = await service.store.get(OLD)
    assert row is not None and row["path"] == f"{DAY}/{OLD}.ogg" and wav.read_bytes() == audio
    assert row["sha256"] == hashlib.sha256(ogg.read_bytes()).hexdigest()
    monkeypatch.setattr(service.store, "audit", real_audit)
    assert (await recompress(service, since=None, live=set())).skipped == {  # left for a later run
        "written to in the last 5 minutes: maybe a live call's": 1
    }
    age(ogg, 600)

    dry = await recompress(service, since=None, live=set(), dry_run=True)
    assert dry.finished == 1 and wav.is_file()
    report = await recompress(service, since=None, live=set())
    assert report.finished == 1 and report.failed == [] and not wav.exists() and ogg.is_file()
    assert await service.store.get(OLD) == row

    # both there, and the row's file is not the one it catalogued: nothing is deleted, a person looks
    wav.write_bytes(audio)
    ogg.write_bytes(ogg.read_bytes()[:-100])
    age(ogg, 600)
    report = await recompress(service, since=None, live=set())
    assert [c for c, _ in report.failed] == [OLD] and wav.is_file() and ogg.is_file()


async def test_purged_live_recent_and_unfinished_files_are_left(service: RecordingService) -> None:
    ids = [f"1764468000.{n}" for n in range(1, 6)]
    purged, live, recent, unfinished, ok = ids
    for call_id in ids:
        await catalogued(service, call_id, age_s=30 if call_id == recent else 600)
    await service.store.set_status(purged, RecStatus.PURGED, "retention ended", purged_at=datetime.now(UTC))
    raw_tone(service.root / DAY / f"{unfinished}.raw", 1)
    rows = {i: await service.store.get(i) for i in ids}
    kept = tree(service.root)

    report = await recompress(service, since=None, live={live})
    assert [c[0] for c in report.converted] == [ok] and report.failed == []
    assert report.skipped == {
        "its call is live in Asterisk": 1,
        "written to in the last 5 minutes: maybe a live call's": 1,
        "a .raw beside it: not finalised yet (the sweep or the nightly check makes it the configured format)": 1,
    }
    for call_id in (purged, live, recent, unfinished):
        assert await service.store.get(call_id) == rows[call_id]
        names = [f"{call_id}.wav"] + ([f"{call_id}.raw"] if call_id == unfinished else [])
        assert {n: tree(service.root)[f"{DAY}/{n}"] for n in names} == {n: kept[f"{DAY}/{n}"] for n in names}
    # a day out of reach of --days is not looked at
    assert (await recompress(service, since=ANSWERED.date() + timedelta(days=1), live=set())).skipped == {}


def test_never_toward_a_bigger_format(tmp_path: Path) -> None:
    (tmp_path / DAY).mkdir(parents=True)
    (tmp_path / DAY / f"{OLD}.ogg").write_bytes(b"OggS")
    age(tmp_path / DAY / f"{OLD}.ogg", 600)
    row = {"call_id": OLD, "path": f"{DAY}/{OLD}.ogg", "status": "ok"}
    now = datetime.now(UTC)
    assert left_alone(tmp_path, row, Format.FLAC, now, set()) == "ogg into flac would only grow it"
    assert left_alone(tmp_path, row, Format.WAV, now, set()) == "ogg into wav would only grow it"
    assert left_alone(tmp_path, {**row, "status": "unreadable"}, Format.OGG, now, set()) == (
        "flagged unreadable: left for a person to look at"
    )


async def test_a_dry_run_changes_nothing(service: RecordingService) -> None:
    await catalogued(service, OLD)
    await catalogued(service, OTHER, Format.FLAC)
    rows, kept = await service.store.kept(), tree(service.root)
    report = await recompress(service, since=None, live=set(), dry_run=True)
    assert await service.store.kept() == rows and tree(service.root) == kept
    assert await service.store.audit_log() == []
    by_id = {c[0]: c for c in report.converted}
    wav_size = len(kept[f"{DAY}/{OLD}.wav"])
    assert by_id[OLD][2:] == (wav_size, int(wav_size * 0.28 / 1.83))
    lines = report.lines()
    assert any(OTHER in line and f"{DAY}/{OTHER}.flac" in line for line in lines)
    assert any(line.startswith("would convert 2 recordings into ogg") and "to save" in line for line in lines), lines


def test_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`hotline qa recompress`: asks which recordings; exit 1 when a file failed, 0 when all went."""
    from hotline.cli import main

    root, db = tmp_path / "rec", tmp_path / "cli" / "hotline.db"
    realparts.cli_env(monkeypatch, tmp_path, root, db)  # recordings as flac: the setting reaches the command

    async def setup() -> Path:
        store = await Store.open(f"sqlite:///{db}")
        try:
            svc = RecordingService(None, make_bus(""), RecordingStore(store.engine), config(root))
            return await catalogued(svc, OLD)
        finally:
            await store.close()

    wav = asyncio.run(setup())
    assert main(["qa", "recompress", "--asterisk-stopped"]) == 2
    assert "--days N" in capsys.readouterr().err
    assert main(["qa", "recompress", "--all", "--dry-run"]) == 0  # Asterisk not there: said, and gone on
    out, err = capsys.readouterr()
    assert "would convert 1 recordings into flac" in out and wav.is_file()
    assert "note: Asterisk's AMI cannot be asked which calls are live" in err
    wav.write_bytes(wav.read_bytes()[:-8000])  # cut short, the header unchanged
    age(wav, 600)
    assert main(["qa", "recompress", "--all", "--asterisk-stopped"]) == 1
    assert f"FAILED 1 (each kept as it was):\n  {OLD}: " in capsys.readouterr().out and wav.is_file()


async def test_retention_takes_the_copy_a_recompress_cut_short_left(service: RecordingService) -> None:
    """Killed after the new file was in place, before the row moved, and never run again: when the row's
    retention ends, the .ogg beside the .wav goes with it, so no file outlives its catalogue row."""
    wav = await catalogued(service, OLD)
    stray = wav.with_suffix(".ogg")
    stray.write_bytes(b"OggS not really")
    assert await service.purge(ANSWERED.date() + timedelta(days=100)) == 1
    assert not wav.exists() and not stray.exists()
    assert (await service.store.get(OLD) or {})["status"] == "purged"
