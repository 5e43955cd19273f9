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
from types import TracebackType

from aiohttp import web

from ami_bridge.bridge import Bridge
from ami_bridge.client import AmiClient
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from hotline.recordings.formats import Format
from hotline.recordings.http import QaContext
from hotline.recordings.qaauth import QaAuth
from hotline.recordings.retention import Retention
from hotline.recordings.sampling import Rule
from hotline.recordings.service import RecordingConfig, RecordingService
from hotline.recordings.store import RecordingStore

from . import casefile
from .asterisk.instance import Instance, ami_secret
from .asterisk.provision import ProvisionError, find_or_provision
from .bus import Bus, make_bus
from .callbacks.dialer import Dialer
from .callbacks.dialer import from_settings as callback_settings
from .callbacks.store import CallbackStore
from .db.store import Store
from .floor.service import FloorService
from .floor.stats import Targets
from .live import BridgeLive
from .pops.current import CurrentPops
from .pops.history import History, NoHistory
from .pops.service import PopService, beside_bridge
from .seats.auth import SeatAuth, session_key
from .settings import Settings
from .survey.service import Ivr, start_ivr
from .threeway.records import ThreewayRecords
from .threeway.service import ThreewayConfig, ThreewayService
from .tickets.store import TicketStore
from .tickets.units import load_units
from .web import make_app
from .workdays import WorkCalendar

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, *, start_asterisk: bool = False, history: History | None = None) -> None:
        self.settings = settings
        self.start_asterisk = start_asterisk
        self.history: History = history or NoHistory()  # the callers' tickets for screen pops (the ticket store)
        self.instance: Instance | None = None
        self.asterisk_started_here = False
        self.store: Store
        self.bus: Bus
        self.client: AmiClient
        self.bridge: Bridge
        self.seats: SeatControl
        self.floor: FloorService
        self.calendar: WorkCalendar
        self.tickets: TicketStore
        self.current_pops: CurrentPops
        self.pops: PopService
        self.auth: SeatAuth
        self.staff: QaAuth
        self.threeway: ThreewayService
        self.ivr: Ivr
        self.recordings: RecordingService
        self.callbacks: CallbackStore  # 回访 tasks
        self.dialer: Dialer | None = None
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
        await self._start_tickets()
        if isinstance(self.history, NoHistory):
            self.history = self.tickets  # screen pops show the caller's tickets from this database
        self.bus = make_bus(s.redis_url)
        self._stack.push_async_callback(self.bus.close)
        await self.bus.ping()
        # screen pops follow the calls from the bridge's first resync on
        bridge_bus, self.current_pops, self.pops = beside_bridge(
            self.bus, self.history, keep_s=s.pop_keep_s, history_timeout=s.pop_history_timeout
        )
        await self.pops.start()
        self._stack.push_async_callback(self.pops.close)
        self.client = AmiClient(
            s.ami_host, s.ami_port, s.ami_username, ami_secret(s),
            connect_timeout=s.ami_connect_timeout, action_timeout=s.ami_action_timeout,
            ping_interval=s.ami_ping_interval, backoff_initial=s.ami_backoff_initial, backoff_max=s.ami_backoff_max,
        )  # fmt: skip
        self.seats = SeatControl(self.client, s.queue, s.pause_reasons)
        rule = RingRule(misses_to_pause=s.misses_to_pause, reason=s.miss_reason, ring_limit_ms=s.ring_timeout_s * 1000)
        self.bridge = Bridge(
            self.client, bridge_bus, self.store, queue=s.queue, wrapup_s=s.wrapup_s, rule=rule,
            miss_reset=s.miss_reset, control=self.seats,
        )  # fmt: skip
        await self.bridge.start()
        self._stack.push_async_callback(self.bridge.close)
        self._client_task = asyncio.create_task(self.client.run(), name="ami-client")
        self._stack.push_async_callback(self._stop_client)
        targets = Targets(
            ring_limit_ms=s.ring_timeout_s * 1000, service_level_s=s.service_level_s,
            service_level_target=s.service_level_target, answer_rate_target=s.answer_rate_target,
        )  # fmt: skip
        self.floor = FloorService(self.bus, self.store, targets, s.zone)
        await self.floor.start()
        self._stack.push_async_callback(self.floor.close)
        self.ivr = await start_ivr(s, self.store, self.bus, seat_of=self._seat_of)  # FastAGI: the IVR and the survey
        self._stack.push_async_callback(self.ivr.close)
        await self._start_threeway()
        await self._start_recordings()
        if s.callbacks:
            await self._start_dialer()
        self.auth = SeatAuth.from_settings(s)
        self.staff = staff = QaAuth(session_key(s.state_dir), s.qa_users_path, ttl_s=s.qa_session_s)  # QA, 班长
        app = make_app(
            BridgeLive(self.bridge), self.bus, self.store, self.seats, self.floor, auth=self.auth,
            pops=self.current_pops, tickets=self.tickets, threeway=self.threeway, callbacks=self.callbacks,
            callback_survey=s.callback_survey,
            qa=QaContext(self.recordings, staff, self.auth, s.qa_teams), staff=staff,
        )  # fmt: skip
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._stack.push_async_callback(self._runner.cleanup)
        await web.TCPSite(self._runner, s.http_host, s.http_port).start()
        log.info("web server on %s", self.url)

    def _seat_of(self, call_id: str) -> str | None:
        """The seat of a live call (the survey's seat when the channel has no MEMBERINTERFACE)."""
        call = self.bridge.calls.get(call_id)
        return call.seat if call else None

    async def _start_tickets(self) -> None:
        """The working-day calendar (warning loudly about a year it does not know), the ticket store on the
        service's database, and the units file loaded into an empty units table (never over API edits)."""
        s = self.settings
        self.calendar = WorkCalendar.load(s.workdays_file, zone=s.zone, day_end=s.workday_end)
        today = datetime.now(s.zone).date()
        for warning in self.calendar.status(today)["warnings"]:
            log.warning("WORKING-DAY CALENDAR: %s", warning)
        policy, _ = callback_settings(s)
        self.tickets = casefile.wire(TicketStore(self.store.engine, self.calendar), policy)
        self.callbacks = CallbackStore(self.store.engine, self.calendar, policy)
        if await self.tickets.units.count() == 0:
            loaded = await self.tickets.units.seed(load_units(s.units_file))
            log.info("handling units: %d loaded from %s into the empty directory", loaded, s.units_file)

    async def _start_threeway(self) -> None:
        s = self.settings
        records = ThreewayRecords(self.store.engine)
        await records.start()
        self._stack.push_async_callback(records.close)
        config = ThreewayConfig(s.threeway_trunk, s.threeway_ring_s, s.threeway_caller_id, s.threeway_show_citizen)
        self.threeway = ThreewayService(self.client, self.bridge, self.bus, self.tickets.units, records, config)
        await self.threeway.start()
        self._stack.push_async_callback(self.threeway.close)

    async def _start_recordings(self) -> None:
        s = self.settings
        root = s.recordings_dir
        if root is None:
            try:
                instance = self.instance or Instance(
                    await asyncio.to_thread(find_or_provision, s, allow_provision=False), s
                )
                root = instance.recordings
            except ProvisionError as exc:  # Asterisk elsewhere: the recordings must be shared with us
                root = s.state_dir / "recordings"
                log.warning("no local Asterisk (%s): reading recordings from %s; set HOTLINE_RECORDINGS_DIR", exc, root)
        config = RecordingConfig(
            root, s.zone, s.recording_settle_s, s.recording_tolerance_s,
            Retention(s.retention_days, s.retention_complaint_days), Rule(s.qa_sample_ratio, s.qa_sample_min),
            s.qa_nightly_at, s.recording_sweep_days, s.recording_sweep, Format(s.recording_format),
        )  # fmt: skip
        self.recordings = RecordingService(self.bridge, self.bus, RecordingStore(self.store.engine), config)
        await self.recordings.start()
        self._stack.push_async_callback(self.recordings.close)
        log.info("recordings root %s", root)

    async def _start_dialer(self) -> None:
        """The 回访 dialer: callback tasks from the database, dialled agent first over AMI."""
        policy, config = callback_settings(self.settings)
        self.dialer = Dialer(self.client, self.bridge, self.bus, self.callbacks, self.tickets, policy, config)
        await self.dialer.start()
        self._stack.push_async_callback(self.dialer.close)
        self.ivr.server.on_callback_survey = self.dialer.surveys.result  # the automated survey's keys

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
            self._client_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._client_task

    async def wait(self) -> None:
        """Run until the AMI client stops for good (a refused login) or the task is cancelled."""
        assert self._client_task is not None
        await self._client_task
