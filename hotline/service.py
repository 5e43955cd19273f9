"""The running service: Asterisk (optionally started here), the AMI bridge, the database, the bus
and the web server, started in order and stopped in reverse.

    async with Service(settings) as service:
        await service.bridge.resynced.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path
from types import TracebackType

from aiohttp import web

from ami_bridge.bridge import Bridge
from ami_bridge.client import AmiClient
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl

from . import tasks
from .asterisk.instance import ASTERISK, Instance, ami_secret
from .asterisk.provision import ProvisionError, find_or_provision
from .bus import Bus, make_bus
from .callbacks.dialer import Dialer
from .callbacks.plugin import CALLBACKS, DIALER
from .callbacks.store import CallbackStore
from .db.store import Store
from .floor.plugin import FLOOR
from .floor.service import FloorService
from .live import BridgeLive
from .plugin import BRIDGE_PUBLISHER, Base, Core, Plugin
from .plugins import plugins
from .pops.current import CurrentPops
from .pops.history import History
from .pops.plugin import CURRENT_POPS, HISTORY, POPS
from .pops.service import PopService
from .recordings.plugin import RECORDINGS, STAFF
from .recordings.qaauth import QaAuth
from .recordings.service import RecordingService
from .seats.auth import SeatAuth
from .seats.plugin import SEAT_AUTH
from .settings import Settings
from .survey.plugin import IVR
from .survey.service import Ivr
from .threeway.plugin import THREEWAY
from .threeway.service import ThreewayService
from .tickets.plugin import TICKETS
from .tickets.store import TicketStore
from .web import make_app
from .workdays import WorkCalendar

log = logging.getLogger(__name__)


class Service:
    """The core (database, bus, calendar, the AMI link and the bridge) and the features of hotline/plugins.py
    around it. What a feature made is read back as its part (the properties below, for the CLI, demo and tests)."""

    def __init__(self, settings: Settings, *, start_asterisk: bool = False) -> None:
        self.settings = settings
        self.start_asterisk = start_asterisk
        self.instance: Instance | None = None
        self.asterisk_started_here = False
        self.plugins: list[Plugin] = plugins()
        self.store: Store
        self.bus: Bus
        self.calendar: WorkCalendar
        self.client: AmiClient
        self.bridge: Bridge
        self.seats: SeatControl
        self.core: Core
        self._runner: web.AppRunner | None = None
        self._client_task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    async def __aenter__(self) -> Service:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        s = self.settings
        if self.start_asterisk:
            await asyncio.to_thread(self._asterisk_up)
        self.store = await Store.open(s.effective_database_url)
        self._stack.push_async_callback(self.store.close)
        self.calendar = self._calendar()
        self.bus = make_bus(s.redis_url)
        self._stack.push_async_callback(self.bus.close)
        await self.bus.ping()
        base = Base(settings=s, store=self.store, bus=self.bus, calendar=self.calendar, stack=self._stack)
        if self.instance is not None:
            base.provide(ASTERISK, self.instance)
        for plugin in self.plugins:
            await plugin.prepare(base)
        self.client = AmiClient(
            s.ami_host, s.ami_port, s.ami_username, ami_secret(s),
            connect_timeout=s.ami_connect_timeout, action_timeout=s.ami_action_timeout,
            ping_interval=s.ami_ping_interval, backoff_initial=s.ami_backoff_initial, backoff_max=s.ami_backoff_max,
        )  # fmt: skip
        self.seats = SeatControl(self.client, s.queue, s.pause_reasons)
        rule = RingRule(misses_to_pause=s.misses_to_pause, reason=s.miss_reason, ring_limit_ms=s.ring_timeout_s * 1000)
        self.bridge = Bridge(
            self.client, base.get(BRIDGE_PUBLISHER) or self.bus, self.store, queue=s.queue, wrapup_s=s.wrapup_s,
            rule=rule, miss_reset=s.miss_reset, control=self.seats, exit_after=s.fault_exit,
            queue_log=await asyncio.to_thread(self._queue_log),
        )  # fmt: skip
        await self.bridge.start()
        self._stack.push_async_callback(self.bridge.close)
        self.core = Core.after(base, client=self.client, bridge=self.bridge, control=self.seats,
                               live=BridgeLive(self.bridge))  # fmt: skip
        for plugin in self.plugins:
            await plugin.start(self.core)
            log.debug("plugin %s started", plugin.name)
        # The link last: the first resync publishes what happened while no service ran (a call that ended then, a
        # seat's state) and every feature must hear it (the recordings catalogue such a call, the dialer its end).
        self._client_task = asyncio.create_task(self.client.run(), name="ami-client")
        self._stack.push_async_callback(self._stop_client)
        self._runner = web.AppRunner(make_app(self.core, self.plugins), access_log=None)
        await self._runner.setup()
        self._stack.push_async_callback(self._runner.cleanup)
        await web.TCPSite(self._runner, s.http_host, s.http_port).start()
        log.info("web server on %s (features: %s)", self.url, ", ".join(p.name for p in self.plugins))

    def _calendar(self) -> WorkCalendar:
        """The working-day calendar, warning loudly about a year it does not know."""
        s = self.settings
        calendar = WorkCalendar.load(s.workdays_file, zone=s.zone, day_end=s.workday_end)
        for warning in calendar.status(datetime.now(s.zone).date())["warnings"]:
            log.warning("WORKING-DAY CALENDAR: %s", warning)
        return calendar

    # What the features made, by their parts.
    @property
    def tickets(self) -> TicketStore:
        return self.core.need(TICKETS)

    @property
    def history(self) -> History:
        return self.core.need(HISTORY)

    @property
    def callbacks(self) -> CallbackStore:
        return self.core.need(CALLBACKS)

    @property
    def dialer(self) -> Dialer | None:
        return self.core.get(DIALER)

    @property
    def current_pops(self) -> CurrentPops:
        return self.core.need(CURRENT_POPS)

    @property
    def pops(self) -> PopService:
        return self.core.need(POPS)

    @property
    def floor(self) -> FloorService:
        return self.core.need(FLOOR)

    @property
    def ivr(self) -> Ivr:
        return self.core.need(IVR)

    @property
    def threeway(self) -> ThreewayService:
        return self.core.need(THREEWAY)

    @property
    def recordings(self) -> RecordingService:
        return self.core.need(RECORDINGS)

    @property
    def auth(self) -> SeatAuth:
        return self.core.need(SEAT_AUTH)

    @property
    def staff(self) -> QaAuth:
        return self.core.need(STAFF)

    def _queue_log(self) -> Path | None:
        """Asterisk's queue_log when this host can read it (the project's instance), else None."""
        instance = self.instance
        if instance is None:
            try:
                instance = Instance(find_or_provision(self.settings, allow_provision=False), self.settings)
            except ProvisionError:
                return None
        return instance.log_dir / "queue_log"

    def _asterisk_up(self) -> None:
        self.instance = Instance(find_or_provision(self.settings), self.settings)
        if self.instance.running():
            log.info("Asterisk instance %s already running: using it", self.settings.asterisk_instance)
            return
        self.instance.start()
        self.asterisk_started_here = True
        self._stack.callback(self.instance.stop)

    async def _stop_client(self) -> None:
        await self.client.close()
        if self._client_task is not None:
            await tasks.stop([self._client_task])

    async def wait(self) -> None:
        """Run until the AMI client stops for good (a refused login) or the task is cancelled."""
        assert self._client_task is not None
        await self._client_task
