"""`hotline qa recompress`: re-encode the finished recordings stored in another format than the configured one
(HOTLINE_RECORDING_FORMAT; a centre's `.wav` files from before the switch to Ogg), one file at a time, off the
call path. Newest first: retention deletes the oldest soon anyway.

Only a catalogued, not purged file that nothing writes any more is touched: no `.raw` beside it (not finalised
yet: the sweep or the nightly check makes it the configured format), not written to in the last RECENT_S, its
id not live in Asterisk (as the sweep decides). Never toward a bigger format (Ogg to FLAC or WAV would grow the
file and restore nothing Vorbis left out), never a file the checker flagged missing, empty or unreadable.

Per file, so that a crash at any point loses nothing and a rerun finishes the job:
1. sox encodes the old file into a hidden temporary beside it (`.<id>.recompress.<ext>`: no call id, the sweep
   ignores it) with the options new recordings get (formats.py). Its length by soxi must be the old one's
   within DURATION_TOLERANCE_S (a WAV whose header promises more than it holds fails), else the temporary is
   deleted and the old file kept, reported as failed.
2. the temporary is synced and renamed to `<id>.<ext>`. Both files exist; the row names the old one, which is
   the recording (a rerun encodes it again and replaces the new one).
3. the row moves to the new file (path, size, sha256, duration, the checker's verdict as the nightly check
   writes it) only while it still names the old one and is not purged (the service's check and purge may run
   meanwhile and write only a row that still names the path they read); else the new file is deleted.
4. the old file is deleted. Crash before: both exist and the row names the new one; a rerun deletes the old
   one once the new one's sha256 is the row's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.errors import Conflict, HotlineError

from . import files
from .checker import RecStatus, recheck, verdict
from .formats import MIB_PER_MINUTE, Format
from .paths import parse_relative, relative_path, resolve
from .sweep import outbound_of

if TYPE_CHECKING:
    from .service import RecordingService

log = logging.getLogger(__name__)
RECENT_S = 300.0  # a file written to within this many seconds is left for a later run
DURATION_TOLERANCE_S = 0.1  # the re-encoded file's length (soxi) against the original's
SMALLEST_FIRST = (Format.OGG, Format.FLAC, Format.WAV)  # never re-encoded toward a later one
FILE_PROBLEMS = frozenset({RecStatus.MISSING, RecStatus.EMPTY, RecStatus.UNREADABLE})
MIB = 1024 * 1024


class Failed(HotlineError):
    """This file was not re-encoded; the message says why and what was kept."""

    error = "recompress-failed"


class Busy(Conflict, RuntimeError):
    """Another `hotline qa recompress` runs on the same recordings."""

    error = "recompress-busy"


@dataclass
class Report:
    target: Format
    dry_run: bool
    converted: list[tuple[str, str, int, int]] = field(default_factory=list)  # id, path, bytes before, after
    finished: int = 0  # old files an interrupted run left beside a row that names the new one: deleted
    skipped: Counter[str] = field(default_factory=Counter)  # why -> how many
    failed: list[tuple[str, str]] = field(default_factory=list)  # id, why

    def lines(self) -> list[str]:
        would = "would " if self.dry_run else ""
        out = [f"  {i}  {p}  {b / MIB:.2f} MiB -> ~{a / MIB:.2f} MiB" for i, p, b, a in self.converted if self.dry_run]
        before, after = sum(c[2] for c in self.converted), sum(c[3] for c in self.converted)
        ratio = f" ({after / before:.0%} of before)" if before else ""
        verb = "would convert" if self.dry_run else "converted"
        out.append(f"{verb} {len(self.converted)} recordings into {self.target}: {before / MIB:.1f} MiB -> "
                   f"{'~' if self.dry_run else ''}{after / MIB:.1f} MiB{ratio}, {(before - after) / MIB:.1f} MiB "
                   f"{'to save' if self.dry_run else 'saved'}")  # fmt: skip
        if self.finished:
            out.append(f"{would}delete {self.finished} old files an interrupted run left (their rows name the new)")
        out += [f"skipped {sum(self.skipped.values())}:"] if self.skipped else []
        out += [f"  {n}  {why}" for why, n in sorted(self.skipped.items())]
        out += [f"FAILED {len(self.failed)} (each kept as it was):"] if self.failed else []
        out += [f"  {call_id}: {why}" for call_id, why in self.failed]
        return out


@contextlib.contextmanager
def alone(root: Path) -> Iterator[None]:
    """One run at a time on a recordings root (two would encode into the same temporary files)."""
    with (root / ".recompress.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another `hotline qa recompress` is running on {root}: let it finish") from None
        yield


def left_alone(root: Path, row: dict[str, Any], target: Format, now: datetime, live: Collection[str]) -> str | None:
    """Why the row's file is not to be touched now, or None. Blocking (stat): in a thread."""
    status, path = RecStatus(row["status"]), resolve(root, row["path"])
    if status in FILE_PROBLEMS:
        return f"flagged {status}: left for a person to look at"
    if files.raw_of(path).exists():
        return "a .raw beside it: not finalised yet (the sweep or the nightly check makes it the configured format)"
    if not path.is_file():
        return "its file is not there (the nightly check flags it)"
    if now.timestamp() - path.stat().st_mtime < RECENT_S:
        return f"written to in the last {RECENT_S / 60:g} minutes: maybe a live call's"
    out = outbound_of(row["call_id"])
    if row["call_id"] in live or (out is not None and out[1] in live):
        return "its call is live in Asterisk"
    source = Format.of_name(path.name)
    if SMALLEST_FIRST.index(target) > SMALLEST_FIRST.index(source):
        return f"{source} into {target} would only grow it"
    return None


def others_of(root: Path, rel: str) -> list[Path]:
    """The call's files in other formats beside the row's own (blocking)."""
    path = resolve(root, rel)
    return [p for f in Format if (p := path.with_suffix(f.suffix)) != path and p.is_file()]


def check_current(root: Path, row: dict[str, Any], others: list[Path]) -> None:
    """Before an interrupted run's old file is deleted: the row's file is the one it catalogued (blocking)."""
    if files.measure(resolve(root, row["path"])).sha256 != row["sha256"]:
        raise Failed(f"{row['path']} is not the file its row catalogued (sha256), and {others[0].name} is beside it: "
                     "both kept; `hotline qa check` measures it again")  # fmt: skip


def encode(root: Path, rel: str, target: Format) -> tuple[str, files.Measured]:
    """Steps 1 and 2: the new file beside the old, checked and renamed into place; its path and measures."""
    old = resolve(root, rel)
    day, call_id = parse_relative(rel)
    new_rel = relative_path(day, call_id, target)
    new = resolve(root, new_rel)
    tmp = new.with_name(f".{new.stem}.recompress{target.suffix}")  # sox picks the format by the extension
    sox = shutil.which("sox")
    if sox is None:
        raise files.SoxMissing("sox is not installed: `apt-get install -y sox`")
    was = files.sox_duration(old)
    if was is None:
        raise Failed(f"sox cannot read {rel} (`soxi {old}` says why)")
    try:
        done = subprocess.run([sox, str(old), *target.sox_options, str(tmp)], capture_output=True, timeout=900)
        if done.returncode != 0:
            raise Failed(f"sox could not re-encode {rel}: {done.stderr.decode(errors='replace').strip()[:300]}")
        made = files.measure(tmp)
        got = made.facts.duration_s
        if got is None or abs(got - was) > DURATION_TOLERANCE_S:
            held = "no readable audio" if got is None else f"{got:.2f} s"
            raise Failed(f"{rel} says {was:.2f} s, its {target} re-encoding holds {held}: kept as it was (a file "
                         f"cut short whose header promises more? `sox {old} -n stat`)")  # fmt: skip
        _sync(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(new)
    _sync(new.parent)
    return new_rel, made


def _sync(path: Path) -> None:
    """On the disk before the catalogue names it: a power cut must not leave the row pointing at a hole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def recompress(service: RecordingService, *, since: date | None, live: Collection[str], dry_run: bool = False,
                     now: datetime | None = None, who: str = "hotline") -> Report:  # fmt: skip
    """Re-encode the kept recordings of days from `since` (None: all) into the configured format; `live`: the ids
    live in Asterisk now. The audit log gets one `recompress` entry by `who` per file."""
    root, target, now = service.root, service.config.format, now or datetime.now(UTC)
    report = Report(target, dry_run)
    rows = sorted(await service.store.kept(since=since), key=lambda r: (r["day"], r["call_id"]), reverse=True)
    with contextlib.nullcontext() if dry_run or not root.is_dir() else alone(root):  # no folder: no file to do
        for row in rows:
            call_id, rel = row["call_id"], row["path"]
            try:
                done = Format.of_name(rel) is target
                old = await asyncio.to_thread(others_of, root, rel) if done else []
                if done and not old:
                    report.skipped[f"already {target}"] += 1
                    continue
                why = await asyncio.to_thread(left_alone, root, row, target, now, live)
                if why is None and old:  # step 4 of an interrupted run
                    await asyncio.to_thread(check_current, root, row, old)
                    for path in [] if dry_run else old:
                        log.info("call %s: %s deleted: left by an interrupted run, the row names %s", call_id,
                                 path.name, rel)  # fmt: skip
                        path.unlink(missing_ok=True)
                    report.finished += len(old)
                    continue
                if why is not None:
                    report.skipped[why] += 1
                    continue
                if dry_run:
                    size = (await asyncio.to_thread(resolve(root, rel).stat)).st_size
                    expected = int(size * MIB_PER_MINUTE[target] / MIB_PER_MINUTE[Format.of_name(rel)])
                    report.converted.append((call_id, rel, size, expected))
                    continue
                report.converted.append(await _one(service, row, target, who))
            except (Failed, OSError, ValueError, subprocess.SubprocessError) as exc:  # ValueError: a refused path
                log.error("call %s: recording %s not re-encoded into %s: %s", call_id, rel, target, exc)
                report.failed.append((call_id, str(exc)))
    return report


async def _one(service: RecordingService, row: dict[str, Any], target: Format, who: str) -> tuple[str, str, int, int]:
    call_id, rel, root = row["call_id"], row["path"], service.root
    before = (await asyncio.to_thread(resolve(root, rel).stat)).st_size
    new_rel, made = await asyncio.to_thread(encode, root, rel, target)
    fresh = verdict(made.facts, row["call_s"], service.config.tolerance_s)
    result = recheck(RecStatus(row["status"]), row["status_reason"] or "", fresh)
    moved = await service.store.set_status(call_id, result.status, result.reason, if_at=rel, path=new_rel,
                                           size=made.facts.size, sha256=made.sha256,
                                           duration_s=made.facts.duration_s)  # fmt: skip
    if not moved:
        now_row = await service.store.get(call_id)
        if now_row is None or now_row["path"] != new_rel:
            await asyncio.to_thread(files.delete, root, new_rel)
        raise Failed(f"its catalogue row changed meanwhile (purged?): {new_rel} deleted, the row left as it is")
    shas = f"sha256 {(row['sha256'] or '-')[:16]}… -> {(made.sha256 or '-')[:16]}…"
    await service.store.audit(who, "system", "recompress", call_id, f"{rel} -> {new_rel}; {shas}", None)
    await asyncio.to_thread(files.delete, root, rel)
    log.info("call %s: recording %s re-encoded into %s (%d -> %d bytes, %s)", call_id, rel, new_rel, before,
             made.facts.size, result.status)  # fmt: skip
    return call_id, rel, before, made.facts.size
