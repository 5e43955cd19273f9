"""Every bus topic in one place. The bridge's own topics (call, seat, miss, bridge) are defined beside the bridge,
which knows nothing above it; the features' topics are defined here, in the core that features share."""

from __future__ import annotations

from ami_bridge.constants import TOPIC_BRIDGE, TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT

TOPIC_FLOOR = "floor"  # the floor statistics changed (wallboard; hotline/floor)
TOPIC_THREEWAY = "threeway"  # a seat's three-way call attempt changed; carries "seat" (hotline/threeway)
TOPIC_POP = "pop"  # a seat's screen pop (弹屏) opened or changed; carries "seat" (hotline/pops)
TOPIC_DIALER = "dialer"  # a seat's 回访 callback attempt changed; carries "seat" (hotline/callbacks)
TOPIC_SURVEY = "survey"  # a caller rated a call (or did not): a SurveyResult as JSON (ivr → hotline/survey)
TOPIC_CALLBACK = "callback"  # a caller asked to be called back: a CallbackRequest as JSON (ivr → hotline/survey)
TOPIC_RECORDING = "recording"  # a recording was catalogued or its status changed (recordings)

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
]
