"""Typed events: the AMI frames the call and seat models understand, and those the features follow, decoded once.

`decode(frame)` returns one of the frozen dataclasses the models use (`Event`), or None for frames they
ignore; `decode_notice(frame)` the ones only features follow (`Notice`: an Originate's result, our dialplan's
UserEvents, conference joins and leaves). The bridge decodes each frame once and hands both kinds to the
features that subscribed to their type (`Bridge.subscribe`).
Field meanings follow Asterisk 22 (see ../shared notes): AgentCalled is the ring at a seat,
AgentRingNoAnswer's RingTime is only the configured timeout, so ring times are measured from the
events' own Timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .protocol import Frame


@dataclass(frozen=True, slots=True)
class Channel:
    uniqueid: str
    linkedid: str
    name: str  # e.g. PJSIP/8001-00000001
    state: int  # 0 down, 4 ring, 5 ringing, 6 up
    caller_number: str | None
    caller_name: str | None
    context: str
    exten: str
    call_var: str | None  # HOTLINE_CALL, our correlation variable
    role_var: str | None  # HOTLINE_ROLE
    ivr_var: str | None = None  # HOTLINE_IVR: the IVR choices made so far, "/"-separated (set by the IVR)
    unit_var: str | None = None  # HOTLINE_UNIT: the three-way attempt a handling unit's channel was dialled for
    # the dialplan's time stamps (Unix time with ms, as text: read only at a resync, sync.py):
    started_var: str | None = None  # HOTLINE_STARTED, the citizen's: the call reached the hotline
    queued_var: str | None = None  # HOTLINE_QUEUED, the citizen's: it entered the queue
    rang_var: str | None = None  # HOTLINE_RANG, a seat's (and the citizen's once its seat left): it began to ring
    answered_var: str | None = None  # HOTLINE_ANSWERED, the answering seat's (the citizen's, as rang_var): answered
    seat_var: str | None = None  # HOTLINE_SEAT, the citizen's once its seat left ([queue]): the seat that answered
    joined_var: str | None = None  # HOTLINE_JOINED, a handling unit's: it joined the three-way conference
    kind_var: str | None = None  # HOTLINE_KIND, a seat's own channel on a call not from the queue (CallKind)

    @property
    def endpoint(self) -> str:
        """PJSIP/8001-00000001 -> PJSIP/8001."""
        return self.name.rsplit("-", 1)[0] if "-" in self.name else self.name


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    at: datetime
    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelStateChanged:
    at: datetime
    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    at: datetime
    channel: Channel
    cause: int


@dataclass(frozen=True, slots=True)
class CallerJoinedQueue:
    at: datetime
    channel: Channel
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class CallerAbandoned:
    at: datetime
    channel: Channel
    queue: str


@dataclass(frozen=True, slots=True)
class SeatCalled:
    """AgentCalled: a seat's phone starts ringing for this caller."""

    at: datetime
    channel: Channel  # the caller
    seat_leg: Channel  # the seat's new channel
    queue: str
    interface: str
    seat: str  # MemberName


@dataclass(frozen=True, slots=True)
class SeatMissed:
    """AgentRingNoAnswer: the seat let it ring out (or rejected it)."""

    at: datetime
    channel: Channel
    seat_leg: Channel
    queue: str
    interface: str
    seat: str


@dataclass(frozen=True, slots=True)
class SeatConnected:
    at: datetime
    channel: Channel
    seat_leg: Channel
    queue: str
    interface: str
    seat: str
    hold_s: int


@dataclass(frozen=True, slots=True)
class SeatCompleted:
    at: datetime
    channel: Channel
    seat_leg: Channel
    queue: str
    interface: str
    seat: str
    reason: str  # caller, agent, transfer


@dataclass(frozen=True, slots=True)
class Member:
    queue: str
    interface: str
    seat: str
    paused: bool
    pause_reason: str | None
    in_call: bool
    status: int  # AST_DEVICE_*: 1 not in use, 2 in use, 3 busy, 5 unavailable, 6 ringing...
    wrapup_s: int
    last_call: datetime | None = None  # when the seat's last call ended (LastCall); None: no call since login/restart


@dataclass(frozen=True, slots=True)
class MemberAdded:
    at: datetime
    member: Member


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    at: datetime
    member: Member


@dataclass(frozen=True, slots=True)
class MemberPaused:
    at: datetime
    member: Member


@dataclass(frozen=True, slots=True)
class MemberStatus:
    at: datetime
    member: Member


@dataclass(frozen=True, slots=True)
class AsteriskBooted:
    at: datetime


@dataclass(frozen=True, slots=True)
class AsteriskShutdown:
    at: datetime


Event = (
    ChannelCreated
    | ChannelStateChanged
    | ChannelHungUp
    | CallerJoinedQueue
    | CallerAbandoned
    | SeatCalled
    | SeatMissed
    | SeatConnected
    | SeatCompleted
    | MemberAdded
    | MemberRemoved
    | MemberPaused
    | MemberStatus
    | AsteriskBooted
    | AsteriskShutdown
)


# ---------------------------------------------------------------- what only the features follow (Notice)


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """OriginateResponse of an async Originate: `channel` as Asterisk names it there (PJSIP/8001, no suffix),
    `uniqueid` the channel id the action asked for (ChannelId), `reason` Asterisk's cause number as text."""

    at: datetime
    context: str
    channel: str
    uniqueid: str
    success: bool
    reason: str


@dataclass(frozen=True, slots=True)
class CallbackProgress:
    """UserEvent HotlineCallback from the dialplan's [dialer]/[survey-callback]: SEAT-ANSWERED, ANSWERED, END
    (with the citizen's DIALSTATUS), SURVEY-END."""

    at: datetime
    attempt_id: str
    status: str
    dial_status: str
    answered: str | None = None  # END: when the citizen answered, as the dialplan stamped it (Unix s.ms), if so


@dataclass(frozen=True, slots=True)
class ThreewayProgress:
    """UserEvent HotlineThreeway from the dialplan's [threeway-dial]: the DIALSTATUS of the seat's Dial to
    the unit."""

    at: datetime
    call_id: str
    attempt_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ConferenceJoined:
    at: datetime
    conference: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class ConferenceLeft:
    at: datetime
    conference: str
    channel: Channel


Notice = OriginateResult | CallbackProgress | ThreewayProgress | ConferenceJoined | ConferenceLeft


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _opt(text: str) -> str | None:
    return None if text in ("", "<unknown>") else text


def channel(frame: Frame, prefix: str = "") -> Channel:
    """The channel described by the event's fields (prefix "Dest" for the other leg)."""
    variables = {}
    for value in frame.get_all(f"{prefix}ChanVariable"):
        name, _, val = value.partition("=")
        variables[name] = val
    return Channel(
        uniqueid=frame.get(f"{prefix}Uniqueid"),
        linkedid=frame.get(f"{prefix}Linkedid"),
        name=frame.get(f"{prefix}Channel"),
        state=_int(frame.get(f"{prefix}ChannelState")),
        caller_number=_opt(frame.get(f"{prefix}CallerIDNum")),
        caller_name=_opt(frame.get(f"{prefix}CallerIDName")),
        context=frame.get(f"{prefix}Context"),
        exten=frame.get(f"{prefix}Exten"),
        call_var=variables.get("HOTLINE_CALL") or None,
        role_var=variables.get("HOTLINE_ROLE") or None,
        ivr_var=variables.get("HOTLINE_IVR") or None,
        unit_var=variables.get("HOTLINE_UNIT") or None,
        started_var=variables.get("HOTLINE_STARTED") or None,
        queued_var=variables.get("HOTLINE_QUEUED") or None,
        rang_var=variables.get("HOTLINE_RANG") or None,
        answered_var=variables.get("HOTLINE_ANSWERED") or None,
        seat_var=variables.get("HOTLINE_SEAT") or None,
        joined_var=variables.get("HOTLINE_JOINED") or None,
        kind_var=variables.get("HOTLINE_KIND") or None,
    )


def member(frame: Frame) -> Member:
    return Member(
        queue=frame.get("Queue"),
        interface=frame.get("Interface") or frame.get("Location"),
        seat=frame.get("MemberName") or frame.get("Name"),
        paused=frame.get("Paused") == "1",
        pause_reason=frame.get("PausedReason") or frame.get("Reason") or None,
        in_call=frame.get("InCall") == "1",
        status=_int(frame.get("Status")),
        wrapup_s=_int(frame.get("Wrapuptime")),
        last_call=datetime.fromtimestamp(_int(frame.get("LastCall")), UTC) if _int(frame.get("LastCall")) else None,
    )


def _at(frame: Frame) -> datetime:
    return frame.timestamp or datetime.now(UTC)


def _agent(cls: type, frame: Frame) -> Event:
    fields = {
        "at": _at(frame),
        "channel": channel(frame),
        "seat_leg": channel(frame, "Dest"),
        "queue": frame.get("Queue"),
        "interface": frame.get("Interface"),
        "seat": frame.get("MemberName"),
    }
    if cls is SeatConnected:
        fields["hold_s"] = _int(frame.get("HoldTime"))
    if cls is SeatCompleted:
        fields["reason"] = frame.get("Reason")
    return cls(**fields)


_DECODERS: dict[str, Callable[[Frame], Event]] = {
    "newchannel": lambda f: ChannelCreated(_at(f), channel(f)),
    "newstate": lambda f: ChannelStateChanged(_at(f), channel(f)),
    "hangup": lambda f: ChannelHungUp(_at(f), channel(f), _int(f.get("Cause"))),
    "queuecallerjoin": lambda f: CallerJoinedQueue(_at(f), channel(f), f.get("Queue"), _int(f.get("Position"))),
    "queuecallerabandon": lambda f: CallerAbandoned(_at(f), channel(f), f.get("Queue")),
    "agentcalled": lambda f: _agent(SeatCalled, f),
    "agentringnoanswer": lambda f: _agent(SeatMissed, f),
    "agentconnect": lambda f: _agent(SeatConnected, f),
    "agentcomplete": lambda f: _agent(SeatCompleted, f),
    "queuememberadded": lambda f: MemberAdded(_at(f), member(f)),
    "queuememberremoved": lambda f: MemberRemoved(_at(f), member(f)),
    "queuememberpause": lambda f: MemberPaused(_at(f), member(f)),
    "queuememberstatus": lambda f: MemberStatus(_at(f), member(f)),
    "fullybooted": lambda f: AsteriskBooted(_at(f)),
    "shutdown": lambda f: AsteriskShutdown(_at(f)),
}


def decode(frame: Frame) -> Event | None:
    """The typed event for a frame, or None when no model uses it."""
    decoder = _DECODERS.get(frame.name.lower())
    return decoder(frame) if decoder else None


def _user_event(frame: Frame) -> Notice | None:
    name = frame.get("UserEvent")
    if name == "HotlineCallback":
        return CallbackProgress(_at(frame), frame.get("Attempt"), frame.get("Status"), frame.get("Dial"),
                                frame.get("Answered").strip() or None)  # fmt: skip
    if name == "HotlineThreeway":
        return ThreewayProgress(_at(frame), frame.get("Call"), frame.get("Attempt"), frame.get("Status"))
    return None


def _originate(frame: Frame) -> OriginateResult:
    return OriginateResult(
        _at(frame), frame.get("Context"), frame.get("Channel"), frame.get("Uniqueid"),
        frame.get("Response") == "Success", frame.get("Reason"),
    )  # fmt: skip


_NOTICES: dict[str, Callable[[Frame], Notice | None]] = {
    "originateresponse": _originate,
    "userevent": _user_event,
    "confbridgejoin": lambda f: ConferenceJoined(_at(f), f.get("Conference"), channel(f)),
    "confbridgeleave": lambda f: ConferenceLeft(_at(f), f.get("Conference"), channel(f)),
}


def decode_notice(frame: Frame) -> Notice | None:
    """The typed event for a frame only features follow, or None."""
    decoder = _NOTICES.get(frame.name.lower())
    return decoder(frame) if decoder else None
