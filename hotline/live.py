"""Live calls and seats, read through one interface: the web layer never reaches into the bridge.

Today `BridgeLive` answers from the bridge in this process. A web process apart from the bridge (issue 22) gets
another `LiveState` (backed by Redis) and nothing above this file changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ami_bridge.bridge import Bridge, BridgeStats
from ami_bridge.snapshots import CallSnapshot, SeatSnapshot


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The AMI link as the web shows it (/health, /metrics)."""

    ami_up: bool
    resynced: bool
    address: str
    connections: int
    stats: BridgeStats
    why: str | None = None  # why the link is down (a refused secret, Asterisk unreachable), None while up

    @property
    def up(self) -> bool:
        """Connected and rebuilt from Asterisk: what the service reports is Asterisk's truth."""
        return self.ami_up and self.resynced


class LiveState(Protocol):
    def calls(self) -> list[CallSnapshot]:
        """The calls not yet ended."""
        ...

    def call(self, call_id: str) -> CallSnapshot | None:
        """A live (or just ended) call, None when the live view does not hold it (then ask the store)."""
        ...

    def seats(self) -> list[SeatSnapshot]: ...

    def seat(self, seat: str) -> SeatSnapshot | None: ...

    def link(self) -> LinkStatus: ...

    @property
    def miss_reason(self) -> str:
        """The pause reason a seat gets after missing calls (未接)."""
        ...


class BridgeLive:
    """LiveState from the bridge in this process."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    def calls(self) -> list[CallSnapshot]:
        return self._bridge.calls.active()

    def call(self, call_id: str) -> CallSnapshot | None:
        return self._bridge.calls.get(call_id)

    def seats(self) -> list[SeatSnapshot]:
        return self._bridge.seats.all()

    def seat(self, seat: str) -> SeatSnapshot | None:
        return self._bridge.seats.get(seat)

    def link(self) -> LinkStatus:
        client, bridge = self._bridge.client, self._bridge
        return LinkStatus(
            client.connected.is_set(), bridge.resynced.is_set(), client.address, client.connections, bridge.stats,
            client.down_reason,
        )  # fmt: skip

    @property
    def miss_reason(self) -> str:
        return self._bridge.rule.reason
