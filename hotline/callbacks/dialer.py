"""The 回访 dialer: progressive, agent first, driven over AMI (extensions.conf [dialer]).

Every `poll_s` (and at `tick()` in tests) it asks the schedule (hotline.callbacks.schedule.plan) which
pending tasks to dial now at which ready seats, claims each task in the database (pending → dialing,
so a task is never dialled twice at once), pushes the screen pop of the ticket with the callback
script to the seat's page (topic "dialer"), and originates the seat's phone; the dialplan dials the
citizen from the hotline's number only once the seat has answered. Asterisk's UserEvents
(HotlineCallback) and the OriginateResponse end each attempt; the schedule says when to try again.

After a restart (of the bridge or of the AMI link) every attempt the database still has in flight is
checked against Asterisk's channels (the seat channel's id is the attempt id): one still up is followed
to its end, one gone is ended as interrupted (or reached, when the citizen had answered), so nothing is
lost and nothing is dialled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ami_bridge import events as ev
from ami_bridge.client import AmiActionError, AmiClient, AmiError
from ami_bridge.constants import CallKind, CallState, SeatState
from ami_bridge.sync import stamp
from hotline.topics import TOPIC_DIALER
from hotline.workdays import parse_windows

from .. import tasks
from ..clock import Clock, utc_now
from . import schedule as sc
from . import survey_call as sv
from .config import DialerConfig
from .schedule import AttemptOutcome, Policy
from .store import CallbackStore
from .survey_dialer import CONTEXT as SURVEY_CONTEXT
from .survey_dialer import SurveyCaller

if TYPE_CHECKING:
    from ami_bridge.bridge import Bridge
    from hotline.bus import Bus
    from hotline.settings import Settings
    from hotline.tickets.store import TicketStore

# What the dialer hears from Asterisk: its Originates' results, the dialplan's progress, a survey call's Hangup.
Heard = ev.OriginateResult | ev.CallbackProgress | ev.ChannelHungUp
HEARD = (ev.OriginateResult, ev.CallbackProgress, ev.ChannelHungUp)
log = logging.getLogger(__name__)
__all__ = ["Dialer", "DialerConfig", "end_outcome", "from_settings"]
CONTEXT = "dialer"
ENDED_FAMILY = "hotline-cb-ended"  # Asterisk's database: <family>/<attempt id> = DIALSTATUS|answer|end|seat's answer
SCRIPT = (
    "您好，这里是12345政务服务便民热线。您{created}反映的“{content}”，承办单位{unit}已经答复：{reply}。"
    "请问您对办理结果是否满意？满意、基本满意，还是不满意？"
)


def from_settings(s: Settings) -> tuple[Policy, DialerConfig]:
    policy = Policy(
        windows=parse_windows(s.callback_windows),
        retry_after=tuple(timedelta(minutes=m) for m in s.callback_retry_minutes),
        max_attempts=s.callback_max_attempts, near_deadline=timedelta(hours=s.callback_near_deadline_h),
        seat_retry=timedelta(seconds=s.callback_seat_retry_s),
        max_seats_while_waiting=s.callback_max_seats_while_waiting,
    )  # fmt: skip
    config = DialerConfig(
        trunk=s.callback_trunk, caller_id=s.callback_caller_id, ring_s=s.callback_ring_s,
        seat_ring_s=s.callback_seat_ring_s, poll_s=s.callback_poll_s, missed=s.callback_missed,
        missed_min_wait_s=s.callback_missed_min_wait_s, survey=s.callback_survey,
    )  # fmt: skip
    return policy, config


@dataclass(frozen=True, slots=True)
class KeptEnd:
    """hotline-cb-ended/<attempt> as the dialplan kept it: Dial's status, when the citizen answered, the end, and
    when the seat answered (the dialplan's stamps, so a dialer that was away records them exactly)."""

    dial_status: str
    answered_at: datetime | None
    ended_at: datetime
    seat_answered_at: datetime | None = None


def parse_end(value: str) -> KeptEnd | None:
    """hotline-cb-ended's value (DIALSTATUS|citizen's answer|end|seat's answer, times as Unix seconds.ms), or None
    if garbled. An entry of the older dialplan (DIALSTATUS|ANSWEREDTIME_MS|end) has no answer times: it counted
    from the dial, not the answer."""
    parts = value.split("|")
    try:
        ended = datetime.fromtimestamp(float(parts[2]), UTC)
    except (IndexError, ValueError, OverflowError):
        return None
    answered = stamp(parts[1].strip()) if "." in parts[1] else None
    seat = stamp(parts[3].strip()) if len(parts) > 3 else None
    return KeptEnd(parts[0].strip(), answered, ended, seat)


def end_outcome(dial_status: str) -> AttemptOutcome:
    """The END event's DIALSTATUS: empty (the seat hung up before the citizen was dialled) or CANCEL (the
    seat hung up while the citizen rang) is not the citizen's doing."""
    if dial_status in ("", "CANCEL"):
        return AttemptOutcome.INTERRUPTED
    return sc.DIALSTATUS.get(dial_status, AttemptOutcome.FAILED)


class Dialer:
    def __init__(
        self, client: AmiClient, bridge: Bridge, bus: Bus, store: CallbackStore, tickets: TicketStore,
        policy: Policy, config: DialerConfig, *, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.client, self.bridge, self.bus, self.store, self.tickets = client, bridge, bus, store, tickets
        self.policy, self.config, self.clock = policy, config, clock
        self._live: dict[str, str] = {}  # attempt id -> seat, attempts under way
        self._events: asyncio.Queue[Heard] = asyncio.Queue()
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._recovered_for = -1  # the AMI connection number the in-flight attempts were checked on
        self._lock = asyncio.Lock()
        self.surveys = SurveyCaller(self)
        self.paused = False  # tests drive tick() by hand

    async def start(self, *, loop: bool = True) -> None:
        self._unsubscribe = self.bridge.subscribe(HEARD, self._offer)
        self._tasks = [asyncio.create_task(self._consume(), name="dialer-events")]
        if loop:
            self._tasks.append(asyncio.create_task(self._loop(), name="dialer-loop"))

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await tasks.stop(self._tasks)
        await self.surveys.close()

    def _offer(self, event: Heard) -> None:
        if not isinstance(event, ev.ChannelHungUp) or event.channel.uniqueid in self.surveys.live:
            self._events.put_nowait(event)  # a Hangup only of a survey call: its cause says why it failed

    # ------------------------------------------------------------------ planning
    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_s)
            if self.paused:
                continue
            try:
                await self.tick()
            except Exception:
                log.exception("callback dialer: a planning round failed; trying again in %.0f s", self.config.poll_s)

    async def tick(self) -> list[str]:
        """One planning round: returns the attempt ids started."""
        async with self._lock:
            if not (self.client.connected.is_set() and self.bridge.resynced.is_set()):
                return []
            if self._recovered_for != self.client.connections:
                await self.recover()
            now = self.clock()
            await self._import(now)
            on_callbacks = set(self._live.values())
            ready = [
                s.seat for s in self.bridge.seats.all() if s.state is SeatState.READY and s.seat not in on_callbacks
            ]
            waiting = sum(1 for c in self.bridge.calls.active() if c.state in (CallState.QUEUED, CallState.RINGING))
            due, busy = await self.store.due(now), await self.store.busy_tickets()
            started = await self._dial_surveys([t for t in due if sv.by_ivr(t, self.config.survey)], busy, now)
            plan = sc.plan(
                [t for t in due if not sv.by_ivr(t, self.config.survey)], ready, now, self.store.calendar,
                self.policy, busy_tickets=busy, waiting_in_queue=waiting, seats_on_callbacks=len(on_callbacks),
            )  # fmt: skip
            for assignment in plan:
                attempt_id = await self._dial(assignment)
                if attempt_id is not None:
                    started.append(attempt_id)
            return started

    async def _dial_surveys(self, tasks: list[sc.Task], busy: frozenset[int], now: datetime) -> list[str]:
        """Tasks marked for the automated survey: the IVR calls them, in the calling windows, no seat needed."""
        if not tasks or not sc.in_window(self.store.calendar, self.policy, now):
            return []
        started = []
        for task in tasks:
            if task.ticket_id in busy:
                continue
            attempt_id = await self.surveys.dial(task)
            if attempt_id is not None:
                started.append(attempt_id)
        return started

    async def _import(self, now: datetime) -> None:
        """The IVR's call-back requests and the lost calls (呼损) become tasks; lost calls whose number got
        through since are settled, never called."""
        if self.config.requests:
            await self.store.import_requests()
        if self.config.missed:
            made = await self.store.import_missed(now - timedelta(days=1), self.config.missed_min_wait_s * 1000)
            settled = await self.store.settle_missed()
            if made or settled:
                log.info("callback dialer: %d lost calls (呼损) to call back, %d got through since", made, settled)

    async def _dial(self, assignment: sc.Assignment) -> str | None:
        task, seat = assignment.task, assignment.seat
        attempt_id = await self.store.claim(task, seat, assignment.near_deadline)
        if attempt_id is None:
            return None
        self._live[attempt_id] = seat
        log.info(
            "callback %s: attempt %s at seat %s for %s (deadline %s%s)", task.id, attempt_id, seat, task.number,
            task.deadline_at.astimezone(self.store.calendar.zone).strftime("%Y-%m-%d %H:%M"),
            ", near: any seat" if assignment.near_deadline else "",
        )  # fmt: skip
        await self._publish(seat, attempt_id, "ringing", task.id, pop=await self._pop(task))
        variables = {
            "__HOTLINE_CB_ATTEMPT": attempt_id,
            "HOTLINE_CB_DIAL": f"PJSIP/{task.number}@{self.config.trunk}",
            "HOTLINE_CB_RING_S": str(self.config.ring_s),
            "HOTLINE_CB_CLI": self.config.caller_id,
            "HOTLINE_KIND": CallKind.CALLBACK.value,  # the seat is busy on a 回访 (ami_bridge/seats.py)
        }
        fields: dict[str, str | bool] = {
            "Channel": f"PJSIP/{seat}", "Context": CONTEXT, "Exten": "citizen", "Priority": "1",
            "Timeout": str(self.config.seat_ring_s * 1000), "CallerID": f'"回访 {task.number}" <{task.number}>',
            "ChannelId": attempt_id, "Async": True,
            "Variable": ",".join(f"{k}={v}" for k, v in variables.items()),
        }  # fmt: skip
        try:
            await self.client.action("Originate", fields)
        except AmiError as exc:
            log.error("callback %s: attempt %s could not start at seat %s: %s", task.id, attempt_id, seat, exc)
            await self._end(attempt_id, AttemptOutcome.INTERRUPTED, None)
        return attempt_id

    async def _pop(self, task: sc.Task) -> dict[str, Any]:
        """The screen pop of a callback: the task, the ticket, and the script the seat reads."""
        pop: dict[str, Any] = {"task": await self.store.get(task.id), "ticket": None, "script": None}
        if task.ticket_id is None:
            pop["script"] = "您好，这里是12345热线。您之前来电时选择了回拨，请问有什么可以帮您？"
            return pop
        ticket = await self.tickets.get(task.ticket_id)
        replies = ticket.replies()
        created = ticket.ticket.created_at.astimezone(self.store.calendar.zone)
        pop["ticket"] = ticket.to_json()
        pop["script"] = SCRIPT.format(
            created=f"{created.month}月{created.day}日", content=ticket.content[:40],
            unit=ticket.unit.name if ticket.unit else "", reply=(replies[-1].comment if replies else "") or "已办理",
        )  # fmt: skip
        return pop

    # ------------------------------------------------------------------ Asterisk's events
    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("callback dialer: could not handle %s", type(event).__name__)

    async def _handle(self, event: Heard) -> None:
        if isinstance(event, ev.ChannelHungUp):
            await self.surveys.hung_up(event)
            return
        if isinstance(event, ev.OriginateResult):
            await self._originate_response(event)
            return
        attempt_id, status = event.attempt_id, event.status
        if status == "SURVEY-END":
            await self.surveys.channel_ended(attempt_id)
            return
        row = await self.store.attempt(attempt_id)
        if row is None:
            return
        if status == "SEAT-ANSWERED":
            await self.store.mark(attempt_id, "seat")
            log.info("callback attempt %s: seat %s answered; dialling %s", attempt_id, row.seat, row.number)
            await self._publish(row.seat, attempt_id, "dialing_citizen", row.task_id)
        elif status == "ANSWERED":
            await self.store.mark(attempt_id, "citizen")
            log.info("callback attempt %s: the citizen %s answered", attempt_id, row.number)
            await self._publish(row.seat, attempt_id, "talking", row.task_id)
        elif status == "END":
            dial = event.dial_status
            if dial == "ANSWER" and (answered := stamp(event.answered)) is not None:  # ANSWERED was missed
                await self.store.mark(attempt_id, "citizen", answered)
            await self._end(attempt_id, end_outcome(dial), dial or None)
            await self._forget_end(attempt_id)

    async def _originate_response(self, result: ev.OriginateResult) -> None:
        if result.context == SURVEY_CONTEXT and not result.success:
            await self.surveys.originate_failed(result)
            return
        if result.context != CONTEXT or result.success:
            return
        seat = result.channel.removeprefix("PJSIP/")
        attempt_id = next((a for a, s in self._live.items() if s == seat), None)
        if attempt_id is not None:
            log.info("callback attempt %s: seat %s did not answer (%s)", attempt_id, seat, result.reason)
            await self._end(attempt_id, AttemptOutcome.SEAT_NO_ANSWER, None)

    async def _end(
        self, attempt_id: str, outcome: AttemptOutcome, dial_status: str | None, *, at: datetime | None = None
    ) -> None:
        seat = self._live.pop(attempt_id, None)
        after = await self.store.end_attempt(attempt_id, outcome, dial_status, at)
        if after is None:
            return
        log.info(
            "callback %s: attempt %s ended %s → task %s (attempts %d, next %s)", after.id, attempt_id, outcome.value,
            after.status.value, after.attempts, after.next_at.isoformat(),
        )  # fmt: skip
        if seat is not None:
            await self._publish(seat, attempt_id, "ended", after.id, outcome=outcome.value, task_status=after.status)

    async def _publish(self, seat: str, attempt_id: str, state: str, task_id: int, **extra: Any) -> None:
        message = {"seat": seat, "attempt_id": attempt_id, "task_id": task_id, "state": state, **extra}
        await self.bus.publish(TOPIC_DIALER, message)

    # ------------------------------------------------------------------ restarts
    async def recover(self) -> None:
        """Attempts the database has in flight: followed when their channel is still up, else ended."""
        frames = await self.client.action_list("CoreShowChannels")
        up = {f.get("Uniqueid"): ev.channel(f) for f in frames if f.name == "CoreShowChannel"}
        for row in await self.store.in_flight():
            if row.seat == sv.IVR_SEAT:
                if row.id in up:
                    self.surveys.live[row.id] = ""  # the IVR reports it, or its END event does
                else:
                    await self.surveys.fall_back(row.id, AttemptOutcome.INTERRUPTED, "restart")
            elif row.id in up:
                self._live[row.id] = row.seat
                log.info("callback attempt %s: still up at seat %s after a restart; followed", row.id, row.seat)
                if row.seat_answered_at is None and (answered := stamp(up[row.id].answered_var)) is not None:
                    await self.store.mark(row.id, "seat", answered)  # it answered while no dialer followed it
            else:
                await self._ended_meanwhile(row.id)
        self._recovered_for = self.client.connections

    async def _ended_meanwhile(self, attempt_id: str) -> None:
        """An attempt that ended while no dialer followed it: as Asterisk kept its end (the citizen answered and
        when, Dial's status, the end), else interrupted."""
        self._live.pop(attempt_id, None)
        kept = await self._kept_end(attempt_id)
        if kept is None:
            log.warning("callback attempt %s: gone while the bridge was away; ended as interrupted", attempt_id)
            await self._end(attempt_id, AttemptOutcome.INTERRUPTED, None)
            return
        dial = kept.dial_status
        if kept.seat_answered_at is not None:
            await self.store.mark(attempt_id, "seat", kept.seat_answered_at)
        if dial == "ANSWER" and kept.answered_at is not None:
            await self.store.mark(attempt_id, "citizen", kept.answered_at)
        log.info("callback attempt %s: ended while the bridge was away (%s, kept by Asterisk)", attempt_id, dial)
        await self._end(attempt_id, end_outcome(dial), dial or None, at=kept.ended_at)
        await self._forget_end(attempt_id)

    async def _kept_end(self, attempt_id: str) -> KeptEnd | None:
        """The end the dialplan kept (hotline-cb-ended/<attempt>), or None."""
        try:
            frames = await self.client.action_list("DBGet", {"Family": ENDED_FAMILY, "Key": attempt_id})
        except AmiActionError:  # no such key: Asterisk kept nothing (an AmiError else: the next recovery asks again)
            return None
        value = next((f.get("Val") for f in frames if f.get("Val")), None)
        return parse_end(value) if value else None

    async def _forget_end(self, attempt_id: str) -> None:
        with contextlib.suppress(AmiError):  # none kept, or the link is down: the next recovery clears it
            await self.client.action("DBDel", {"Family": ENDED_FAMILY, "Key": attempt_id})

    # ------------------------------------------------------------------ outcomes
    def live_seat(self, attempt_id: str) -> str | None:
        return self._live.get(attempt_id)
