"""The queue's announcements in Mandarin: which sounds the queue needs, and that the prompts file has them all."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from hotline.asterisk.checkconfig import project_rules, read_conf
from hotline.settings import REPO_ROOT, Settings
from ivr.prompts import PromptError, build_prompts, load_prompts
from ivr.queue_sounds import NUMBER_SOUNDS, queue_sounds

SHIPPED = REPO_ROOT / "ivr" / "prompts.toml"


def shipped_queue_options() -> dict[str, str]:
    conf = read_conf(REPO_ROOT / "asterisk-conf" / "queues.conf")
    return {key: values[-1] for key, values in conf["hotline"].items()}


def test_every_sound_the_shipped_queue_plays_has_a_mandarin_text() -> None:
    needed = queue_sounds(shipped_queue_options())
    assert "zh/queue-thereare" in needed and "zh/queue-holdtime" in needed and "zh/digits/hundred" in needed
    texts = {p.name: p.text for p in load_prompts(SHIPPED)}
    assert [n for n in needed if n not in texts] == []
    assert texts["zh/queue-thereare"] + "三" + texts["zh/queue-callswaiting"] == "您现在排在第三位。"


# main/say.c ast_say_number_full_zh: the files Asterisk plays for a number (a queue position, minutes)
@pytest.mark.parametrize(
    ("number", "files"),
    [
        (0, ["0"]),
        (2, ["2"]),
        (13, ["10", "3"]),
        (40, ["40"]),
        (105, ["1", "hundred", "0", "5"]),
        (2300, ["2", "thousand", "3", "hundred"]),
        (12000, ["10", "2", "wan"]),
    ],
)
def test_the_numbers_asterisk_says_in_chinese_are_all_there(number: int, files: list[str]) -> None:
    texts = {p.name for p in load_prompts(SHIPPED)}
    for file in files:
        assert f"digits/{file}" in NUMBER_SOUNDS and f"zh/digits/{file}" in texts, (number, file)


@pytest.mark.parametrize(
    ("options", "has", "has_not"),
    [
        ({"announce-frequency": "0", "announce-position": "yes"}, [], ["zh/queue-thereare", "zh/digits/1"]),
        ({"announce-frequency": "30", "announce-position": "no", "announce-holdtime": "no"}, [], ["zh/digits/1"]),
        ({"announce-frequency": "30", "announce-position": "yes"}, ["zh/queue-thereare"], ["zh/queue-holdtime"]),
        ({"announce-frequency": "30", "announce-holdtime": "once"}, ["zh/queue-minutes"], ["zh/queue-thereare"]),
        (  # the centre's own recording, named by path in queues.conf, is not ours to make
            {"announce-frequency": "30", "announce-position": "yes", "queue-thereare": "/srv/sounds/thereare"},
            ["zh/queue-callswaiting", "zh/queue-thankyou", "zh/digits/9"],
            ["zh/queue-thereare"],
        ),
    ],
)
def test_the_sounds_follow_the_queues_options(options: dict[str, str], has: list[str], has_not: list[str]) -> None:
    needed = queue_sounds(options)
    assert all(n in needed for n in has) and not any(n in needed for n in has_not), needed


@pytest.mark.parametrize("name", ["zh/../x", "ZH/queue-x", "/zh/x", "zh/digits/1/2/3", "zh/"])
def test_a_language_sound_name_is_a_folder_and_a_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text(f'["{name}"]\ntext = "一"\n', encoding="utf-8")
    with pytest.raises(PromptError, match="zh/digits/1"):
        load_prompts(path)


def test_a_language_sound_is_made_in_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text('["zh/digits/1"]\ntext = "一"\n', encoding="utf-8")
    out = tmp_path / "sounds"
    assert build_prompts(load_prompts(path), out) == [out / "zh" / "digits" / "1.wav"]
    with wave.open(str(out / "zh" / "digits" / "1.wav")) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)


def test_check_config_names_a_missing_queue_sound(settings: Settings, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.toml"
    prompts.write_text(SHIPPED.read_text(encoding="utf-8").replace('["zh/digits/7"]\ntext = "七"\n', ""), "utf-8")
    check = {c.what: c for c in project_rules(settings.model_copy(update={"prompts_file": prompts}))}
    sounds = check["every sound the queue plays to a caller has its text"]
    assert sounds.failed and "zh/digits/7" in sounds.detail and "English" in sounds.detail
    assert {c.what: c for c in project_rules(settings)}["every sound the queue plays to a caller has its text"].ok


def test_check_config_wants_one_language_for_citizens(settings: Settings, tmp_path: Path) -> None:
    conf = tmp_path / "asterisk-conf"
    shutil.copytree(REPO_ROOT / "asterisk-conf", conf)
    pjsip = (conf / "pjsip.conf").read_text()
    (conf / "pjsip.conf").write_text(pjsip.replace("language = zh ", "language = en ", 1))
    broken = settings.model_copy(update={"asterisk_conf": conf})
    same = {c.what: c for c in project_rules(broken)}["citizens' calls have one language"]
    assert same.failed and "[carrier-in] language = en" in same.detail
