"""Citizens waiting in the queue hear Asterisk's position announcements in Mandarin (sounds/zh), never English.

Asterisk's own log (messages.log, verbose 3) names every file it plays on a channel and the channel's
language: `<PJSIP/carrier-in-…> Playing 'queue-thereare.slin' (language 'zh')`. The generated files are
8 kHz WAV (format slin); the packaged English sounds are GSM, so an English file shows as `.gsm`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.client import AmiClient
from ami_bridge.protocol import Frame
from hotline.asterisk.instance import Instance
from tests.helpers import realparts
from tests.helpers.polling import frames_until

pytestmark = pytest.mark.asterisk

PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<file>[^']+)' \(language '(?P<language>[^']*)'\)")


def played(log: Path, offset: int, channel: str) -> list[tuple[str, str]]:
    """(file, language) of each queue sound or number Asterisk played on the channel, after `offset`."""
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [
        (m["file"], m["language"])
        for m in PLAYING.finditer(text)
        if m["channel"] == channel and m["file"].startswith(("queue-", "digits/"))
    ]


async def played_until(log: Path, offset: int, channel: str, last: str, timeout: float) -> list[tuple[str, str]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seen = played(log, offset, channel)
        if any(file.startswith(last) for file, _ in seen) or loop.time() > deadline:
            return seen
        await asyncio.sleep(0.3)


async def joins(ami: AmiClient, number: str) -> Frame:
    """The QueueCallerJoin of the citizen calling from `number`."""
    seen = await frames_until(ami, lambda f: f.name == "QueueCallerJoin" and f.get("CallerIDNum") == number, 20)
    return seen[-1][1]


async def test_waiting_citizens_hear_their_position_in_mandarin(
    service: Any, ami: AmiClient, asterisk: Instance, tmp_path: Path
) -> None:
    log = asterisk.log_dir / "messages.log"
    offset = log.stat().st_size
    await service.seats.login("8011", paused_reason="小休")  # a seat, but none free: both citizens wait
    first = await realparts.citizen_call("13900139021", 40000, tmp_path, index=0)
    first_channel = (await joins(ami, "13900139021"))["Channel"]
    second = await realparts.citizen_call("13900139022", 40000, tmp_path, index=1)
    joined = await joins(ami, "13900139022")
    second_channel = joined["Channel"]
    assert joined["Position"] == "2"

    second_heard = await played_until(log, offset, second_channel, "queue-thankyou", 30)
    first_heard = await played_until(log, offset, first_channel, "queue-thankyou", 10)
    await realparts.hang_up_all(service.client)
    await first.stop()
    await second.stop()

    files = [file.rsplit(".", 1)[0] for file, _ in second_heard]
    assert files[:3] == ["queue-thereare", "digits/2", "queue-callswaiting"], second_heard  # 您现在排在第 二 位。
    assert files[-1] == "queue-thankyou", second_heard
    assert [file.rsplit(".", 1)[0] for file, _ in first_heard][:1] == ["queue-youarenext"], first_heard
    for file, language in first_heard + second_heard:
        assert language == "zh", f"{file} played in {language!r}"
        assert file.endswith(".slin"), f"{file}: not the generated Mandarin WAV (the English sounds are .gsm)"
    zh = asterisk.host_path(asterisk.inner / "data" / "sounds" / "zh")
    for file in {file.rsplit(".", 1)[0] for file, _ in first_heard + second_heard}:
        assert (zh / f"{file}.wav").is_file(), f"Asterisk's sounds/zh/{file}.wav was made from ivr/prompts.toml"
