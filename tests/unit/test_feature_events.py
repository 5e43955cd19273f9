"""The AMI events only features follow (ami_bridge/events.py `Notice`) are decoded once, by the bridge, and
reach each feature that subscribed to their type, in Asterisk's order, before the models apply them."""

from __future__ import annotations

from typing import Any

from ami_bridge import events as ev
from ami_bridge.bridge import Bridge
from ami_bridge.protocol import Frame, FrameKind
from ami_bridge.ring_rule import RingRule
from hotline.bus import InProcessBus


def frame(*fields: tuple[str, str]) -> Frame:
    return Frame(FrameKind.EVENT, fields)


ORIGINATE = frame(("Event", "OriginateResponse"), ("Response", "Failure"), ("Channel", "PJSIP/8003"),
                  ("Context", "dialer"), ("Reason", "3"), ("Uniqueid", "cb-4-1"))  # fmt: skip
CALLBACK = frame(("Event", "UserEvent"), ("UserEvent", "HotlineCallback"), ("Attempt", "cb-4-1"), ("Status", "END"),
                 ("Dial", "BUSY"))  # fmt: skip
THREEWAY = frame(("Event", "UserEvent"), ("UserEvent", "HotlineThreeway"), ("Call", "1764.5"), ("Attempt", "1764.5-1"),
                 ("Status", "NOANSWER"))  # fmt: skip
JOIN = frame(("Event", "ConfbridgeJoin"), ("Conference", "tw-1764.5"), ("Channel", "PJSIP/trunk-out-00000011"),
             ("Uniqueid", "1764.9"), ("ChanVariable", "HOTLINE_UNIT=1764.5-1"))  # fmt: skip
HANGUP = frame(("Event", "Hangup"), ("Channel", "PJSIP/trunk-out-00000011"), ("Uniqueid", "1764.9"), ("Cause", "16"),
               ("ChanVariable", "HOTLINE_UNIT=1764.5-1"))  # fmt: skip


def test_each_notice_is_decoded_with_its_fields() -> None:
    result = ev.decode_notice(ORIGINATE)
    assert isinstance(result, ev.OriginateResult)
    assert (result.context, result.channel, result.uniqueid, result.success, result.reason) == (
        "dialer", "PJSIP/8003", "cb-4-1", False, "3",
    )  # fmt: skip
    progress = ev.decode_notice(CALLBACK)
    assert isinstance(progress, ev.CallbackProgress)
    assert (progress.attempt_id, progress.status, progress.dial_status) == ("cb-4-1", "END", "BUSY")
    threeway = ev.decode_notice(THREEWAY)
    assert isinstance(threeway, ev.ThreewayProgress)
    assert (threeway.call_id, threeway.attempt_id, threeway.status) == ("1764.5", "1764.5-1", "NOANSWER")
    joined = ev.decode_notice(JOIN)
    assert isinstance(joined, ev.ConferenceJoined)
    assert (joined.conference, joined.channel.name, joined.channel.unit_var) == (
        "tw-1764.5", "PJSIP/trunk-out-00000011", "1764.5-1",
    )  # fmt: skip
    assert ev.decode_notice(frame(("Event", "UserEvent"), ("UserEvent", "SomethingElse"))) is None
    assert ev.decode_notice(HANGUP) is None  # a model event: ev.decode's
    assert ev.decode(ORIGINATE) is None  # no model uses it


async def test_subscribers_get_their_types_in_order_and_can_leave() -> None:
    bridge = Bridge(client=None, bus=InProcessBus(), rule=RingRule())  # type: ignore[arg-type]
    dialer: list[Any] = []
    threeway: list[Any] = []
    leave = bridge.subscribe((ev.OriginateResult, ev.CallbackProgress), dialer.append)
    bridge.subscribe((ev.ThreewayProgress, ev.ConferenceJoined, ev.ChannelHungUp), threeway.append)
    for f in (ORIGINATE, THREEWAY, CALLBACK, JOIN, HANGUP):
        await bridge._on_frame(f)
    assert [type(e) for e in dialer] == [ev.OriginateResult, ev.CallbackProgress]
    assert [type(e) for e in threeway] == [ev.ThreewayProgress, ev.ConferenceJoined, ev.ChannelHungUp]
    assert threeway[2].cause == 16 and threeway[2].channel.unit_var == "1764.5-1"
    leave()
    await bridge._on_frame(CALLBACK)
    assert len(dialer) == 2
