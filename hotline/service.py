"""The running service: Asterisk (optionally started here), the AMI bridge, the database, the bus
and the web server, started in order and stopped in reverse.

    async with Service(settings) as service:
        await service.bridge.resynced.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from aiohttp import web

from ami_bridge.bridge import Bridge
from ami_bridge.client import AmiClient
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl

from .asterisk.instance import Instance, ami_secret
from .asterisk.provision import find_or_provision
from .bus import Bus, make_bus
from .db.store import Store
from .settings import Settings
from .web import make_app

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, *, start_asterisk: bool = False) -> None:
        self.settings = settings
        self.start_asterisk = start_asterisk
        self.instance: Instance | None = None
        self.asterisk_started_here = False
        self.store: Store
        self.bus: Bus
        self.client: AmiClient
        self.bridge: Bridge
        self.seats: SeatControl
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
        self.bus = make_bus(s.redis_url)
        self._stack.push_async_callback(self.bus.close)
        await self.bus.ping()
        self.client = AmiClient(
            s.ami_host, s.ami_port, s.ami_username, ami_secret(s),
            connect_timeout=s.ami_connect_timeout, action_timeout=s.ami_action_timeout,
            ping_interval=s.ami_ping_interval, backoff_initial=s.ami_backoff_initial, backoff_max=s.ami_backoff_max,
        )  # fmt: skip
        self.seats = SeatControl(self.client, s.queue, s.pause_reasons)
        rule = RingRule(misses_to_pause=s.misses_to_pause, reason=s.miss_reason, ring_limit_ms=s.ring_timeout_s * 1000)
        self.bridge = Bridge(
            self.client, self.bus, self.store, queue=s.queue, wrapup_s=s.wrapup_s, rule=rule,
            miss_reset=s.miss_reset, control=self.seats,
        )  # fmt: skip
        await self.bridge.start()
        self._stack.push_async_callback(self.bridge.close)
        self._client_task = asyncio.create_task(self.client.run(), name="ami-client")
        self._stack.push_async_callback(self._stop_client)
        app = make_app(self.bridge, self.bus, self.store, self.seats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._stack.push_async_callback(self._runner.cleanup)
        await web.TCPSite(self._runner, s.http_host, s.http_port).start()
        log.info("web server on %s", self.url)

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
