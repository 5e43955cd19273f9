"""Seat actions through AMI: log in, log out, pause with a reason, resume, auto-answer. Idempotent."""

from __future__ import annotations

import logging
import re

from .client import AmiActionError, AmiClient
from .constants import AUTO_ANSWER_DB_FAMILY, AutoAnswer

log = logging.getLogger(__name__)

SEAT_RE = re.compile(r"^\d{3,6}$")


class SeatInputError(ValueError):
    """A seat name or pause reason that cannot be right; the message names the field and the rule."""


def check_seat(seat: str) -> str:
    if not SEAT_RE.match(seat):
        raise SeatInputError(f"seat: {seat!r} is not a seat extension (3 to 6 digits, e.g. 8001)")
    return seat


class SeatControl:
    def __init__(self, client: AmiClient, queue: str, pause_reasons: tuple[str, ...]) -> None:
        self.client, self.queue, self.pause_reasons = client, queue, pause_reasons

    async def login(self, seat: str, *, paused_reason: str | None = None) -> None:
        fields: dict[str, str | bool] = {
            "Queue": self.queue,
            "Interface": f"PJSIP/{check_seat(seat)}",
            "MemberName": seat,
            "StateInterface": f"PJSIP/{seat}",
            "Paused": paused_reason is not None,
        }
        if paused_reason is not None:
            fields["Reason"] = self._reason(paused_reason)
        try:
            await self.client.action("QueueAdd", fields)
        except AmiActionError as exc:
            if "Already there" not in exc.message:
                raise
        log.info("seat %s: logged in to %s", seat, self.queue)

    async def logout(self, seat: str) -> None:
        try:
            await self.client.action("QueueRemove", {"Queue": self.queue, "Interface": f"PJSIP/{check_seat(seat)}"})
        except AmiActionError as exc:
            if "Not there" not in exc.message:
                raise
        log.info("seat %s: logged out of %s", seat, self.queue)

    async def pause(self, seat: str, reason: str) -> None:
        fields: dict[str, str | bool] = {
            "Queue": self.queue,
            "Interface": f"PJSIP/{check_seat(seat)}",
            "Paused": True,
            "Reason": self._reason(reason),
        }
        await self.client.action("QueuePause", fields)
        log.info("seat %s: paused (%s)", seat, reason)

    async def resume(self, seat: str) -> None:
        await self.client.action(
            "QueuePause", {"Queue": self.queue, "Interface": f"PJSIP/{check_seat(seat)}", "Paused": False}
        )
        log.info("seat %s: resumed", seat)

    async def hang_up(self, seat: str, channel: str) -> None:
        """Hang up the seat's own leg (the seat page's 挂断); the citizen goes on to the survey."""
        await self.client.action("Hangup", {"Channel": channel})
        log.info("seat %s: hung up %s", check_seat(seat), channel)

    async def set_auto_answer(self, seat: str, mode: str) -> AutoAnswer:
        """Kept in Asterisk's own database, read by [seat-predial] as the seat's phone starts ringing,
        so it holds across restarts of the bridge and of Asterisk."""
        try:
            wanted = AutoAnswer(mode)
        except ValueError:
            choices = ", ".join(m.value for m in AutoAnswer)
            raise SeatInputError(f"auto_answer: {mode!r} is not a way to auto-answer; one of {choices}") from None
        key = {"Family": AUTO_ANSWER_DB_FAMILY, "Key": check_seat(seat)}
        if wanted is AutoAnswer.OFF:
            try:
                await self.client.action("DBDel", key)
            except AmiActionError:
                if await self.auto_answer(seat) is not AutoAnswer.OFF:  # else: there was nothing to delete
                    raise
        else:
            await self.client.action("DBPut", {**key, "Val": wanted.value})
        log.info("seat %s: auto-answer %s", seat, wanted.value)
        return wanted

    async def auto_answer(self, seat: str) -> AutoAnswer:
        try:
            frames = await self.client.action_list("DBGet", {"Family": AUTO_ANSWER_DB_FAMILY, "Key": check_seat(seat)})
        except AmiActionError as exc:
            if "not found" in exc.message.lower():
                return AutoAnswer.OFF
            raise
        values = [f.get("Val") for f in frames if f.name == "DBGetResponse"]
        try:
            return AutoAnswer(values[0]) if values else AutoAnswer.OFF
        except ValueError:
            log.warning(
                "seat %s: Asterisk's database holds auto-answer %r, not a known mode: treated as off", seat, values
            )
            return AutoAnswer.OFF

    def _reason(self, reason: str) -> str:
        if reason not in self.pause_reasons:
            raise SeatInputError(f"reason: {reason!r} is not a pause reason; one of {', '.join(self.pause_reasons)}")
        return reason
