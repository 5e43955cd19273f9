"""Key presses for sipp citizens: sipp's RFC 2833 recordings, renumbered so that each press counts.

    pcap = press_pcap("1", press=2)      # bytes of a pcap for play_pcap_audio: the call's third key, "1"

Debian's sip-tester ships one recording per key (/usr/share/sip-tester/dtmf_2833_<key>.pcap), all with
one SSRC, a fixed RTP timestamp per key and sequence numbers that differ by key. Asterisk drops an
event whose sequence number is not above the last one it took ("Dropping out of order DTMF frame" in
res_rtp_asterisk's debug log) and an END with the last END's timestamp, so a key pressed twice, or "2"
(seq 8042…) before "1" (seq 7984…), is lost. Here every press gets its own sequence numbers and
timestamp, rising with `press`; the packets' timing and payload stay as recorded. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hotline.errors import Invalid

DTMF_PCAPS = Path("/usr/share/sip-tester")  # sipp's RFC 2833 telephone-event recordings (Debian sip-tester)
PCAP_HEADER = 24
RECORD_HEADER = 16
ETHERNET = 14
SEQ_STEP = 100  # sequence numbers per press: a recording has 10 packets
TS_STEP = 16000  # RTP timestamp per press (2 s at 8 kHz)


class DtmfError(Invalid, ValueError):
    """Not a recording this module can renumber; the message names the file or the packet."""

    error = "dtmf-invalid"


def recording(key: str) -> Path:
    name = {"*": "star", "#": "pound"}.get(key, key)
    path = DTMF_PCAPS / f"dtmf_2833_{name}.pcap"
    if not path.is_file():
        raise DtmfError(f"no DTMF recording {path}: sipp's pcaps come with `apt-get install sip-tester`")
    return path


def rtp_offsets(pcap: bytes) -> list[int]:
    """Where each packet's RTP header starts (Ethernet / IPv4 / UDP, as sipp's recordings are)."""
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", pcap[:PCAP_HEADER])
    if magic != 0xA1B2C3D4 or link != 1:
        raise DtmfError(f"not a little-endian Ethernet pcap (magic {magic:#x}, link type {link})")
    offsets, at = [], PCAP_HEADER
    while at + RECORD_HEADER <= len(pcap):
        length = struct.unpack("<I", pcap[at + 8 : at + 12])[0]
        packet = at + RECORD_HEADER
        ip_header = (pcap[packet + ETHERNET] & 0x0F) * 4
        offsets.append(packet + ETHERNET + ip_header + 8)
        at = packet + length
    return offsets


def renumber(pcap: bytes, *, seq: int, timestamp: int) -> bytes:
    """The recording with its RTP sequence numbers starting at `seq` (gaps and repeats kept) and every
    packet's timestamp set to `timestamp` (one event: one timestamp); UDP checksums cleared (sipp
    computes its own)."""
    out = bytearray(pcap)
    offsets = rtp_offsets(pcap)
    if not offsets:
        raise DtmfError("the recording holds no packet")
    first = struct.unpack(">H", pcap[offsets[0] + 2 : offsets[0] + 4])[0]
    for rtp in offsets:
        old = struct.unpack(">H", pcap[rtp + 2 : rtp + 4])[0]
        struct.pack_into(">HI", out, rtp + 2, (seq + old - first) & 0xFFFF, timestamp & 0xFFFFFFFF)
        struct.pack_into(">H", out, rtp - 2, 0)
    return bytes(out)


def press_pcap(key: str, press: int) -> bytes:
    """The pcap of the call's `press`-th key (from 0): later presses get higher numbers."""
    return renumber(recording(key).read_bytes(), seq=1000 + SEQ_STEP * press, timestamp=TS_STEP * (press + 1))
