"""A room per feature: each feature's `plugin.py` owns what it starts, what it offers the later features and
its routes; the service and the app factory loop over the list in hotline/plugins.py and know no feature.

A plugin has three moments, each optional:

- `prepare(base)`: before the AMI link exists (the database, the bus, the calendar): stores, and what the
  bridge must publish on (the screen pops' tee);
- `start(core)`: with the link, the bridge and the live view: services that follow calls, dial or listen;
- `routes(app, core)`: its HTTP routes (each with its rule in hotline/access.py).

What a feature offers the later ones is a typed `Part` (like aiohttp's `AppKey`): `core.provide(TICKETS, store)`
in the one, `core.need(TICKETS)` in the other. Whatever a plugin opens it closes through `base.stack`, so the
service stops everything in the reverse order it started. Modelled on wazo-calld's plugins/<feature>/plugin.py,
with typed parts instead of a dict of dependencies.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiohttp import web

from ami_bridge.bridge import Bridge
from ami_bridge.client import AmiClient
from ami_bridge.ports import Publisher
from ami_bridge.seat_control import SeatControl

from .bus import Bus
from .db.store import Store
from .errors import HotlineError, Kind
from .live import LiveState
from .settings import Settings
from .workdays import WorkCalendar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Part(Generic[T]):
    """The typed name of something one feature gives the others."""

    name: str

    def __repr__(self) -> str:
        return f"Part({self.name!r})"


class PartMissing(HotlineError):
    """A plugin needs a part no earlier plugin provided: the plugin list is out of order (a bug)."""

    error = "plugin-order"
    kind = Kind.BROKEN


# The part the bridge publishes its snapshots on, when a plugin must see them first (else: the bus).
BRIDGE_PUBLISHER: Part[Publisher] = Part("bridge-publisher")


@dataclass(kw_only=True)
class Base:
    """What every plugin has from its first moment on."""

    settings: Settings
    store: Store
    bus: Bus
    calendar: WorkCalendar
    stack: contextlib.AsyncExitStack
    parts: dict[Part[object], object] = field(default_factory=dict)

    def provide(self, part: Part[T], value: T) -> T:
        if part in self.parts:
            raise PartMissing(f"{part.name} is provided twice", part=part.name)
        self.parts[part] = value  # type: ignore[index]
        return value

    def need(self, part: Part[T]) -> T:
        if part not in self.parts:
            have = ", ".join(sorted(p.name for p in self.parts)) or "nothing yet"
            raise PartMissing(
                f"{part.name} is needed but not provided (have: {have}): list its plugin earlier in hotline/plugins.py",
                part=part.name,
            )
        return self.parts[part]  # type: ignore[index, return-value]

    def get(self, part: Part[T]) -> T | None:
        return self.parts.get(part)  # type: ignore[arg-type, return-value]


@dataclass(kw_only=True)
class Core(Base):
    """Base, and the telephony: the AMI link, the bridge, seat control and the live view of calls and seats."""

    client: AmiClient
    bridge: Bridge
    control: SeatControl
    live: LiveState

    @classmethod
    def after(cls, base: Base, *, client: AmiClient, bridge: Bridge, control: SeatControl, live: LiveState) -> Core:
        """The core over `base`: the same parts and the same stack."""
        return cls(
            settings=base.settings, store=base.store, bus=base.bus, calendar=base.calendar, stack=base.stack,
            parts=base.parts, client=client, bridge=bridge, control=control, live=live,
        )  # fmt: skip


class Plugin:
    """A feature's plugin. Subclasses set `name` and implement the moments they need."""

    name = "plugin"

    async def prepare(self, base: Base) -> None:
        """Before the AMI link: stores and what the bridge must publish on."""

    async def start(self, core: Core) -> None:
        """With the link, the bridge and the live view."""

    def routes(self, app: web.Application, core: Core) -> None:
        """The feature's HTTP routes."""
