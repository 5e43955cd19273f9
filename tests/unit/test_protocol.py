"""The AMI codec: bytes in, frames out, whatever the TCP chunking."""

from __future__ import annotations

import pytest

from ami_bridge.protocol import AmiParser, AmiProtocolError, FrameKind, encode_action
from tests.helpers.transcripts import frames, wire_bytes

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
NAME_EVENT = (
    "Event: Newchannel\r\nChannel: PJSIP/carrier-in-1\r\nCallerIDName: 张三丰\r\nUniqueid: 1.0\r\n\r\n".encode()
)


def test_banner_and_frames() -> None:
    parser = AmiParser()
    out = parser.feed(BANNER + b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n")
    assert parser.version == "11.0.0"
    assert [(f.kind, f.name, f.action_id) for f in out] == [(FrameKind.RESPONSE, "Success", "a1")]
    assert out[0]["message"] == "Authentication accepted"  # lookups ignore case


@pytest.mark.parametrize("cut", range(1, len(BANNER) + len(NAME_EVENT)))
def test_every_split_point_gives_the_same_frame(cut: int) -> None:
    """A Chinese name cut in the middle of a UTF-8 character by TCP is kept whole."""
    data = BANNER + NAME_EVENT
    parser = AmiParser()
    out = parser.feed(data[:cut]) + parser.feed(data[cut:])
    assert len(out) == 1
    assert out[0]["CallerIDName"] == "张三丰"


def test_byte_by_byte_transcript_equals_whole() -> None:
    data = wire_bytes("answered_call.jsonl")
    parser = AmiParser()
    trickled = [f for i in range(len(data)) for f in parser.feed(data[i : i + 1])]
    assert trickled == frames("answered_call.jsonl")
    assert len(trickled) > 30


def test_channel_variables() -> None:
    frame = next(f for f in frames("answered_call.jsonl") if f.name == "AgentCalled")
    assert frame.variables()["HOTLINE_ROLE"] == "citizen"
    assert frame.variables()["HOTLINE_CALL"] == frame["Uniqueid"]
    assert frame.timestamp is not None


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 400 Bad Request\r\n\r\n",  # not an AMI server at all
        BANNER + b"this line has no colon\r\n\r\n",
        BANNER + b"Foo: bar\r\n\r\n",  # neither Event nor Response
        BANNER + b"\x00\x01\x02 binary: junk\r\n\r\n",
    ],
)
def test_garbage_is_a_named_error(garbage: bytes) -> None:
    parser = AmiParser()
    assert parser.feed(garbage) == []
    assert isinstance(parser.error, AmiProtocolError)
    with pytest.raises(AmiProtocolError):
        parser.feed(b"Event: FullyBooted\r\n\r\n")  # stopped for good: the connection must be recycled


def test_frames_before_garbage_are_kept() -> None:
    parser = AmiParser()
    frames = parser.feed(BANNER + b"Response: Success\r\nActionID: 1\r\n\r\nnot ami\r\n\r\n")
    assert [f.name for f in frames] == ["Success"] and parser.error is not None


def test_runaway_frame_is_refused() -> None:
    parser = AmiParser(max_frame=1000)
    parser.feed(BANNER)
    assert parser.feed(b"Event: X\r\n" + b"A: " + b"x" * 2000) == []
    with pytest.raises(AmiProtocolError, match="no end of frame"):
        parser.feed(b"")


def test_truncated_frame_waits_for_more() -> None:
    parser = AmiParser()
    assert parser.feed(BANNER + b"Event: Hangup\r\nCause: 16\r\n") == []
    assert [f.name for f in parser.feed(b"\r\n")] == ["Hangup"]


def test_encode_action() -> None:
    data = encode_action("QueueAdd", "hl-1", {"Queue": "hotline", "Interface": "PJSIP/8001", "Paused": False})
    assert (
        data
        == b"Action: QueueAdd\r\nActionID: hl-1\r\nQueue: hotline\r\nInterface: PJSIP/8001\r\nPaused: false\r\n\r\n"
    )
    multi = encode_action("Originate", "hl-2", {"Variable": ["A=1", "B=名"]})
    assert "Variable: A=1\r\nVariable: B=名\r\n".encode() in multi


def test_encode_refuses_header_injection() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_action("Hangup", "hl-3", {"Channel": "PJSIP/8001\r\nAction: Originate"})
