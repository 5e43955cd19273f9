"""Three-way calls (三方通话): the seat's commands turned into AMI actions, Asterisk's events into the
attempt's state machine (machine.py), every change on the bus (topic "threeway") and in the
database (table threeway_attempts).

Telephony (asterisk-conf/extensions.conf [threeway]): on the first attempt of a call one Redirect (with
ExtraChannel) moves the citizen into the call's conference (hold music while alone) and the seat's
channel to a Dial of the unit; later attempts move only the seat. On any failure the dialplan sends
the seat back into the conference at once, so the citizen is never left and never hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ami_bridge import events as ev
from ami_bridge.client import AmiActionError, AmiClient, AmiError
from ami_bridge.constants import CallState, LegRole
from ami_bridge.seat_control import check_seat
from ami_bridge.sync import stamp
from hotline.errors import Kind
from hotline.threeway import machine as tw
from hotline.threeway.machine import Attempt, ThreewayRefused, TwCommand, TwEvent, TwState
from hotline.topics import TOPIC_CALL, TOPIC_THREEWAY, CallChange

from .. import tasks
from ..settings import default
from .records import ThreewayRecords

if TYPE_CHECKING:
    from ami_bridge.bridge import Bridge
    from hotline.bus import Bus, Subscription
    from hotline.tickets.unitstore import UnitDirectory

log = logging.getLogger(__name__)

# What the trunk can dial: a mobile, a landline with its area code, a local landline, a short service number.
DIALLABLE = re.compile(r"^(1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7}|1\d{4})$")
CONTEXT = "threeway"


def dialable(number: str) -> str:
    digits = re.sub(r"[\s\-()]", "", number)
    if not DIALLABLE.match(digits):
        raise ThreewayRefused(
            Kind.INVALID, "number-not-dialable",
            f"number: {number!r} cannot be dialled through the trunk (a mobile, or a landline with its area code)",
        )  # fmt: skip
    return digits


def recording_hook(call_id: str, citizen_channel: str) -> None:
    """The recording of a three-way call: the citizen's MixMonitor, started in the dialplan when the call
    reached the queue ([record-call]), goes on in the conference (the dialplan hook [threeway-record] makes
    sure), so all three parties are in the call's one file, to the end, after the seat leaves too."""
    log.info("call %s: three-way conference on %s (recorded in the call's file)", call_id, citizen_channel)


# What the three-way service hears from Asterisk: the dialplan's DIALSTATUS of the unit, the channels' states
# and hangups, who joins and leaves the conference. A unit's channel carries its attempt id (HOTLINE_UNIT).
Heard = ev.ThreewayProgress | ev.ChannelStateChanged | ev.ChannelHungUp | ev.ConferenceJoined | ev.ConferenceLeft
HEARD = (ev.ThreewayProgress, ev.ChannelStateChanged, ev.ChannelHungUp, ev.ConferenceJoined, ev.ConferenceLeft)


@dataclass
class _Session:
    """One call in three-way mode: its channels, who is in its conference, its attempts (newest last)."""

    call_id: str
    seat: str
    citizen: str
    seat_channel: str
    in_conference: bool = False
    members: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    unit_channel: str | None = None
    over: bool = False

    @property
    def attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class ThreewayConfig:
    trunk: str = default("threeway_trunk")
    ring_s: int = default("threeway_ring_s")
    caller_id: str = default("threeway_caller_id")
    show_citizen: bool = default("threeway_show_citizen")


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The bridge ended a call (its record's end): the attempt on it ends, if no hangup of the citizen ended it."""

    call_id: str
    at: datetime | None


class ThreewayService:
    def __init__(
        self, client: AmiClient, bridge: Bridge, bus: Bus, units: UnitDirectory, records: ThreewayRecords | None,
        config: ThreewayConfig,
    ) -> None:  # fmt: skip
        self.client, self.bridge, self.bus, self.units, self.records = client, bridge, bus, units, records
        self.config = config
        self._sessions: dict[str, _Session] = {}  # by call id
        self._by_seat: dict[str, str] = {}  # seat -> call id
        self._events: asyncio.Queue[Heard | CallEnded] = asyncio.Queue()
        self._unsubscribe: Callable[[], None] | None = None
        self._ids = itertools.count(time.time_ns() // 1_000_000)  # unique across restarts: ms at the start
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._unsubscribe = self.bridge.subscribe(HEARD, self._events.put_nowait)
        calls = self.bus.subscribe(TOPIC_CALL)
        await calls.__aenter__()  # before the link is up: a call the first resync ends is heard
        self._tasks = [asyncio.create_task(self._consume(), name="threeway-events"),
                       asyncio.create_task(self._recover_when_linked(), name="threeway-recover"),
                       asyncio.create_task(self._calls_ending(calls), name="threeway-calls")]  # fmt: skip

    async def _calls_ending(self, calls: Subscription) -> None:
        """Calls that end with a three-way attempt going on, onto the event queue: a call can end with no hangup
        of its citizen's channel ever seen (Asterisk died under it: `cut`), and its attempt ends with it."""
        try:
            async for _topic, message in calls:
                call = message.call if isinstance(message, CallChange) else None
                if call is not None and call.state is CallState.ENDED and call.call_id in self._sessions:
                    self._events.put_nowait(CallEnded(call.call_id, call.ended_at))
        finally:
            await calls.__aexit__(None, None, None)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await tasks.stop(self._tasks)

    # ------------------------------------------------------------------ restarts
    async def _recover_when_linked(self) -> None:
        await self.bridge.resynced.wait()
        try:
            await self.recover()
        except AmiError as exc:
            log.error("three-way: could not recover the attempts left going (%s)", exc)

    async def recover(self) -> None:
        """Attempts the record holds as going, after a restart: followed again where their call goes on in
        Asterisk (its conference, the seat's and the unit's channels), else ended as their call ended meanwhile
        (the citizen left: completed after a join, cancelled before), at the time of this recovery."""
        live = [a for a in await self.records.live() if a.call_id not in self._sessions] if self.records else []
        if not live:
            return
        frames = await self.client.action_list("CoreShowChannels")
        channels = [ev.channel(f) for f in frames if f.name == "CoreShowChannel"]
        for attempt in live:
            citizen = next((c for c in channels if c.call_var == attempt.call_id and c.role_var == "citizen"), None)
            session = _Session(attempt.call_id, attempt.seat, citizen.name if citizen else "", "", attempts=[attempt])
            if citizen is None:
                log.warning("call %s: three-way %s ended while no bridge followed it", attempt.call_id,
                            attempt.attempt_id)  # fmt: skip
                await self._event(session, TwEvent.CITIZEN_LEFT)
                continue
            await self._follow_again(session, channels)

    async def _follow_again(self, session: _Session, channels: list[ev.Channel]) -> None:
        attempt = session.attempt
        assert attempt is not None
        linked = next(c.linkedid for c in channels if c.name == session.citizen)
        mine = [c for c in channels if c.linkedid == linked]
        seat = next((c for c in mine if c.endpoint == f"PJSIP/{session.seat}"), None)
        unit = next((c for c in channels if c.unit_var == attempt.attempt_id), None)
        session.seat_channel, session.unit_channel = (seat.name if seat else ""), (unit.name if unit else None)
        with contextlib.suppress(AmiActionError):  # no such conference: nobody in it
            listed = await self.client.action_list("ConfbridgeList", {"Conference": f"tw-{session.call_id}"})
            session.members = {f.get("Channel") for f in listed if f.name == "ConfbridgeList"}
        session.in_conference = bool(session.members)
        self._sessions[session.call_id], self._by_seat[session.seat] = session, session.call_id
        log.info("call %s: three-way %s (%s) followed again after a restart", session.call_id, attempt.attempt_id,
                 attempt.state.value)  # fmt: skip
        coming = attempt.state in (TwState.REQUESTED, TwState.RINGING, TwState.CONSULTING)
        if unit is not None and unit.name in session.members and coming:  # it joined before the record had it
            await self._event(session, TwEvent.JOINED, stamp(unit.joined_var))  # when, as the dialplan stamped it
        if unit is None and attempt.state in (TwState.REQUESTED, TwState.RINGING):
            await self._event(session, TwEvent.NO_ANSWER)  # the dial ended meanwhile: the seat is back with the citizen
        elif unit is None and attempt.state in (TwState.CONSULTING, TwState.JOINED, TwState.SEAT_LEFT):
            await self._event(session, TwEvent.UNIT_LEFT)  # the unit hung up meanwhile
        elif (
            session.attempt is not None
            and session.attempt.state is TwState.JOINED
            and (session.seat_channel not in session.members)
        ):
            await self._event(session, TwEvent.SEAT_LEFT)  # the seat left meanwhile

    # ------------------------------------------------------------------ queries
    def current(self, seat: str) -> Attempt | None:
        session = self._sessions.get(self._by_seat.get(seat, ""))
        return session.attempt if session else None

    def attempts(self, seat: str) -> list[Attempt]:
        """Every attempt on the seat's current three-way call, oldest first (a reloaded seat page lists them)."""
        session = self._sessions.get(self._by_seat.get(seat, ""))
        return list(session.attempts) if session else []

    # ------------------------------------------------------------------ commands
    async def request(self, seat: str, *, unit_id: int | None, number: str | None, consult: bool) -> Attempt:
        check_seat(seat)
        unit = None
        if unit_id is not None:
            from hotline.tickets.unitstore import UnitNotFound

            try:
                unit = await self.units.get(unit_id)
            except UnitNotFound:
                message = f"unit_id: no unit with id {unit_id}; see GET /api/units"
                raise ThreewayRefused(Kind.NOT_FOUND, "unit-not-found", message) from None
            if number is None:
                if not unit.phones:
                    raise ThreewayRefused(Kind.INVALID, "unit-has-no-phone", f"unit {unit.name} has no phone number")
                number = unit.phones[0]
        if number is None:
            raise ThreewayRefused(Kind.INVALID, "invalid-input", "give unit_id (a unit of GET /api/units) or number")
        digits = dialable(number)
        session = self._session_for(seat)
        if session.attempt is not None and session.attempt.live:
            raise ThreewayRefused(
                Kind.CONFLICT, "threeway-in-progress",
                f"seat {seat} already has a three-way call {session.attempt.state.value} on call {session.call_id}",
            )  # fmt: skip
        now = datetime.now(UTC)
        attempt = Attempt(
            attempt_id=f"{session.call_id}-{next(self._ids)}", call_id=session.call_id, seat=seat, number=digits,
            consult=consult, requested_at=now, unit_id=unit.id if unit else None, unit_name=unit.name if unit else None,
        )  # fmt: skip
        session.attempts.append(attempt)
        session.unit_channel = None
        self._sessions[session.call_id] = session
        self._by_seat[seat] = session.call_id
        log.info("call %s: seat %s asks a three-way call to %s (%s), consult=%s", session.call_id, seat, digits,
                 attempt.unit_name or "number", consult)  # fmt: skip
        await self._changed(session, attempt)
        try:
            await self._dial(session, attempt)
        except AmiError as exc:
            log.error("call %s: three-way call to %s could not start: %s", session.call_id, digits, exc)
            await self._event(session, TwEvent.FAILED)
            raise
        return session.attempt or attempt

    def _session_for(self, seat: str) -> _Session:
        known = self._sessions.get(self._by_seat.get(seat, ""))
        if known is not None and not known.over:
            return known
        snap = self.bridge.seats.get(seat)
        call = self.bridge.calls.get(snap.call_id) if snap is not None and snap.call_id else None
        if call is None or call.state is not CallState.TALKING:
            raise ThreewayRefused(Kind.CONFLICT, "no-live-call", f"seat {seat} has no live call to bring a unit into")
        live = [leg for leg in call.legs if leg.ended_at is None]
        citizen = next((leg.channel for leg in live if leg.role is LegRole.CITIZEN), None)
        mine = [leg.channel for leg in live if leg.role is LegRole.SEAT and leg.channel.startswith(f"PJSIP/{seat}-")]
        if citizen is None or not mine:
            raise ThreewayRefused(Kind.CONFLICT, "no-live-call", f"seat {seat} has no live call to bring a unit into")
        return _Session(call.call_id, seat, citizen, mine[-1])

    async def _dial(self, session: _Session, attempt: Attempt) -> None:
        cfg = self.config
        caller_id = cfg.caller_id
        if cfg.show_citizen:
            call = self.bridge.calls.get(session.call_id)
            caller_id = (call.caller_number if call else None) or cfg.caller_id
        variables = {
            "__HOTLINE_TW_ID": attempt.attempt_id,
            "HOTLINE_TW_DIAL": f"PJSIP/{attempt.number}@{cfg.trunk}",
            "HOTLINE_TW_RING_S": str(cfg.ring_s),
            "HOTLINE_TW_CLI": caller_id,
            "HOTLINE_TW_OPTS": "" if attempt.consult else f"G({CONTEXT}^join^1)",
        }
        for name, value in variables.items():
            await self.client.action("Setvar", {"Channel": session.seat_channel, "Variable": name, "Value": value})
        if session.in_conference:
            await self._redirect(session.seat_channel, "dial")
        else:
            await self._redirect_two(session.citizen, "citizen", session.seat_channel, "dial")
            session.in_conference = True
            recording_hook(session.call_id, session.citizen)

    async def command(self, seat: str, command: TwCommand) -> Attempt:
        session = self._sessions.get(self._by_seat.get(check_seat(seat), ""))
        attempt = tw.check_command(session.attempt if session else None, command)
        assert session is not None
        log.info("call %s: seat %s: %s the three-way call %s", session.call_id, seat, command.value, attempt.attempt_id)
        if command is TwCommand.CANCEL:
            await self._redirect(session.seat_channel, "cancel")
        elif command is TwCommand.LEAVE:
            await self.client.action("Hangup", {"Channel": session.seat_channel})
        else:
            if session.unit_channel is None:
                raise ThreewayRefused(Kind.CONFLICT, "threeway-state", "the unit's channel is not known yet; try again")
            await self._redirect_two(session.seat_channel, "seat", session.unit_channel, "unit")
        return attempt

    async def _redirect_two(self, channel: str, exten: str, extra: str, extra_exten: str) -> None:
        """One Redirect for two bridged channels, so neither is hung up when their bridge breaks."""
        await self.client.action("Redirect", {
            "Channel": channel, "Context": CONTEXT, "Exten": exten, "Priority": "1",
            "ExtraChannel": extra, "ExtraContext": CONTEXT, "ExtraExten": extra_exten, "ExtraPriority": "1",
        })  # fmt: skip

    async def _redirect(self, channel: str, exten: str) -> None:
        await self.client.action("Redirect", {"Channel": channel, "Context": CONTEXT, "Exten": exten, "Priority": "1"})

    # ------------------------------------------------------------------ events
    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._on_event(event)
            except tw.IllegalThreewayEvent as exc:
                log.warning("%s (ignored)", exc)
            except AmiError as exc:
                log.error("three-way: AMI action failed: %s", exc)
            except Exception:
                log.exception("three-way: unexpected error on %s", type(event).__name__)

    async def _on_event(self, event: Heard | CallEnded) -> None:
        if isinstance(event, CallEnded):
            if (session := self._sessions.get(event.call_id)) is not None:  # its citizen's hangup was not seen
                await self._citizen_gone(session, event.at)
            return
        if isinstance(event, ev.ThreewayProgress):
            await self._dial_status(event)
            return
        chan = event.channel.name
        if isinstance(event, ev.ConferenceJoined | ev.ConferenceLeft):
            conference = event.conference
            session = self._sessions.get(conference[3:]) if conference.startswith("tw-") else None
            if session is not None:
                attempt = session.attempt
                if attempt is not None and (event.channel.unit_var or "") == attempt.attempt_id:
                    session.unit_channel = chan  # the join may be the first event seen of the unit's channel
                await self._conference(session, isinstance(event, ev.ConferenceJoined), chan)
            return
        await self._channel(event, chan)

    async def _dial_status(self, progress: ev.ThreewayProgress) -> None:
        session = self._sessions.get(progress.call_id)
        attempt = session.attempt if session else None
        status = progress.status
        if session and attempt and attempt.attempt_id == progress.attempt_id and status in tw.DIALSTATUS:
            await self._event(session, tw.DIALSTATUS[status])

    async def _channel(self, event: ev.ChannelStateChanged | ev.ChannelHungUp, chan: str) -> None:
        unit_var = event.channel.unit_var or ""
        hung_up = isinstance(event, ev.ChannelHungUp)
        state = event.channel.state if isinstance(event, ev.ChannelStateChanged) else None
        for session in list(self._sessions.values()):
            attempt = session.attempt
            if attempt is None:
                continue
            if unit_var and unit_var == attempt.attempt_id:
                session.unit_channel = chan
                if state == 5:
                    await self._event(session, TwEvent.RINGING)
                elif state == 6:
                    await self._event(session, TwEvent.ANSWERED)
                elif hung_up and attempt.state in (TwState.JOINED, TwState.SEAT_LEFT):
                    await self._event(session, TwEvent.UNIT_LEFT)
            elif hung_up and chan == session.citizen:
                await self._citizen_gone(session)
            elif hung_up and chan == session.seat_channel:
                await self._seat_gone(session)

    async def _conference(self, session: _Session, joined: bool, chan: str) -> None:
        attempt = session.attempt
        if joined:
            session.members.add(chan)
            if chan == session.unit_channel and attempt is not None:
                await self._event(session, TwEvent.JOINED)
            return
        session.members.discard(chan)
        if chan == session.seat_channel and attempt is not None and attempt.state is TwState.JOINED:
            await self._event(session, TwEvent.SEAT_LEFT)
        coming = attempt is not None and attempt.state in (TwState.REQUESTED, TwState.RINGING, TwState.CONSULTING)
        if session.members == {session.citizen} and not coming and not session.over:
            log.info("call %s: the citizen is alone in the conference; ending it ([threeway-after])", session.call_id)
            session.over = True
            await self.client.action("Redirect", {"Channel": session.citizen, "Context": "threeway-after",
                                                  "Exten": "s", "Priority": "1"})  # fmt: skip

    async def _citizen_gone(self, session: _Session, at: datetime | None = None) -> None:
        session.over = True
        attempt = session.attempt
        if attempt is not None and attempt.live:
            before_join = attempt.state in (TwState.REQUESTED, TwState.RINGING, TwState.CONSULTING)
            await self._event(session, TwEvent.CITIZEN_LEFT, at)
            if before_join:  # the seat is dialling or consulting: end its leg (and so the unit's)
                with contextlib.suppress(AmiError):
                    await self.client.action("Hangup", {"Channel": session.seat_channel})
        self._forget(session)

    async def _seat_gone(self, session: _Session) -> None:
        attempt = session.attempt
        if attempt is not None and attempt.state in (TwState.REQUESTED, TwState.RINGING, TwState.CONSULTING):
            log.info("call %s: the seat hung up before the unit joined; the citizen goes back to the queue",
                     session.call_id)  # fmt: skip
            await self._event(session, TwEvent.CANCELLED)
            session.over = True
            with contextlib.suppress(AmiError):
                await self._redirect(session.citizen, "requeue")
        elif attempt is not None and attempt.state is TwState.JOINED:
            await self._event(session, TwEvent.SEAT_LEFT)

    def _forget(self, session: _Session) -> None:
        if self._by_seat.get(session.seat) == session.call_id:
            del self._by_seat[session.seat]
        self._sessions.pop(session.call_id, None)

    async def _event(self, session: _Session, event: TwEvent, at: datetime | None = None) -> None:
        attempt = session.attempt
        if attempt is None:
            return
        after = tw.apply(attempt, event, at or datetime.now(UTC))
        if after is attempt:
            return
        session.attempts[-1] = after
        log.info("call %s: three-way %s: %s -> %s%s", session.call_id, after.attempt_id, attempt.state.value,
                 after.state.value, f" ({after.outcome})" if after.outcome else "")  # fmt: skip
        await self._changed(session, after)

    async def _changed(self, session: _Session, attempt: Attempt) -> None:
        message = {**attempt.to_json(), "unit_channel": session.unit_channel}
        await self.bus.publish(TOPIC_THREEWAY, message)
        if self.records is not None:
            self.records.save(replace(attempt))
