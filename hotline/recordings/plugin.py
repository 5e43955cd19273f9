"""Recordings (录音) and QA (质检): the catalogue that follows every call's MixMonitor file, the nightly sample,
the scores, the staff login (QA, 班长, handling units). Offers RECORDINGS and STAFF."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from hotline.asterisk.instance import ASTERISK, Instance
from hotline.asterisk.provision import ProvisionError, find_or_provision
from hotline.plugin import Base, Core, Part, Plugin
from hotline.seats.auth import session_key
from hotline.seats.plugin import SEAT_AUTH

from . import http
from .formats import Format
from .qaauth import QaAuth
from .retention import Retention
from .sampling import Rule
from .service import RecordingConfig, RecordingService
from .store import RecordingStore

log = logging.getLogger(__name__)
RECORDINGS: Part[RecordingService] = Part("recordings")
STAFF: Part[QaAuth] = Part("staff")  # the staff logins: QA, team leaders (班长), handling units


class RecordingsPlugin(Plugin):
    name = "recordings"

    async def prepare(self, base: Base) -> None:
        s = base.settings
        base.provide(STAFF, QaAuth(session_key(s.state_dir), s.qa_users_path, ttl_s=s.qa_session_s))

    async def start(self, core: Core) -> None:
        s = core.settings
        root = s.recordings_dir
        if root is None:
            try:
                instance = core.get(ASTERISK) or Instance(
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
        service = core.provide(
            RECORDINGS, RecordingService(core.bridge, core.bus, RecordingStore(core.store.engine), config)
        )
        await service.start()
        core.stack.push_async_callback(service.close)
        log.info("recordings root %s", root)

    def routes(self, app: web.Application, core: Core) -> None:
        ctx = http.QaContext(core.need(RECORDINGS), core.need(STAFF), core.need(SEAT_AUTH), core.settings.qa_teams)
        http.add_routes(app, ctx)
