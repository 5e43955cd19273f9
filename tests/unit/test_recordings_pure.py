"""Recordings, pure parts: paths (nothing leaves the root), checker verdicts, retention dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ami_bridge.constants import CallState, LegRole
from ami_bridge.snapshots import CallSnapshot, LegSnapshot
from hotline.recordings.checker import FileFacts, RecStatus, expected_seconds, verdict
from hotline.recordings.formats import DEFAULT, Format
from hotline.recordings.paths import PathRefused, check_call_id, parse_relative, relative_path, resolve
from hotline.recordings.retention import Retention

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "facts, expected, status",
    [
        (FileFacts(False), 30.0, RecStatus.MISSING),
        (FileFacts(True, 0, 0.0), 30.0, RecStatus.EMPTY),
        (FileFacts(True, 44, 0.0), 30.0, RecStatus.EMPTY),
        (FileFacts(True, 5000, None), 30.0, RecStatus.UNREADABLE),
        (FileFacts(True, 5000, 0.0), 30.0, RecStatus.EMPTY),
        (FileFacts(True, 480_044, 20.0), 30.0, RecStatus.SHORT),
        (FileFacts(True, 480_044, 28.4), 30.0, RecStatus.SHORT),  # 1.6 s short, tolerance 1.5
        (FileFacts(True, 480_044, 28.6), 30.0, RecStatus.OK),
        (FileFacts(True, 480_044, 30.0), 30.0, RecStatus.OK),
        (FileFacts(True, 480_044, 31.0), 30.0, RecStatus.OK),  # a little longer is fine (the answer's set-up)
    ],
)
def test_verdicts(facts: FileFacts, expected: float, status: RecStatus) -> None:
    result = verdict(facts, expected, 1.5)
    assert result.status is status, result
    assert result.status.flagged is (status is not RecStatus.OK)
    assert result.reason


def leg(role: LegRole, start_s: int, end_s: int) -> LegSnapshot:
    return LegSnapshot(f"u{role}{start_s}", f"PJSIP/{role}", role, T0 + timedelta(seconds=start_s),
                       T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s))  # fmt: skip


def call(answer_s: int | None, end_s: int, legs: tuple[LegSnapshot, ...]) -> CallSnapshot:
    return CallSnapshot(
        "1764468000.1", CallState.ENDED, "13800138000", None, "12345", T0,
        answered_at=None if answer_s is None else T0 + timedelta(seconds=answer_s),
        ended_at=T0 + timedelta(seconds=end_s), legs=legs,
    )  # fmt: skip


@pytest.mark.parametrize(
    "snapshot, seconds",
    [
        (call(10, 70, (leg(LegRole.CITIZEN, 0, 70), leg(LegRole.SEAT, 5, 70))), 60),
        # the seat hung up at 50 s, the citizen stayed 20 s in the survey: not recorded (not bridged)
        (call(10, 70, (leg(LegRole.CITIZEN, 0, 70), leg(LegRole.SEAT, 5, 50))), 40),
        # three-way: the seat left at 40 s, the unit talked to 90 s
        (call(10, 95, (leg(LegRole.CITIZEN, 0, 95), leg(LegRole.SEAT, 5, 40), leg(LegRole.UNIT, 30, 90))), 80),
        (call(None, 30, (leg(LegRole.CITIZEN, 0, 30),)), 0),
    ],
)
def test_expected_seconds(snapshot: CallSnapshot, seconds: float) -> None:
    assert expected_seconds(snapshot) == seconds


@pytest.mark.parametrize("fmt", list(Format))
def test_relative_paths_and_the_root(tmp_path: Path, fmt: Format) -> None:
    rel = relative_path(date(2026, 11, 30), "1764468000.12", fmt)
    assert rel == f"2026/11/30/1764468000.12.{fmt.value}"
    assert parse_relative(rel) == (date(2026, 11, 30), "1764468000.12")
    assert resolve(tmp_path, rel) == tmp_path.resolve() / rel
    assert Format.of_name(rel) is fmt


def test_the_formats_and_their_extensions() -> None:
    assert [f.value for f in Format] == ["ogg", "flac", "wav"]  # exactly three; the default is Ogg Vorbis
    assert [f.content_type for f in Format] == ["audio/ogg", "audio/flac", "audio/wav"]
    assert DEFAULT is Format.OGG
    assert "-C" in Format.OGG.sox_options and Format.WAV.sox_options == []
    for other in ("2026/11/30/x.raw", "2026/11/30/x.mp3", "x.oga", "x.OGG", "x", "ogg", "x.ogg/"):
        with pytest.raises(ValueError, match="not a recording file"):
            Format.of_name(other)


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd", "/etc/passwd", "2026/11/30/../../../etc/passwd.wav", "2026/11/30/a/b.wav",
        "2026/11/30/1764468000.1.wav/..", "2026/13/45/1764468000.1.wav", "2026/11/30/.hidden.wav",
        "2026/11/30/1764468000.1.mp3", "2026/11/30/%2e%2e.wav", "2026\\11\\30\\x.wav", "",
        # only the three formats' own extensions, and nothing after them
        "2026/11/30/1764468000.1.raw", "2026/11/30/1764468000.1.oga", "2026/11/30/1764468000.1.OGG",
        "2026/11/30/1764468000.1.ogg.bak", "2026/11/30/1764468000.1.flac/..", "2026/11/30/1764468000.1.ogg\n",
        "2026/11/30/1764468000.1", "2026/11/30/.1764468000.1.tmp.ogg", "2026/11/30/../../../etc/passwd.ogg",
        "2026/11/30/1764468000.1.wav.ogg", "/2026/11/30/1764468000.1.flac", "2026/11/30/1764468000.1.ogg ",
    ],
)  # fmt: skip
def test_path_like_ids_never_reach_the_file_system(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PathRefused):
        resolve(tmp_path, bad)


@pytest.mark.parametrize(
    "bad", ["..", "../x", "a/b", "1764468000.1/../../x", "", "x" * 80, ".1", "a b", "1.2.3", "1764468000.1\n"]
)
def test_call_ids(bad: str) -> None:
    with pytest.raises(PathRefused):
        check_call_id(bad)
    assert check_call_id("1764468000.12") == "1764468000.12"


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    (root / "2026/11").mkdir(parents=True)
    (root / "2026/11/30").symlink_to(tmp_path)
    with pytest.raises(PathRefused):
        resolve(root, "2026/11/30/secret.wav")
    with pytest.raises(PathRefused):
        resolve(root, "2026/11/30/secret.ogg")


@pytest.mark.parametrize(
    "categories, today, review, due",
    [
        (set(), date(2026, 12, 1), False, False),
        (set(), date(2026, 12, 31), False, False),  # the last day: still kept
        (set(), date(2027, 1, 1), False, True),
        (set(), date(2027, 1, 1), True, False),  # QA has not scored it yet
        ({"投诉举报"}, date(2027, 1, 1), False, False),
        ({"投诉举报", "咨询"}, date(2027, 3, 1), False, False),
        ({"投诉举报"}, date(2027, 3, 2), False, True),
    ],
)
def test_retention(categories: set[str], today: date, review: bool, due: bool) -> None:
    rule = Retention(ordinary_days=30, complaint_days=90)
    assert rule.keep_until(date(2026, 12, 1)) == date(2026, 12, 31)
    assert rule.keep_until(date(2026, 12, 1), {"投诉举报"}) == date(2027, 3, 1)
    assert rule.due(date(2026, 12, 1), categories, today, under_review=review) is due


@pytest.mark.parametrize(
    "now, next_run",
    [
        (datetime(2026, 11, 30, 17, 0, tzinfo=UTC), datetime(2026, 12, 1, 1, 30)),  # 01:00 Beijing → 01:30 today
        (datetime(2026, 11, 30, 17, 30, tzinfo=UTC), datetime(2026, 12, 2, 1, 30)),  # 01:30 sharp → tomorrow's
        (datetime(2026, 12, 1, 4, 0, tzinfo=UTC), datetime(2026, 12, 2, 1, 30)),  # noon Beijing → tomorrow
    ],
)
def test_the_nightly_run_is_at_its_time_on_the_hotline_clock(now: datetime, next_run: datetime) -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from hotline.bus import make_bus
    from hotline.recordings.sampling import Rule
    from hotline.recordings.service import RecordingConfig, RecordingService

    zone = ZoneInfo("Asia/Shanghai")
    config = RecordingConfig(Path("/nonexistent"), zone, 0, 1.5, Retention(1, 2), Rule(0.05, 2), time(1, 30))
    service = RecordingService(None, make_bus(""), None, config)  # type: ignore[arg-type]
    assert service._next_run(now) == next_run.replace(tzinfo=zone)


def test_the_qa_page_names_every_recording_status() -> None:
    """QA staff read the statuses in Chinese: the page's table covers every status the checker gives."""
    page = (Path(__file__).resolve().parents[2] / "hotline" / "static" / "qa.html").read_text()
    table = re.search(r"const REC_STATUS = \{(.*?)\};", page, re.S)
    assert table is not None
    named = set(re.findall(r'"?([a-z-]+)"?:\s*"', table.group(1)))
    assert named == {s.value for s in RecStatus}
