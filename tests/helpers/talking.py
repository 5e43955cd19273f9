"""A citizen who talks (sends audio), on the test Asterisk's SIP port: see hotline.demo.phones.citizen_talks."""

from __future__ import annotations

from pathlib import Path

from hotline.demo import phones
from hotline.demo.phones import Phone, voice_file
from tests.helpers import realparts

__all__ = ["called_citizen_talks", "citizen_talks", "voice_file"]


async def citizen_talks(
    number: str, hold_ms: int, log_dir: Path, *, index: int = 0, sip_port: int = realparts.SIP_PORT
) -> Phone:
    return await phones.citizen_talks(number, hold_ms, log_dir, sip_port=sip_port, index=index)


async def called_citizen_talks(log_dir: Path, *, ring_ms: int, talk_ms: int = 60000, name: str = "citizen") -> Phone:
    """A citizen called back (回访) who talks: the unit phone's scenario (hotline.demo.phones.unit_phone) on the
    called citizens' port, answering after `ring_ms` and sending the tone from the answer on."""
    folder = log_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    text = (phones.SCENARIOS / "unit.xml").read_text()
    for key, value in {"RING_MS": ring_ms, "ANSWER": 1, "TALK_MS": talk_ms, "CODE": 486}.items():
        text = text.replace(key, str(value))
    acked = '<recv request="ACK" crlf="true"/>'
    assert text.count(acked) == 1, "unit.xml changed: where does the call start?"
    talk = f'<nop><action><exec rtp_stream="{voice_file(folder)},-1,8"/></action></nop>'
    scenario = folder / "citizen-talks.xml"
    scenario.write_text(text.replace(acked, f"{acked}\n  {talk}"))
    args = ["-sf", str(scenario), "-p", str(phones.CALLED_CITIZEN_PORT), "-m", "1", "-trace_msg",
            "-message_file", str(folder / "msg.log")]  # fmt: skip
    return await phones._spawn(name, args, folder)
