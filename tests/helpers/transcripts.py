"""Replay AMI transcripts recorded from the real Asterisk 22 (tests/record_transcript.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ami_bridge import events as ev
from ami_bridge.protocol import AmiParser, Frame

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts"


def wire_bytes(name: str) -> bytes:
    """The transcript as Asterisk sent it on the wire, banner first."""
    out = [b"Asterisk Call Manager/11.0.0\r\n"]
    for line in (TRANSCRIPTS / name).read_text().splitlines():
        headers = json.loads(line)
        out.append("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")
    return b"".join(out)


def frames(name: str) -> list[Frame]:
    return AmiParser().feed(wire_bytes(name))


def events(name: str) -> list[ev.Event]:
    return [e for e in map(ev.decode, frames(name)) if e is not None]
