"""The sweep's decisions (hotline/recordings/sweep.py), the verdicts it writes (checker), and the day listing
(files.on_disk), as tables."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ami_bridge.protocol import Frame, FrameKind
from hotline.recordings.checker import FileFacts, RecStatus, Verdict, recheck, unknown_call, verdict
from hotline.recordings.files import OnDisk, on_disk
from hotline.recordings.formats import Format
from hotline.recordings.sweep import Leave, channel_ids, channel_made_at, left_alone, outbound_of, sweep_days

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
GOOD = FileFacts(True, 96_044, 3.0)


def found(call_id: str = "1764468000.7", age_s: float = 300, raw: bool = True) -> OnDisk:
    return OnDisk(call_id, f"2026/11/30/{call_id}.ogg", raw, NOW - timedelta(seconds=age_s))


@pytest.mark.parametrize(
    ("item", "catalogued", "live", "leave"),
    [
        (found(), set(), set(), None),  # a file the service missed: catalogue it
        (found(raw=False), set(), set(), None),  # a file the nightly check finalised, still no row
        (found(), {"1764468000.7"}, set(), Leave.CATALOGUED),
        (found(age_s=5), set(), set(), Leave.FRESH),  # written to 5 s ago: a live call's
        (found(age_s=59.9), set(), set(), Leave.FRESH),
        (found(age_s=60), set(), set(), None),
        (found(age_s=-30), set(), set(), Leave.FRESH),  # a clock ahead of ours: not old enough either
        (found(raw=False, age_s=5), set(), set(), Leave.FRESH),  # a file sox has just made: too fresh as well
        (found(), set(), {"1764468000.7"}, Leave.LIVE),  # quiet (the survey, back in the queue) but live
        (found("cb-3-2"), set(), {"cb-3-2", "1764468000.9"}, Leave.LIVE),  # a callback attempt's seat channel
        (found(), {"1764468000.7"}, {"1764468000.7"}, Leave.CATALOGUED),
        (found("out-8001-1764468000.9"), set(), {"1764468000.9"}, Leave.LIVE),  # a seat's call out: its channel
        (found("out-8001-1764468000.9"), set(), {"1764468000.7"}, None),
    ],
)
def test_what_the_sweep_leaves(item: OnDisk, catalogued: set[str], live: set[str], leave: Leave | None) -> None:
    assert left_alone(item, NOW, catalogued, live) is leave


def test_a_seats_own_call_out_is_known_by_its_name() -> None:
    assert outbound_of("out-8001-1764468000.9") == ("8001", "1764468000.9")
    assert [outbound_of(i) for i in ("1764468000.9", "out-80x1-1764468000.9", "out-8001-17.9", "cb-3-2")] == [None] * 4


def test_the_days_it_reads() -> None:
    assert sweep_days(date(2026, 12, 1), 2) == [date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1)]
    assert sweep_days(date(2026, 12, 1), 0) == [date(2026, 12, 1)]


def channel_frame(**headers: str) -> Frame:
    return Frame(FrameKind.EVENT, (("Event", "CoreShowChannel"), *headers.items()))


def test_live_ids_from_asterisks_channels() -> None:
    frames = [
        channel_frame(Uniqueid="1764468000.7", Linkedid="1764468000.7", ChanVariable="HOTLINE_CALL=1764468000.7"),
        channel_frame(Uniqueid="1764468001.9", Linkedid="1764468000.7", ChanVariable="HOTLINE_CALL=1764468000.7"),
        channel_frame(Uniqueid="cb-3-2", Linkedid="cb-3-2", ChanVariable="HOTLINE_CALL="),  # a callback's seat leg
        channel_frame(Uniqueid="1764468002.1", Linkedid="cb-3-2"),  # the citizen it dialled
        Frame(FrameKind.EVENT, (("Event", "CoreShowChannelsComplete"), ("ListItems", "4"))),
    ]
    assert channel_ids(frames) == {"1764468000.7", "1764468001.9", "cb-3-2", "1764468002.1"}


@pytest.mark.parametrize(
    ("call_id", "at"),
    [
        ("1764468000.7", datetime(2025, 11, 30, 2, 0, tzinfo=UTC)),
        ("cb-3-2", None),  # a callback attempt's id says no time
        ("1764468000", None),
        ("abc.12", None),
        ("out-8001-1764468000.9", datetime(2025, 11, 30, 2, 0, tzinfo=UTC)),  # a seat's call out: its channel's
    ],
)
def test_when_a_channel_was_made(call_id: str, at: datetime | None) -> None:
    assert channel_made_at(call_id) == at


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (GOOD, RecStatus.UNKNOWN_CALL),
        (FileFacts(True, 44, 0.0), RecStatus.EMPTY),  # a file problem first
        (FileFacts(True, 5000, None), RecStatus.UNREADABLE),
        (FileFacts(False), RecStatus.MISSING),
    ],
)
def test_a_file_of_no_known_call_is_flagged(facts: FileFacts, status: RecStatus) -> None:
    result = unknown_call(facts, "1764468000.7")
    assert result.status is status and result.status.flagged
    if status is RecStatus.UNKNOWN_CALL:
        assert "no call or callback attempt 1764468000.7 in the database" in result.reason


def test_a_talk_time_the_database_never_learned_is_said_so() -> None:
    result = verdict(GOOD, None, 1.5)
    assert result.status is RecStatus.OK and "not checked" in result.reason
    assert verdict(FileFacts(True, 44, 0.0), None, 1.5).status is RecStatus.EMPTY


@pytest.mark.parametrize(
    ("previous", "fresh", "kept"),
    [
        (RecStatus.UNKNOWN_CALL, RecStatus.OK, RecStatus.UNKNOWN_CALL),  # a good file does not clear it
        (RecStatus.UNKNOWN_CALL, RecStatus.MISSING, RecStatus.MISSING),  # a file problem wins
        (RecStatus.SHORT, RecStatus.OK, RecStatus.OK),  # the file's own verdicts follow the file
        (RecStatus.OK, RecStatus.SHORT, RecStatus.SHORT),
    ],
)
def test_the_nightly_check_keeps_unknown_call(previous: RecStatus, fresh: RecStatus, kept: RecStatus) -> None:
    result = recheck(previous, "why before", Verdict(fresh, "why now"))
    assert result.status is kept
    assert result.reason == ("why before" if kept is previous and kept is not fresh else "why now")


def test_a_days_folder_lists_recordings_only(tmp_path: Path) -> None:
    folder = tmp_path / "2026/11/30"
    folder.mkdir(parents=True)
    for name in ("1764468000.7.raw", "1764468000.8.wav", "cb-3-2.raw", "cb-3-2.wav", ".1764468000.8.tmp.wav",
                 "1764468000.5.flac", "1764468000.6.ogg", ".1764468000.6.tmp.ogg", "1764468000.4.mp3",
                 "1764468000.3.ogg.part", "notes.txt", "a b.wav", "a b.ogg", "1764468000.9.raw.bak"):  # fmt: skip
        (folder / name).write_bytes(b"x")
    old = NOW.timestamp()
    os.utime(folder / "cb-3-2.wav", (old, old))
    outside = tmp_path.parent / "elsewhere.raw"
    outside.write_bytes(b"x")
    (folder / "1764468001.1.raw").symlink_to(outside)  # never Asterisk's
    (folder / "1764468001.2.ogg").symlink_to(outside)
    listed = on_disk(tmp_path, date(2026, 11, 30), Format.OGG)
    assert [(f.call_id, f.rel, f.raw) for f in listed] == [
        ("1764468000.5", "2026/11/30/1764468000.5.flac", False),  # made while the centre kept FLAC
        ("1764468000.6", "2026/11/30/1764468000.6.ogg", False),
        ("1764468000.7", "2026/11/30/1764468000.7.ogg", True),  # not finalised yet: named as it will be
        ("1764468000.8", "2026/11/30/1764468000.8.wav", False),  # from before the switch: stays a .wav
        ("cb-3-2", "2026/11/30/cb-3-2.ogg", True),  # a .raw beside a .wav (finalising cut short): made anew
    ]
    assert listed[4].modified > NOW  # the newer of the two files' writes
    flac = on_disk(tmp_path, date(2026, 11, 30), Format.FLAC)
    assert [f.rel for f in flac if f.raw] == ["2026/11/30/1764468000.7.flac", "2026/11/30/cb-3-2.flac"]
    assert on_disk(tmp_path, date(2026, 12, 1), Format.OGG) == []
