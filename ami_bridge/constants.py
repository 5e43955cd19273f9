"""Statuses and names used across the bridge, in one place."""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    """Where one citizen's call is, across all its legs."""

    ARRIVING = "arriving"  # the citizen's channel exists, before the queue (IVR, greeting)
    QUEUED = "queued"  # waiting in the queue, no seat ringing
    RINGING = "ringing"  # a seat's phone rings (AgentCalled)
    TALKING = "talking"  # a seat answered (AgentConnect)
    AFTER_SEAT = "after_seat"  # the seat left (AgentComplete); the citizen may be in the survey
    ENDED = "ended"  # every leg hung up


class CallOutcome(StrEnum):
    ANSWERED = "answered"  # a seat took the call
    ABANDONED = "abandoned"  # the citizen hung up while queued or while a seat rang (呼损)
    UNQUEUED = "unqueued"  # hung up before reaching the queue (IVR)
    UNKNOWN = "unknown"  # ended while the bridge was not connected; what happened is not known
    CUT = "cut"  # cut off: Asterisk stopped (crashed, killed, restarted) while the call was live


class SeatState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallKind(StrEnum):
    """The kind of call a seat is on (a seat's snapshot; HOTLINE_KIND on the seat's channel for all but 来电)."""

    INBOUND = "inbound"  # 来电: a citizen's call from the queue
    CALLBACK = "callback"  # 回访: the dialer rang the seat first, then the citizen
    OUTBOUND = "outbound"  # 外呼: the seat dialled out through the trunk
    INTERNAL = "internal"  # 内线: another seat
    THREEWAY = "threeway"  # 三方: a citizen's call the seat took into a three-way call with a unit (its wrap-up too)


class LegRole(StrEnum):
    CITIZEN = "citizen"
    SEAT = "seat"
    UNIT = "unit"
    LOCAL = "local"  # Local/ channels: dialplan plumbing
    OTHER = "other"


# Dialplan contexts where a citizen's call enters (asterisk-conf/extensions.conf)
INBOUND_CONTEXTS = frozenset({"from-carrier"})


class AutoAnswer(StrEnum):
    """How a seat's phone is asked to answer by itself after two rings (headset seats); per phone type."""

    OFF = "off"
    CALL_INFO = "call-info"  # Call-Info: <…>;answer-after=N (Yealink, Polycom, Grandstream, most soft phones)
    ALERT_INFO = "alert-info"  # Alert-Info: <…>;info=alert-autoanswer;delay=N (Snom and others)


AUTO_ANSWER_DB_FAMILY = "hotline-autoanswer"  # Asterisk's database: <family>/<seat> = call-info | alert-info
