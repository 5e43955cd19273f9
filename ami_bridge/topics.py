"""Typed bus topics, and the bridge's own four.

A `Topic[T]` names a channel of the bus and the type of what travels on it. In one process the bus hands the
frozen object itself to every subscriber; across processes (Redis) it is encoded once, by the publisher, and
decoded once, into the same type, by the subscriber's process (hotline/bus.py). No consumer parses a dict back.
Every message type has `to_json()`: the JSON document a browser gets (websockets), the same as the REST API's.

The bridge defines the type and its topics here because it knows nothing above it; the features' topics are in
hotline/topics.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .snapshots import CallSnapshot, MissSnapshot, SeatSnapshot

T = TypeVar("T")


class Jsonable(Protocol):
    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Topic(Generic[T]):
    """A bus channel (`name`) and the type of its messages (`type`). Compared by name."""

    name: str
    type: Any  # type[T]; Any so that a JSON document type (dict[str, Any]) can be named too

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class CallChange:
    """A call's snapshot changed. `received`: when the bridge took the AMI frame that changed it (Unix time;
    screen pops measure their delay from it), None for changes not caused by a frame (a resync)."""

    call: CallSnapshot
    received: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.call.to_json()
        if self.received is not None:
            out["received"] = self.received
        return out


@dataclass(frozen=True, slots=True)
class MissChange:
    """A seat let a call ring past the limit or rejected it (未接); `pausing`: the ring rule pauses it now."""

    miss: MissSnapshot
    pausing: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.miss.to_json(), "pausing": self.pausing}


@dataclass(frozen=True, slots=True)
class LinkChange:
    """The bridge's AMI link went up (`version` of Asterisk, the `connection` count) or down (`reason`)."""

    link: str  # "up" | "down"
    reason: str | None = None
    version: str | None = None
    connection: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("link", self.link), ("reason", self.reason), ("version", self.version),
                                  ("connection", self.connection)) if v is not None}  # fmt: skip


TOPIC_CALL: Topic[CallChange] = Topic("call", CallChange)  # a call's snapshot changed
TOPIC_SEAT: Topic[SeatSnapshot] = Topic("seat", SeatSnapshot)  # a seat's snapshot changed
TOPIC_MISS: Topic[MissChange] = Topic("miss", MissChange)  # a seat let a call ring past the limit, or rejected it
TOPIC_BRIDGE: Topic[LinkChange] = Topic("bridge", LinkChange)  # the bridge's own link state
