"""Where a recording lives, pure: ``<root>/<YYYY>/<MM>/<DD>/<call id>.<ext>``, ext one of the formats
(hotline/recordings/formats.py: ogg, flac, wav; Asterisk's .raw beside it until the call is finalised).

The call id is the one Asterisk gave the call (HOTLINE_CALL, e.g. ``1764566400.12``); nothing a caller or a
user typed ever becomes part of a path. Every path handed to the file system goes through `resolve`, which
refuses anything that is not exactly that shape or that would leave the root (``..``, absolute paths,
symlinks pointing out).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from hotline.errors import Invalid

from .formats import Format

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}(\.[0-9]{1,12})?$")
RELATIVE = re.compile(
    r"^(\d{4})/(\d{2})/(\d{2})/([A-Za-z0-9][A-Za-z0-9_-]{0,40}(?:\.[0-9]{1,12})?)\.(" + "|".join(Format) + ")$"
)  # exactly the formats' extensions: nothing else is ever served or deleted
SHAPE = f"YYYY/MM/DD/<call id>.{{{','.join(Format)}}}"


class PathRefused(Invalid, ValueError):
    """A call id or a stored path that must not reach the file system."""

    error = "path-refused"


def check_call_id(call_id: str) -> str:
    if not CALL_ID.fullmatch(call_id):
        raise PathRefused(f"call id {call_id[:80]!r} is not a call id (letters, digits, '-', '_', one '.digits')")
    return call_id


def relative_path(day: date, call_id: str, fmt: Format) -> str:
    """The recording's path under the root: date folders, then the call id, then the format's extension."""
    check_call_id(call_id)
    return f"{day:%Y/%m/%d}/{call_id}{Format(fmt).suffix}"


def parse_relative(rel: str) -> tuple[date, str]:
    """(day, call id) of a stored relative path; PathRefused if it is not exactly our shape."""
    m = RELATIVE.fullmatch(rel)  # fullmatch: `$` alone lets a trailing newline through
    if m is None:
        raise PathRefused(f"{rel[:120]!r} is not a recording path ({SHAPE})")
    y, mo, d, call_id, _ = m.groups()
    try:
        return date(int(y), int(mo), int(d)), call_id
    except ValueError:
        raise PathRefused(f"{rel[:120]!r}: not a real date") from None


def resolve(root: Path, rel: str) -> Path:
    """The file for `rel` under `root`; PathRefused if `rel` is not ours or the result leaves the root."""
    parse_relative(rel)
    base = root.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise PathRefused(f"{rel[:120]!r} leads outside the recordings root")
    return path
