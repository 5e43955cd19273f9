"""The recording files themselves: measure (size, checksum, duration with sox), find, list, delete. Blocking
I/O: call through asyncio.to_thread, never on the event loop."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

from hotline.errors import Unavailable

from .checker import FileFacts
from .formats import Format
from .paths import PathRefused, relative_path, resolve


class SoxMissing(Unavailable, RuntimeError):
    """sox (or soxi) is not installed: recordings cannot be finalised or measured."""

    error = "sox-missing"


@dataclass(frozen=True, slots=True)
class Measured:
    facts: FileFacts
    sha256: str | None


def sox_duration(path: Path) -> float | None:
    """Seconds of audio by sox (`soxi -D`); None if sox cannot read the file."""
    soxi = shutil.which("soxi")
    if soxi is None:
        raise SoxMissing("soxi (package sox) is not installed: `apt-get install -y sox`")
    out = subprocess.run([soxi, "-D", str(path)], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        return None
    try:
        return float(out.stdout.strip())
    except ValueError:
        return None


def measure(path: Path) -> Measured:
    if not path.is_file():
        return Measured(FileFacts(exists=False), None)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    size = path.stat().st_size
    return Measured(FileFacts(True, size, sox_duration(path) if size else 0.0), digest.hexdigest())


RAW_RATE = 8000  # MixMonitor's D writes 16-bit signed linear at 8 kHz, two channels interleaved, no header
RAW = ".raw"


def raw_of(final: Path) -> Path:
    """The .raw Asterisk writes (MixMonitor D) beside the file it becomes; `final` comes from resolve()."""
    return final.with_suffix(RAW)


def finalise(root: Path, rel: str) -> bool:
    """Turn the call's .raw (stereo, interleaved) into `rel`, in the format its extension names (ogg, flac,
    wav), with sox, and delete the .raw; False if there was no .raw (already done, or never written). A file
    of the call's in another format is replaced: one file per call (it is the same audio when an earlier
    finalising was cut short before the .raw was deleted). Off the call path: after the call, in a thread."""
    final = resolve(root, rel)
    fmt = Format.of_name(final.name)
    raw = raw_of(final)
    if not raw.is_file():
        return False
    sox = shutil.which("sox")
    if sox is None:
        raise SoxMissing("sox is not installed: `apt-get install -y sox`")
    tmp = final.with_name(f".{final.stem}.tmp{fmt.suffix}")  # sox picks the format by the extension
    try:
        subprocess.run(
            [sox, "-t", "raw", "-r", str(RAW_RATE), "-e", "signed-integer", "-b", "16", "-c", "2", str(raw),
             *fmt.sox_options, str(tmp)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(final)
    for other in Format:
        if other is not fmt:
            final.with_suffix(other.suffix).unlink(missing_ok=True)
    raw.unlink()
    return True


def located(root: Path, day: date, call_id: str, fmt: Format) -> str | None:
    """The relative path of a call's recording filed on `day`: while Asterisk's .raw is there, the path it
    becomes in `fmt`; else its finished file in whatever format it was made in (a .wav from before a switch
    of format stays one); None if there is neither. PathRefused for an id that is no call id."""
    target = relative_path(day, call_id, fmt)
    if raw_of(resolve(root, target)).is_file():
        return target
    for rel in (target, *(relative_path(day, call_id, f) for f in Format if f is not fmt)):
        if resolve(root, rel).is_file():
            return rel
    return None


def find(root: Path, call_id: str, around: date, fmt: Format) -> str | None:
    """The relative path of a call's file (see `located`) filed on `around` or the day before or after (a
    call that reached the queue just after midnight), or None."""
    for delta in (0, -1, 1):
        try:
            rel = located(root, around + timedelta(days=delta), call_id, fmt)
        except PathRefused:
            return None
        if rel is not None:
            return rel
    return None


@dataclass(frozen=True, slots=True)
class OnDisk:
    """A recording found in a day's folder."""

    call_id: str
    rel: str  # the path the catalogue names (YYYY/MM/DD/<call id>.<ext>, `located`), even while only a .raw is there
    raw: bool  # a .raw is there: still being written, or not finalised yet
    modified: datetime  # the last write to either file


RECORDING_SUFFIXES = frozenset((RAW, *(f.suffix for f in Format)))


def on_disk(root: Path, day: date, fmt: Format) -> list[OnDisk]:
    """The recordings filed under `day`, one per call id (a .raw not finalised yet is named by the path it
    becomes in `fmt`). Names that are not a call id's .raw, .ogg, .flac or .wav (sox's temporary
    `.<id>.tmp.<ext>`, anything else) and symlinks are not Asterisk's and are left out."""
    folder = root / f"{day:%Y/%m/%d}"
    if not folder.is_dir():
        return []
    found: dict[str, tuple[bool, datetime]] = {}
    for path in folder.iterdir():
        if path.suffix not in RECORDING_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        try:
            resolve(root, relative_path(day, path.stem, fmt))
        except PathRefused:
            continue
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        raw, before = found.get(path.stem, (False, modified))
        found[path.stem] = (raw or path.suffix == RAW, max(modified, before))
    listed = []
    for call_id, (raw, modified) in found.items():
        rel = located(root, day, call_id, fmt)
        if rel is not None:  # None: gone since the folder was read
            listed.append(OnDisk(call_id, rel, raw, modified))
    return sorted(listed, key=lambda f: f.rel)


def delete(root: Path, rel: str) -> bool:
    path = resolve(root, rel)
    if path.is_file():
        path.unlink()
        return True
    return False


def delete_strays(root: Path, rel: str) -> int:
    """Retention, once the row of `rel` is marked purged: copies of the same call in other formats beside it
    (a `hotline qa recompress` cut short between writing the new file and moving the row) go too, since
    the row will never name them. How many there were."""
    path = PurePosixPath(rel)
    return sum(delete(root, str(path.with_suffix(f.suffix))) for f in Format if f.suffix != path.suffix)
