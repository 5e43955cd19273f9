"""sipp's RFC 2833 recordings renumbered per key press (hotline.demo.dtmf): what Asterisk needs to take
every press (rising sequence numbers, a new timestamp per event), the rest of each packet as recorded."""

from __future__ import annotations

import itertools
import struct

import pytest

from hotline.demo import dtmf


def rtp(pcap: bytes) -> list[tuple[int, int, int, bytes]]:
    """(seq, timestamp, ssrc, event payload) of each packet."""
    out = []
    for at in dtmf.rtp_offsets(pcap):
        seq, ts, ssrc = struct.unpack(">HII", pcap[at + 2 : at + 12])
        out.append((seq, ts, ssrc, pcap[at + 12 : at + 16]))
    return out


def test_a_recording_is_renumbered_and_keeps_its_events() -> None:
    original = dtmf.recording("1").read_bytes()
    renumbered = dtmf.renumber(original, seq=5000, timestamp=48000)
    before, after = rtp(original), rtp(renumbered)
    assert len(before) == len(after) == 10
    assert [s for s, *_ in before] == [7984, 7985, 7986, 7987, 7988, 7989, 7990, 7991, 7991, 7991]
    assert [s for s, *_ in after] == [5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5007, 5007]  # END sent 3 times
    assert {ts for _, ts, _, _ in after} == {48000}
    assert [(ssrc, event) for _, _, ssrc, event in after] == [(ssrc, event) for _, _, ssrc, event in before]
    assert len(renumbered) == len(original)


@pytest.mark.parametrize("keys", ["11", "21", "1390013907"])
def test_later_presses_get_higher_numbers_whatever_the_keys(keys: str) -> None:
    packets = [rtp(dtmf.press_pcap(key, n)) for n, key in enumerate(keys)]
    for earlier, later in itertools.pairwise(packets):
        assert later[0][0] > earlier[-1][0], "sequence numbers rise from press to press"
        assert later[0][1] > earlier[0][1], "each press is a new event (timestamp)"
    assert [p[0][3][0] for p in packets] == [int(k) for k in keys]  # the event codes are the keys


def test_errors_name_what_is_wrong() -> None:
    with pytest.raises(dtmf.DtmfError, match=r"dtmf_2833_A\.pcap"):
        dtmf.recording("A")
    with pytest.raises(dtmf.DtmfError, match="not a little-endian Ethernet pcap"):
        dtmf.renumber(b"\0" * 24, seq=1, timestamp=1)
