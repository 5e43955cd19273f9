"""Asterisk's queue_log: app_queue's own record of every queue event, a line each, written as it happens and kept
on disk (`epoch|callid|queue|agent|event|data…`, asterisk-conf/logger.conf). The bridge reads the ring misses
(RINGNOANSWER: a seat let the call ring out, or refused it) it may not have kept: those that happened while no
bridge followed Asterisk, and those still in the write-behind when the service was killed. Asterisk writes whole
seconds: a miss found here is as precise as that.

    read_misses(Path(".../log/queue_log"), since)   # every RINGNOANSWER at or after `since`, oldest first
    last_events(path, since, frozenset({"CONNECT"}))  # each seat's last answer since then
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BLOCK = 64 * 1024  # read backwards from the end in blocks of this size until a line is older than `since`


@dataclass(frozen=True, slots=True)
class LoggedMiss:
    at: datetime  # whole seconds
    uniqueid: str  # the caller's channel in the queue
    queue: str
    seat: str  # the member's name
    ring_ms: int | None


def parse_miss(line: str) -> LoggedMiss | None:
    """A RINGNOANSWER line, or None for any other line (or a torn one)."""
    parts = line.strip().split("|")
    if len(parts) < 5 or parts[4] != "RINGNOANSWER" or not parts[0].isdigit():
        return None
    ring = parts[5] if len(parts) > 5 else ""
    at = datetime.fromtimestamp(int(parts[0]), UTC)
    return LoggedMiss(at, parts[1], parts[2], parts[3], int(ring) if ring.isdigit() else None)


def read_misses(path: Path, since: datetime) -> list[LoggedMiss]:
    """Every RINGNOANSWER in the file at or after `since` (whole seconds: a second early counts), oldest first;
    [] when the file is not there (Asterisk on another host, or queue_log off)."""
    floor = int(since.timestamp())
    found: list[LoggedMiss] = []
    for line in _lines_backwards(path):
        stamp = line.split("|", 1)[0]
        if stamp.isdigit() and int(stamp) < floor:
            break
        miss = parse_miss(line)
        if miss is not None:
            found.append(miss)
    return found[::-1]


def last_events(path: Path, since: datetime, events: frozenset[str]) -> dict[str, datetime]:
    """For each member (seat), when it last had one of `events` (e.g. CONNECT: it answered; UNPAUSE: it resumed)
    at or after `since`; seats with none in that span are absent."""
    floor = int(since.timestamp())
    last: dict[str, datetime] = {}
    for line in _lines_backwards(path):
        parts = line.strip().split("|")
        if parts[0].isdigit() and int(parts[0]) < floor:
            break
        if len(parts) >= 5 and parts[0].isdigit() and parts[4] in events and parts[3] not in last:
            last[parts[3]] = datetime.fromtimestamp(int(parts[0]), UTC)
    return last


def _lines_backwards(path: Path) -> Iterator[str]:
    """The file's whole lines, newest first, read from the end a block at a time: the caller stops at the first
    line older than it needs, so a log of months costs only the blocks read."""
    try:
        handle = path.open("rb")
    except OSError:
        return
    with handle:
        end = handle.seek(0, os.SEEK_END)
        tail = b""
        if end:  # a last line not ended yet (being written, or torn by a crash) is left out: it may be cut short
            handle.seek(end - 1)
            if handle.read(1) != b"\n":
                handle.seek(0)
                end = handle.read(end).rfind(b"\n") + 1
        while end > 0:
            start = max(0, end - BLOCK)
            handle.seek(start)
            lines = (handle.read(end - start) + tail).split(b"\n")
            tail = lines.pop(0) if start > 0 else b""  # maybe cut: joined with the block before it
            for raw in reversed(lines):
                if raw:
                    yield raw.decode("utf-8", "replace")
            end = start
