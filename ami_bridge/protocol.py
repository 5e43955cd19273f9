"""The AMI wire protocol as a pure state machine: bytes in, frozen frames out, no I/O.

Asterisk sends a one-line banner (``Asterisk Call Manager/x.y.z``) and then frames of
``Name: value`` lines ended by an empty line. Frames are split on bytes before decoding: a UTF-8
character can never contain CR or LF, so a Chinese caller name split across two TCP reads is
kept whole (panoramisk 1.4 decodes each read alone and drops such characters).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)

EOL = b"\r\n"
END = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
MAX_FRAME = 1 << 20  # no sane AMI frame is bigger; a bigger one means a broken stream


class AmiProtocolError(Exception):
    """The bytes from Asterisk are not AMI. The connection must be recycled."""


class FrameKind(enum.Enum):
    EVENT = "event"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Frame:
    """One AMI message. Header names keep Asterisk's spelling; lookups ignore case."""

    kind: FrameKind
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    @property
    def name(self) -> str:
        """The event's name, or the response's status (Success, Error, Goodbye...)."""
        return self.get("Event") if self.kind is FrameKind.EVENT else self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    @property
    def timestamp(self) -> datetime | None:
        """Asterisk's own time for the event (manager.conf timestampevents=yes)."""
        raw = self.get("Timestamp")
        if not raw:
            return None
        try:
            return datetime.fromtimestamp(float(raw), tz=UTC)
        except ValueError:
            return None

    def variables(self) -> dict[str, str]:
        """Channel variables sent with the event (manager.conf channelvars): ChanVariable-NAME headers."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            if key.lower().startswith("chanvariable"):
                # Asterisk 22: "ChanVariable: NAME=value"; older: "ChanVariable(chan): NAME=value"
                name, _, val = value.partition("=")
                out[name] = val
        return out

    def as_dict(self) -> dict[str, str]:
        return dict(self.headers)


class _State(enum.Enum):
    BANNER = "banner"
    FRAMES = "frames"


class AmiParser:
    """Feed bytes, get frames.

    Input that is not AMI stops the parser: `feed` still returns the good frames that came before
    it and sets `error`; any later `feed` raises that AmiProtocolError. The connection must then
    be recycled.
    """

    def __init__(self, *, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._state = _State.BANNER
        self._max_frame = max_frame
        self.version: str | None = None
        self.error: AmiProtocolError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self.error is not None:
            raise self.error
        frames: list[Frame] = []
        try:
            self._feed(data, frames)
        except AmiProtocolError as exc:
            self.error = exc
            self._buffer.clear()
        return frames

    def _feed(self, data: bytes, frames: list[Frame]) -> list[Frame]:
        self._buffer += data
        if self._state is _State.BANNER and not self._read_banner():
            return frames
        while True:
            end = self._buffer.find(END)
            if end < 0:
                if len(self._buffer) > self._max_frame:
                    raise AmiProtocolError(f"no end of frame after {len(self._buffer)} bytes")
                return frames
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(END)]
            frame = self._parse(raw)
            if frame is not None:
                frames.append(frame)

    def _read_banner(self) -> bool:
        end = self._buffer.find(EOL)
        if end < 0:
            if len(self._buffer) > 200 or not BANNER_PREFIX.startswith(bytes(self._buffer[: len(BANNER_PREFIX)])):
                raise AmiProtocolError(f"not an AMI server: starts with {bytes(self._buffer[:60])!r}")
            return False
        line = bytes(self._buffer[:end])
        if not line.startswith(BANNER_PREFIX):
            raise AmiProtocolError(f"not an AMI server: banner is {line[:60]!r}")
        self.version = line[len(BANNER_PREFIX) :].decode("ascii", "replace").strip()
        del self._buffer[: end + len(EOL)]
        self._state = _State.FRAMES
        return True

    @staticmethod
    def _parse(raw: bytes) -> Frame | None:
        text = raw.decode("utf-8", "replace").strip("\r\n")
        if not text:
            return None
        headers: list[tuple[str, str]] = []
        for number, line in enumerate(text.split("\r\n"), 1):
            key, sep, value = line.partition(":")
            if not sep or not key or " " in key.strip():
                raise AmiProtocolError(f"line {number} of a frame is not 'Name: value': {line[:80]!r}")
            headers.append((key.strip(), value[1:] if value.startswith(" ") else value))
        first = headers[0][0].lower()
        if first == "event":
            return Frame(FrameKind.EVENT, tuple(headers))
        if first == "response":
            return Frame(FrameKind.RESPONSE, tuple(headers))
        raise AmiProtocolError(f"frame starts with {headers[0][0]!r}, neither Event nor Response")


FieldValue = str | int | float | bool | Iterable[str]


def encode_action(action: str, action_id: str, fields: Mapping[str, FieldValue] | None = None) -> bytes:
    """Serialize an action. Values with CR or LF are refused: they would inject headers."""
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    for key, value in (fields or {}).items():
        values = [value] if isinstance(value, str | int | float | bool) else list(value)
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            if "\r" in text or "\n" in text or "\r" in key or "\n" in key:
                raise ValueError(f"AMI field {key!r} of action {action} holds a line break: refused")
            lines.append(f"{key}: {text}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
