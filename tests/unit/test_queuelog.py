"""Asterisk's queue_log read backwards for ring misses (ami_bridge/queuelog.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ami_bridge import queuelog
from ami_bridge.queuelog import LoggedMiss, parse_miss, read_misses

LINES = """1796681540|1796681536.6|hotline|NONE|ENTERQUEUE||13900139235|1
1796681550|1796681536.6|hotline|8005|RINGNOANSWER|10000
1796681551|1796681536.6|hotline|8006|CONNECT|15|1796681550.9|1
1796681552|MANAGER|hotline|8005|PAUSE|未接
1796681560|1796681559.2|hotline|8007|RINGNOANSWER|2000
"""


def test_a_ring_no_answer_line_and_nothing_else() -> None:
    assert parse_miss("1796681550|1796681536.6|hotline|8005|RINGNOANSWER|10000\n") == LoggedMiss(
        datetime.fromtimestamp(1796681550, UTC), "1796681536.6", "hotline", "8005", 10000
    )
    assert parse_miss("1796681551|1796681536.6|hotline|8006|CONNECT|15|1796681550.9|1") is None
    assert parse_miss("17966815") is None  # a line torn by a crash


def test_misses_since_a_time_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(LINES)
    got = read_misses(log, datetime.fromtimestamp(1796681545, UTC))
    assert [(m.seat, m.uniqueid, m.ring_ms) for m in got] == [("8005", "1796681536.6", 10000),
                                                              ("8007", "1796681559.2", 2000)]  # fmt: skip
    assert [m.seat for m in read_misses(log, datetime.fromtimestamp(1796681555, UTC))] == ["8007"]
    assert read_misses(tmp_path / "absent", datetime.fromtimestamp(0, UTC)) == []


def test_a_long_log_is_read_from_its_end_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines cut by the block boundaries are joined; reading stops at the first line older than asked."""
    log = tmp_path / "queue_log"
    old = "".join(f"{1700000000 + i}|1.{i}|hotline|8001|RINGNOANSWER|10000\n" for i in range(20_000))
    log.write_text(old + LINES)
    monkeypatch.setattr(queuelog, "BLOCK", 1000)
    reads: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        handle = real_open(self, *args, **kwargs)  # type: ignore[call-overload]
        real_read = handle.read
        handle.read = lambda n=-1: reads.append(n) or real_read(n)  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(Path, "open", counting_open)
    got = read_misses(log, datetime.fromtimestamp(1796681545, UTC))
    assert [m.seat for m in got] == ["8005", "8007"]
    assert sum(reads) < 3000, f"read {sum(reads)} bytes of {log.stat().st_size}"
    everything = read_misses(log, datetime.fromtimestamp(0, UTC))
    assert len(everything) == 20_002 and everything[0].uniqueid == "1.0" and everything[-1].seat == "8007"


def test_a_last_line_cut_short_is_left_out(tmp_path: Path) -> None:
    """A crash can leave the last line half written: "17" would read as a time long ago and stop the reading."""
    log = tmp_path / "queue_log"
    log.write_text(LINES + "17")
    assert [m.seat for m in read_misses(log, datetime.fromtimestamp(1796681545, UTC))] == ["8005", "8007"]


def test_each_seats_last_answer_or_resume(tmp_path: Path) -> None:
    """What ends a seat's run of misses, as the log has it: its last CONNECT (answered) or UNPAUSE (resumed)."""
    log = tmp_path / "queue_log"
    log.write_text(
        LINES + "1796681570|MANAGER|hotline|8005|UNPAUSE|\n1796681575|1796681574.3|hotline|8006|CONNECT|1|x|1\n"
    )
    at = lambda s: datetime.fromtimestamp(s, UTC)  # noqa: E731
    since = at(1796681540)
    assert queuelog.last_events(log, since, frozenset({"CONNECT"})) == {"8006": at(1796681575)}
    assert queuelog.last_events(log, since, frozenset({"CONNECT", "UNPAUSE"})) == {
        "8005": at(1796681570),
        "8006": at(1796681575),
    }
    assert queuelog.last_events(log, at(1796681572), frozenset({"UNPAUSE"})) == {}  # older than `since`
    assert queuelog.last_events(tmp_path / "none", since, frozenset({"CONNECT"})) == {}
