"""The FastAGI server the dialplan calls: /inbound before the queue, /survey after the seat hangs up,
/callback-survey when the 回访 dialer's automated survey calls a citizen (extensions.conf [dialer-survey]).

    server = AgiServer(config, recorder)
    await server.start(host, port)
    await server.close()          # stops listening and cancels every session

Whatever happens here (a wrong key, no key, a missing prompt, this server down), the caller goes on to
the queue: the dialplan continues after AGI() in every case. Every log line names the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from .agi import AgiError, AgiHangup, AgiSession
from .flow import (
    NO_ANSWER,
    SATISFIED,
    IvrConfig,
    Step,
    callback_number_of,
    collect_step,
    expected_wait_s,
    ivr_choices,
    offer_callback,
    survey_label,
    valid_callback_number,
)
from .reports import CallbackRequest, SurveyEnd, SurveyResult, ended

SURVEY_DONE = "HOTLINE_SURVEY"  # set on the channel once the survey is over (done, or off): else it was cut
log = logging.getLogger(__name__)

OnSurvey = Callable[[SurveyResult], Awaitable[None]]
OnCallback = Callable[[CallbackRequest], Awaitable[None]]
OnCallbackSurvey = Callable[[str, str | None, SurveyEnd], Awaitable[None]]  # attempt id, key, how it ended


class CallLog(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"call {self.extra['call'] if self.extra else '?'}: {msg}", kwargs


class AgiServer:
    def __init__(self, config: IvrConfig, on_survey: OnSurvey, on_callback: OnCallback) -> None:
        self.config = config
        self.on_survey, self.on_callback = on_survey, on_callback
        self.on_callback_survey: OnCallbackSurvey | None = None  # set when the 回访 dialer runs
        self.sessions = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def active(self) -> int:
        """FastAGI sessions going on now (`sessions`: all since the start)."""
        return len(self._tasks)

    async def start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError as exc:
            raise OSError(
                f"cannot listen for FastAGI on {host}:{port}: {exc.strerror} "
                "(another hotline running? set HOTLINE_AGI_PORT, and the dialplan follows at the next Asterisk start)"
            ) from exc
        log.info("FastAGI (IVR) on %s:%d", host, port)

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            session = await AgiSession.open(reader, writer)
        except (AgiError, TimeoutError, ConnectionError) as exc:
            log.debug("FastAGI: connection without a session (%s)", exc)
            writer.close()
            self._tasks.discard(task)
            return
        self.sessions += 1
        call = CallLog(log, {"call": session.headers.get("uniqueid", "?")})
        try:
            call_id = await session.get_variable("${HOTLINE_CALL}") or session.headers.get("uniqueid", "?")
            call = CallLog(log, {"call": call_id})
            sounds = await session.get_variable("${HOTLINE_SOUNDS}") or self.config.sounds
            flow = Flow(session, self.config, call_id, sounds, call)
            if session.route == "inbound":
                await flow.inbound(self.on_callback)
            elif session.route == "survey":
                await flow.survey(self.on_survey)
            elif session.route == "callback-survey":
                await flow.callback_survey(self.on_callback_survey)
            else:
                call.error("FastAGI: no route %r (the dialplan calls /inbound and /survey)", session.route)
        except AgiHangup as exc:
            call.info("caller hung up in the IVR (%s)", exc)
        except (AgiError, TimeoutError, ConnectionError) as exc:
            call.warning("IVR ended early, the caller goes on in the dialplan: %s", exc)
        except Exception:
            call.exception("IVR failed, the caller goes on in the dialplan")
        except asyncio.CancelledError:
            if not self._closing:
                raise
            # close() ended this session: the caller goes on in the dialplan. Not re-raised: asyncio's server
            # would log a cancelled connection handler as an error ("Exception in callback ...")
            call.info("IVR stopped with the service, the caller goes on in the dialplan")
        finally:
            await session.close()
            self._tasks.discard(task)


class Flow:
    """One call's path through the IVR."""

    def __init__(self, session: AgiSession, config: IvrConfig, call_id: str, sounds: str, log: CallLog) -> None:
        self.s, self.config, self.call_id, self.sounds, self.log = session, config, call_id, sounds.rstrip("/"), log
        self.caller = session.headers.get("callerid", "")
        self.choices: list[str] = []
        self.last_key = ""  # the key of the last try in collect(): "" when none came in time

    def prompt(self, name: str) -> str:
        return f"{self.sounds}/{name}"

    async def collect(self, prompt: str, valid: set[str], *, invalid_prompt: str = "ivr-invalid") -> str | None:
        """The key chosen after the prompt, trying again on a wrong or missing key; None after the retries."""
        for attempt in range(1, self.config.attempts + 1):
            key = self.last_key = await self.s.get_data(self.prompt(prompt), self.config.digit_timeout_ms, 1)
            step = collect_step(key, valid, attempt, self.config.attempts)
            self.log.info("%s: key %r (try %d of %d) → %s", prompt, key, attempt, self.config.attempts, step.value)
            if step is Step.CHOSEN:
                return key
            if key and step is Step.RETRY:
                await self.s.stream_file(self.prompt(invalid_prompt))
        return None

    # ------------------------------------------------------------------ inbound
    async def inbound(self, on_callback: OnCallback) -> None:
        if not self.config.inbound:
            return
        started = asyncio.get_running_loop().time()
        await self.s.stream_file(self.prompt("ivr-welcome"))
        await self.s.stream_file(self.prompt("ivr-emergency"))
        try:
            if self.config.menu:
                await self.menu()
            if await self.callback_wanted() and await self.callback(on_callback):
                return
        finally:
            if self.choices:
                await self.s.set_variable("HOTLINE_IVR", ivr_choices(*self.choices))
        took = asyncio.get_running_loop().time() - started
        self.log.info("IVR done in %.1f s (%s), to the queue", took, ivr_choices(*self.choices) or "no choices")

    async def menu(self) -> None:
        key = await self.collect("ivr-menu", set(self.config.menu))
        if key is None:
            self.choices.append("菜单:未选")
            return
        label = self.config.menu[key]
        self.choices.append(label)
        await self.s.set_variable("HOTLINE_TOPIC", label)

    async def callback_wanted(self) -> bool:
        if self.config.callback_wait_s <= 0:
            return False
        q = self.config.queue
        counts = []
        for expr in (f"QUEUE_MEMBER({q},free)", f"QUEUE_MEMBER({q},ready)", f"QUEUE_WAITING_COUNT({q})"):
            value = await self.s.get_variable("${" + expr + "}")
            counts.append(int(value) if value and value.isdigit() else 0)
        expected = expected_wait_s(counts[0], counts[1], counts[2], self.config.handle_s)
        if not offer_callback(expected, self.config.callback_wait_s):
            return False
        self.log.info("expected wait %s s (free/ready/waiting %s): offering a call-back", expected, counts)
        key = await self.collect("callback-offer", {"1", "2"})
        if key != "1":
            self.choices.append("回电:继续等候")
            return False
        return True

    async def callback(self, on_callback: OnCallback) -> bool:
        """Confirm the number (the caller's own, or one keyed in) and register the call-back; True when done."""
        number = callback_number_of(self.caller)
        for _ in range(self.config.attempts):
            if number is None:
                keyed = await self.s.get_data(self.prompt("callback-enter"), 10000, 12)
                if not valid_callback_number(keyed):
                    self.log.info("call-back number %r is not a phone number", keyed)
                    await self.s.stream_file(self.prompt("ivr-invalid"))
                    continue
                number = keyed
            await self.s.stream_file(self.prompt("callback-number-is"))
            for digit in number:
                await self.s.stream_file(self.prompt(f"digit-{digit}"))
            key = await self.collect("callback-confirm", {"1", "2"})
            if key == "1":
                request = CallbackRequest(
                    self.call_id, self.caller or None, number, self.config.queue, datetime.now(UTC)
                )
                await on_callback(request)
                self.log.info("call-back to %s registered; the caller hangs up", number)
                await self.s.stream_file(self.prompt("callback-done"))
                await self.s.hangup()
                return True
            if key is None:
                break
            number = None  # 2: key in another number
        self.log.info("call-back not confirmed: to the queue")
        self.choices.append("回电:未确认")
        return False

    # ------------------------------------------------------------------ survey
    async def survey(self, on_survey: OnSurvey) -> None:
        if not self.config.survey:
            await self.s.set_variable(SURVEY_DONE, "off")  # nothing to ask: [survey-again] does not ask again
            return
        scale = self.config.survey_scale
        interface = await self.s.get_variable("${MEMBERINTERFACE}") or ""
        seat = interface.rpartition("/")[2] or None
        queue = await self.s.get_variable("${QUEUENAME}") or self.config.queue
        label: str | None = None
        reason: str | None = "timeout"
        key: str | None = None
        try:
            key = await self.collect(f"survey-{scale}", {str(n) for n in range(1, scale + 1)})
            label = survey_label(key, scale) if key else None
            reason = "answered" if label else "invalid" if self.last_key else "timeout"
        except AgiHangup:
            reason = "hangup"
            raise
        except asyncio.CancelledError:  # the server is going away: not the citizen's answer; the dialplan asks again
            reason = None
            raise
        finally:
            if reason is not None:
                await self._report_survey(on_survey, seat, queue, scale, key, label, reason)
        await self.s.set_variable(SURVEY_DONE, "done")  # a survey cut before this is asked again ([survey-again])
        await self.s.stream_file(self.prompt("survey-thanks"))
        await self.s.hangup()

    async def _report_survey(
        self, on_survey: OnSurvey, seat: str | None, queue: str, scale: int, key: str | None, label: str | None,
        reason: str,
    ) -> None:  # fmt: skip
        level = int(key) if label and key else None
        result = SurveyResult(
            self.call_id, seat, queue, self.caller or None, scale, level, label or NO_ANSWER,
            None if label is None else label in SATISFIED, reason, datetime.now(UTC),
        )  # fmt: skip
        self.log.info("survey at seat %s: %s (%s)", seat, result.label, reason)
        await on_survey(result)

    # ------------------------------------------------------------------ the 回访 dialer's automated survey
    async def callback_survey(self, report: OnCallbackSurvey | None) -> None:
        """1 满意, 2 基本满意, 3 不满意, with retries; the key (or none) goes to the dialer before hanging up."""
        attempt = await self.s.get_variable("${HOTLINE_CB_ATTEMPT}") or ""
        if report is None or not attempt:
            self.log.error("automated survey callback %r with no dialer to report to: hanging up", attempt)
            await self.s.hangup()
            return
        key: str | None = None
        hung_up = False
        try:
            key = await self.collect("callback-survey", {"1", "2", "3"})
        except AgiHangup:
            hung_up = True
            raise
        finally:
            how = ended(key, self.last_key, hung_up)
            self.log.info("automated survey callback %s: key %r → %s", attempt, key, how.value)
            await report(attempt, key, how)
        await self.s.stream_file(self.prompt("survey-thanks" if how is SurveyEnd.ANSWERED else "callback-survey-seat"))
        await self.s.hangup()
