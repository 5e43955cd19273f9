"""The three-way service turns Asterisk's events into the attempt's states, whatever order they come in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ami_bridge import events as ev
from ami_bridge.protocol import Frame, FrameKind
from hotline.threeway.machine import Attempt, TwState
from hotline.threeway.service import HEARD, Heard, ThreewayConfig, ThreewayService, _Session

UNIT_CHANNEL = "PJSIP/trunk-out-00000011"


class FakeClient:
    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, str]]] = []

    async def action(self, name: str, fields: dict[str, str]) -> Frame:
        self.actions.append((name, fields))
        return Frame(FrameKind.RESPONSE, (("Response", "Success"),))


class FakeBus:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.published.append(message)


class FakeBridge:
    pass


def event(name: str, **headers: str) -> Heard:
    """The frame Asterisk would send, decoded as the bridge decodes it for the subscribers."""
    fields = [("Event", name)] + [(k.replace("_", ""), v) for k, v in headers.items() if k != "unit"]
    if "unit" in headers:
        fields.append(("ChanVariable", f"HOTLINE_UNIT={headers['unit']}"))
    frame = Frame(FrameKind.EVENT, tuple(fields))
    decoded = ev.decode_notice(frame) or ev.decode(frame)
    assert isinstance(decoded, HEARD), frame
    return decoded


def service_ringing() -> tuple[ThreewayService, FakeBus]:
    bus = FakeBus()
    service = ThreewayService(FakeClient(), FakeBridge(), bus, None, None, ThreewayConfig())  # type: ignore[arg-type]
    session = _Session("c1", "8001", "PJSIP/carrier-in-0000000e", "PJSIP/8001-0000000f", in_conference=True)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    session.attempts.append(Attempt("c1-1", "c1", "8001", "057187001200", False, at, state=TwState.RINGING))
    service._sessions["c1"] = session
    service._by_seat["8001"] = "c1"
    return service, bus


async def test_unit_joins_before_its_answer_is_reported() -> None:
    """Seen in CI: with Dial's G() the unit's ConfbridgeJoin came before its Newstate Up."""
    service, bus = service_ringing()
    await service._on_event(event("ConfbridgeJoin", Conference="tw-c1", Channel=UNIT_CHANNEL, unit="c1-1"))
    await service._on_event(event("Newstate", Channel=UNIT_CHANNEL, ChannelState="6", unit="c1-1"))
    attempt = service.current("8001")
    assert attempt is not None and attempt.state is TwState.JOINED
    assert attempt.answered_at is not None and attempt.joined_at is not None
    assert [m["state"] for m in bus.published] == ["joined"]
    assert bus.published[0]["unit_channel"] == UNIT_CHANNEL


async def test_unit_answers_then_joins() -> None:
    service, bus = service_ringing()
    await service._on_event(event("Newstate", Channel=UNIT_CHANNEL, ChannelState="6", unit="c1-1"))
    await service._on_event(event("ConfbridgeJoin", Conference="tw-c1", Channel=UNIT_CHANNEL, unit="c1-1"))
    assert [m["state"] for m in bus.published] == ["consulting", "joined"]


async def test_another_channel_joining_is_not_the_unit() -> None:
    service, bus = service_ringing()
    await service._on_event(event("ConfbridgeJoin", Conference="tw-c1", Channel="PJSIP/8001-0000000f"))
    attempt = service.current("8001")
    assert attempt is not None and attempt.state is TwState.RINGING and bus.published == []
