"""Every bus topic in one place, typed (`Topic[T]`, ami_bridge/topics.py). The bridge's own topics (call, seat, miss,
bridge) are defined beside the bridge, which knows nothing above it; the features' topics are defined here, in the
core that features share.

Topics whose messages only browsers read carry a JSON document (`Document`: what the page gets, with the seat it
is for in "seat"); the others carry the frozen value itself.
"""

from __future__ import annotations

from typing import Any

from ami_bridge.topics import (
    TOPIC_BRIDGE,
    TOPIC_CALL,
    TOPIC_MISS,
    TOPIC_SEAT,
    CallChange,
    Jsonable,
    LinkChange,
    MissChange,
    Topic,
)
from ivr.reports import CallbackRequest, SurveyResult

Document = dict[str, Any]  # a JSON object, as the browser gets it

TOPIC_FLOOR: Topic[Document] = Topic("floor", dict)  # the floor statistics changed (wallboard; hotline/floor)
TOPIC_THREEWAY: Topic[Document] = Topic("threeway", dict)  # a seat's three-way attempt changed; "seat" (threeway)
TOPIC_POP: Topic[Document] = Topic("pop", dict)  # a seat's screen pop (弹屏) opened or changed; "seat" (pops)
TOPIC_DIALER: Topic[Document] = Topic("dialer", dict)  # a seat's 回访 attempt changed; "seat" (callbacks)
TOPIC_SURVEY: Topic[SurveyResult] = Topic("survey", SurveyResult)  # a caller rated a call, or did not (ivr → survey)
TOPIC_CALLBACK: Topic[CallbackRequest] = Topic("callback", CallbackRequest)  # a caller asked to be called back
TOPIC_RECORDING: Topic[Document] = Topic("recording", dict)  # a recording was catalogued or its status changed


def as_json(message: Jsonable | Document) -> Document:
    """What a browser gets for a message of any topic."""
    return message if isinstance(message, dict) else message.to_json()


__all__ = [
    "TOPIC_BRIDGE",
    "TOPIC_CALL",
    "TOPIC_CALLBACK",
    "TOPIC_DIALER",
    "TOPIC_FLOOR",
    "TOPIC_MISS",
    "TOPIC_POP",
    "TOPIC_RECORDING",
    "TOPIC_SEAT",
    "TOPIC_SURVEY",
    "TOPIC_THREEWAY",
    "CallChange",
    "Document",
    "LinkChange",
    "MissChange",
    "Topic",
    "as_json",
]
