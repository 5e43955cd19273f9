"""The IVR beside the bridge: the FastAGI server, writing survey results and call-back requests to the
database and publishing them on the bus (topics `survey`, `callback`).

    ivr = await start_ivr(settings, store, bus, seat_of=lambda call_id: ...)  # on settings.agi_host:agi_port
    await ivr.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ivr.flow import IvrConfig
from ivr.server import AgiServer

from ..bus import Bus
from ..db.store import Store
from ..settings import Settings
from ..topics import TOPIC_CALLBACK, TOPIC_SURVEY
from .store import CallbackRequest, SurveyResult, SurveyStore

log = logging.getLogger(__name__)
SeatOf = Callable[[str], str | None]  # a call id → the seat that took the call (the bridge's live call)


def ivr_config(s: Settings) -> IvrConfig:
    return IvrConfig(
        sounds=s.ivr_sounds, queue=s.queue, inbound=s.ivr, menu=dict(s.ivr_menu),
        digit_timeout_ms=int(s.ivr_digit_timeout_s * 1000),
        retries=s.ivr_retries, callback_wait_s=s.callback_offer_wait_s, handle_s=s.avg_handle_s, survey=s.survey,
        survey_scale=s.survey_scale,
    )  # fmt: skip


class Ivr:
    def __init__(self, settings: Settings, store: Store, bus: Bus, *, seat_of: SeatOf | None = None) -> None:
        self.surveys = SurveyStore(store.engine)
        self.bus = bus
        self.seat_of = seat_of
        self.server = AgiServer(ivr_config(settings), self._survey, self._callback)
        self.listening = False

    async def _survey(self, result: SurveyResult) -> None:
        if result.seat is None and self.seat_of is not None and (seat := self.seat_of(result.call_id)):
            log.info("call %s: survey without MEMBERINTERFACE: the seat is the call's, %s", result.call_id, seat)
            result = replace(result, seat=seat)
        try:
            await self.surveys.save(result)
        except Exception:
            log.exception("call %s: survey result %s NOT stored", result.call_id, result.label)
        await self.bus.publish(TOPIC_SURVEY, result)

    async def _callback(self, request: CallbackRequest) -> None:
        saved = await self.surveys.add_callback(request)  # raises: the caller is not told "registered"
        await self.bus.publish(TOPIC_CALLBACK, saved)

    async def close(self) -> None:
        await self.server.close()


async def start_ivr(settings: Settings, store: Store, bus: Bus, *, seat_of: SeatOf | None = None) -> Ivr:
    """The IVR listening; if its port is taken the service still runs (the dialplan sends callers straight
    to the queue, with no survey), and says so loudly."""
    ivr = Ivr(settings, store, bus, seat_of=seat_of)
    try:
        await ivr.server.start(settings.agi_host, settings.agi_port)
        ivr.listening = True
    except OSError as exc:
        log.error("IVR NOT RUNNING: %s. Callers go straight to the queue and get no survey.", exc)
    return ivr
