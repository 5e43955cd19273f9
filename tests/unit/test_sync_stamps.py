"""A call rebuilt at a resync (ami_bridge/sync.py) takes its times from the dialplan's stamps on the channels
(HOTLINE_QUEUED, HOTLINE_RANG, HOTLINE_ANSWERED), names what it could only estimate, and a restarted bridge merges
it with the stored record (ami_bridge/calls.py): the record's measurements win, Asterisk says who is on the call."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ami_bridge.calls import CallBook, finish
from ami_bridge.constants import CallOutcome, CallState, LegRole
from ami_bridge.protocol import Frame, FrameKind
from ami_bridge.snapshots import CallSnapshot, LegSnapshot
from ami_bridge.sync import EndStamp, rebuild, stamp

NOW = datetime(2026, 12, 7, 2, 0, 30, tzinfo=UTC)
QUEUED, RANG, ANSWERED = NOW - timedelta(seconds=20.25), NOW - timedelta(seconds=12.5), NOW - timedelta(seconds=9.125)
STARTED = NOW - timedelta(seconds=25.375)


def epoch(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def show(uid: str, name: str, state: int, duration: str, context: str, **variables: str) -> Frame:
    fields = [("Event", "CoreShowChannel"), ("Uniqueid", uid), ("Linkedid", "1.1"), ("Channel", name),
              ("ChannelState", str(state)), ("CallerIDNum", "13800138000"), ("Context", context),
              ("Exten", "s"), ("Duration", duration)]  # fmt: skip
    fields += [("ChanVariable", f"{k}={v}") for k, v in variables.items()]
    return Frame(FrameKind.EVENT, tuple(fields))


MEMBER = Frame(
    FrameKind.EVENT,
    (("Event", "QueueMember"), ("Queue", "hotline"), ("Name", "8001"), ("Location", "PJSIP/8001"), ("InCall", "1")),
)


def talking(stamped: bool) -> list[Frame]:
    citizen = {"HOTLINE_CALL": "1.1", "HOTLINE_ROLE": "citizen"}
    seat = {"HOTLINE_CALL": "1.1"}
    if stamped:
        citizen |= {"HOTLINE_QUEUED": epoch(QUEUED), "HOTLINE_STARTED": epoch(STARTED)}
        seat |= {"HOTLINE_RANG": epoch(RANG), "HOTLINE_ANSWERED": epoch(ANSWERED)}
    return [show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:25", "queue", **citizen),
            show("1.2", "PJSIP/8001-00000002", 6, "00:00:12", "from-queue", **seat)]  # fmt: skip


def test_a_talking_call_takes_its_times_from_the_stamps() -> None:
    (call,) = rebuild(talking(stamped=True), [MEMBER], NOW, "hotline").calls
    assert (call.state, call.seat, call.queue) == (CallState.TALKING, "8001", "hotline")
    assert (call.queued_at, call.ring_started_at, call.answered_at) == (QUEUED, RANG, ANSWERED)
    assert (call.wait_ms, call.ring_ms) == (11125, 3375)
    assert call.started_at == STARTED and call.estimated == ()  # HOTLINE_STARTED: nothing estimated
    busy = rebuild(talking(stamped=True), [MEMBER], NOW, "hotline").busy["8001"]
    assert (busy.call_id, busy.kind, busy.leg) == ("1.1", "inbound", "1.2")  # the seat's channel, as live
    assert busy.since == ANSWERED  # the seat has been talking since its answer, not since the resync


def test_a_ringing_seat_has_rung_since_its_stamp() -> None:
    citizen = {"HOTLINE_CALL": "1.1", "HOTLINE_ROLE": "citizen", "HOTLINE_QUEUED": epoch(QUEUED)}
    frames = [show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:25", "queue", **citizen),
              show("1.2", "PJSIP/8001-00000002", 5, "00:00:12", "from-queue", HOTLINE_CALL="1.1",
                   HOTLINE_RANG=epoch(RANG))]  # fmt: skip
    entry = Frame(FrameKind.EVENT, (("Event", "QueueEntry"), ("Queue", "hotline"), ("Uniqueid", "1.1"), ("Wait", "20")))
    view = rebuild(frames, [MEMBER, entry], NOW, "hotline")
    assert view.calls[0].state is CallState.RINGING and view.busy["8001"].since == RANG  # a miss measures from it


def test_a_call_in_its_survey_is_answered_by_the_seat_its_channel_names() -> None:
    """The seat hung up, the citizen answers the survey: [queue] put the seat's stamps and name on the citizen's
    channel, so a bridge that starts now rebuilds the call as answered by that seat (not as a call nobody took)."""
    citizen = {"HOTLINE_CALL": "1.1", "HOTLINE_ROLE": "citizen", "HOTLINE_STARTED": epoch(STARTED),
               "HOTLINE_QUEUED": epoch(QUEUED), "HOTLINE_RANG": epoch(RANG), "HOTLINE_ANSWERED": epoch(ANSWERED),
               "HOTLINE_SEAT": "8001"}  # fmt: skip
    frames = [show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:25", "queue", **citizen)]
    (call,) = rebuild(frames, [MEMBER], NOW, "hotline").calls
    assert (call.state, call.seat, call.answered_at, call.ring_started_at) == (
        CallState.AFTER_SEAT,
        "8001",
        ANSWERED,
        RANG,
    )
    assert (call.wait_ms, call.ring_ms, call.started_at, call.estimated) == (11125, 3375, STARTED, ())


def test_without_stamps_the_estimates_are_named_and_no_kpi_is_made_up() -> None:
    (call,) = rebuild(talking(stamped=False), [MEMBER], NOW, "hotline").calls
    assert call.state is CallState.TALKING and call.answered_at == NOW - timedelta(seconds=12)  # the leg's age
    assert call.estimated == ("answered_at", "started_at")
    assert call.queued_at is None and call.wait_ms is None and call.ring_ms is None


def test_a_garbled_stamp_is_no_time() -> None:
    assert stamp("1796608830.125") == datetime(2026, 12, 7, 2, 0, 30, 125000, tzinfo=UTC)
    assert stamp("") is None and stamp(None) is None and stamp("soon") is None and stamp("1e300") is None


def test_the_stored_record_wins_over_the_rebuild_and_clears_its_estimates() -> None:
    (rebuilt,) = rebuild(talking(stamped=False), [MEMBER], NOW, "hotline").calls
    started = NOW - timedelta(seconds=25.4)
    stored = CallSnapshot(
        "1.1", CallState.RINGING, "13800138000", None, "12345", started, queue="hotline", queued_at=QUEUED, seat="8001",
        ring_started_at=RANG, legs=(LegSnapshot("1.1", "PJSIP/carrier-in-00000001", LegRole.CITIZEN, started),),
    )  # fmt: skip
    (merged,) = CallBook().resync([rebuilt], NOW, {"1.1": stored})
    assert (merged.state, merged.seat) == (CallState.TALKING, "8001")  # Asterisk: the seat answered meanwhile
    assert (merged.started_at, merged.queued_at, merged.ring_started_at) == (started, QUEUED, RANG)
    assert merged.dialed == "12345" and merged.legs[0].started_at == started  # the record's measured leg
    assert merged.estimated == ("answered_at",)  # the answer happened while no bridge ran: still an estimate
    assert merged.ring_ms is None and merged.wait_ms is None  # not made from an estimate


def test_stamps_fill_what_the_record_had_not_seen_yet() -> None:
    (rebuilt,) = rebuild(talking(stamped=True), [MEMBER], NOW, "hotline").calls
    started = NOW - timedelta(seconds=25.4)
    stored = replace(rebuilt, state=CallState.QUEUED, seat=None, started_at=started, ring_started_at=None,
                     answered_at=None, ring_ms=None, wait_ms=None, estimated=())  # fmt: skip
    (merged,) = CallBook().resync([rebuilt], NOW, {"1.1": stored})
    assert (merged.started_at, merged.answered_at, merged.ring_ms, merged.wait_ms) == (started, ANSWERED, 3375, 11125)
    assert merged.estimated == ()


def test_a_call_that_ended_unseen_takes_its_end_from_the_hangup_handler() -> None:
    """The service was down when the call ended: Asterisk's database kept end/queued/rang/answered/seat."""
    end = EndStamp.parse(f"{epoch(NOW)}/{epoch(QUEUED)}/{epoch(RANG)}/{epoch(ANSWERED)}/8002")
    assert end == EndStamp(NOW, QUEUED, RANG, ANSWERED, "8002")
    assert EndStamp.parse("garbage") is None and EndStamp.parse(f"{epoch(NOW)}////") == EndStamp(NOW)
    queued = CallSnapshot("1.1", CallState.QUEUED, "13800138000", None, "12345", QUEUED, queue="hotline",
                          queued_at=QUEUED)  # fmt: skip
    done = finish(queued, end, None)  # answered by 8002 while no bridge ran
    assert (done.state, done.outcome, done.seat, done.ended_at) == (CallState.ENDED, CallOutcome.ANSWERED, "8002", NOW)
    assert (done.answered_at, done.ring_started_at, done.wait_ms, done.ring_ms) == (ANSWERED, RANG, 11125, 3375)
    gave_up = finish(queued, EndStamp(NOW, QUEUED), None)
    assert (gave_up.outcome, gave_up.wait_ms, gave_up.estimated) == (CallOutcome.ABANDONED, 20250, ())


def test_without_its_end_the_outcome_is_only_what_was_seen() -> None:
    """Asterisk itself stopped (no hangup handler ran): a call seen answered stays answered, one seen waiting may
    have been answered meanwhile (unknown); the end is named as an estimate."""
    queued = CallSnapshot("1.1", CallState.QUEUED, "13800138000", None, "12345", QUEUED, queued_at=QUEUED)
    unknown = finish(queued, None, NOW)
    assert (unknown.outcome, unknown.ended_at, unknown.estimated) == (CallOutcome.UNKNOWN, NOW, ("ended_at",))
    answered = finish(replace(queued, state=CallState.TALKING, seat="8001", answered_at=ANSWERED), None, None)
    assert (answered.outcome, answered.ended_at, answered.estimated) == (CallOutcome.ANSWERED, None, ("ended_at",))


def test_a_call_told_no_seat_is_free_before_the_queue_is_arriving_and_one_after_its_seat_is_after_seat() -> None:
    """Both sit in [queue] outside QueueStatus: the one not yet queued (the no-seat-free prompt, no HOTLINE_QUEUED)
    is arriving, so its CallerJoinedQueue is legal; the one queued before (the survey after its seat) is after it."""
    waiting = {"HOTLINE_CALL": "1.1", "HOTLINE_ROLE": "citizen"}
    (call,) = rebuild([show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:03", "queue", **waiting)], [MEMBER], NOW,
                      "hotline").calls  # fmt: skip
    assert call.state is CallState.ARRIVING and call.queued_at is None
    after = waiting | {"HOTLINE_QUEUED": epoch(QUEUED)}
    (call,) = rebuild([show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:25", "queue", **after)], [MEMBER], NOW,
                      "hotline").calls  # fmt: skip
    assert call.state is CallState.AFTER_SEAT


def test_a_join_applied_after_the_resync_that_saw_it_is_no_illegal_event() -> None:
    """Calls arriving fast (a restart under load): QueueStatus already lists the caller, and its QueueCallerJoin,
    sent before the listing, is applied after it. That is the same join, not an illegal event (it used to force
    a resync, which met the next such call: a resync storm)."""
    from ami_bridge import events as ev

    citizen = {"HOTLINE_CALL": "1.1", "HOTLINE_ROLE": "citizen", "HOTLINE_QUEUED": epoch(QUEUED),
               "HOTLINE_STARTED": epoch(STARTED)}  # fmt: skip
    frames = [show("1.1", "PJSIP/carrier-in-00000001", 6, "00:00:25", "queue", **citizen)]
    entry = Frame(FrameKind.EVENT, (("Event", "QueueEntry"), ("Queue", "hotline"), ("Uniqueid", "1.1"), ("Wait", "20")))
    book = CallBook()
    (rebuilt,) = book.resync(rebuild(frames, [MEMBER, entry], NOW, "hotline").calls, NOW)
    assert rebuilt.state is CallState.QUEUED
    chan = ev.channel(frames[0])
    (after,) = book.apply(ev.CallerJoinedQueue(QUEUED, chan, "hotline", 1))
    assert (after.state, after.queued_at) == (CallState.QUEUED, QUEUED)
