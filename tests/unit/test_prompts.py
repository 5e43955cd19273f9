"""Voice prompts from text (ivr.prompts): the file's rules, real espeak-ng + sox output, the cache."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from hotline.settings import REPO_ROOT
from ivr.prompts import Prompt, PromptError, build_prompts, load_prompts, phonemes, problems


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param('[Bad_Name]\ntext = "x"\n', "[Bad_Name]: a prompt name is lower-case", id="name"),
        pytest.param("[no-text]\n", "[no-text]: needs text", id="no text"),
        pytest.param('[blank]\ntext = "  "\n', "[blank]: needs text", id="blank text"),
        pytest.param("[oops\n", "not valid TOML", id="not toml"),
    ],
)
def test_a_bad_prompts_file_is_refused_with_the_prompt_named(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(PromptError, match=r".*") as err:
        load_prompts(write(tmp_path, text))
    assert says in str(err.value) and "prompts.toml" in str(err.value)


def test_the_shipped_prompts_file_reads() -> None:
    names = [p.name for p in load_prompts(REPO_ROOT / "ivr" / "prompts.toml")]
    assert "no-seat-ready" in names


def wav_facts(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_prompts_are_made_for_asterisk_once_and_again_when_the_text_changes(tmp_path: Path) -> None:
    out = tmp_path / "sounds"
    prompts = load_prompts(write(tmp_path, '[hello]\ntext = "您好,市长热线。"\n'))
    assert build_prompts(prompts, out) == [out / "hello.wav"]
    rate, channels, width, seconds = wav_facts(out / "hello.wav")
    assert (rate, channels, width) == (8000, 1, 2) and 0.8 < seconds < 5, seconds
    assert build_prompts(prompts, out) == [], "unchanged text: nothing made again"
    changed = load_prompts(write(tmp_path, '[hello]\ntext = "您好!市长热线,请问有什么可以帮到您?"\n'))
    assert build_prompts(changed, out) == [out / "hello.wav"]
    assert wav_facts(out / "hello.wav")[3] > seconds, "the longer text made a longer prompt"


def test_a_studio_recording_replaces_the_generated_prompt(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    # a 2 s stereo 44.1 kHz tone stands in for the studio's file
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(recorded / "hello.wav"), "synth", "2", "sine", "440"], check=True
    )
    prompts = load_prompts(write(tmp_path, '[hello]\ntext = "您好"\n'))
    build_prompts(prompts, tmp_path / "sounds", recorded)
    rate, channels, _, seconds = wav_facts(tmp_path / "sounds" / "hello.wav")
    assert (rate, channels) == (8000, 1) and abs(seconds - 2.0) < 0.05


SHIPPED = load_prompts(REPO_ROOT / "ivr" / "prompts.toml")


@pytest.mark.parametrize("prompt", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_prompt_is_read_in_mandarin(prompt: Prompt) -> None:
    """espeak-ng 1.51's `cmn` voice read each tone digit in English ("nin two hao three"): the phoneme
    trace of every prompt must stay in Mandarin, and no phone number may be read as a quantity."""
    trace = phonemes(prompt)
    assert problems(prompt, trace) == [], trace
    assert trace.strip(), "espeak-ng said nothing"


def test_the_tone_digits_of_the_dictionary_are_tones_not_english_words() -> None:
    trace = phonemes(Prompt("t", "您好"))
    assert "(en)" not in trace and "n'i35n" in trace, trace  # nín, rising tone


def test_pronounce_table_fixes_a_polyphone_in_every_prompt(tmp_path: Path) -> None:
    plain = load_prompts(write(tmp_path, '[a]\ntext = "市长热线"\n'))[0]
    assert "ts.h'A35N" in phonemes(plain)  # the voice alone says shì cháng
    fixed = load_prompts(
        write(tmp_path, '[pronounce]\n"市长" = "shi4zhang3"\n[a]\ntext = "市长热线"\n[b]\ntext = "找市长"\n')
    )
    assert [p.name for p in fixed] == ["a", "b"], "[pronounce] is not a prompt"
    for prompt in fixed:
        trace = phonemes(prompt)
        assert "ts.'a21" in trace and "ts.h'A35N" not in trace, trace  # shì zhǎng (21 or 214: third tone)
        assert prompt.text.endswith("市长") or prompt.text.startswith("市长"), "the text stays as written"


@pytest.mark.parametrize(
    ("table", "says"),
    [
        pytest.param('"市长" = "shizhang"', "a tone digit per syllable", id="no tones"),
        pytest.param('"市长" = 3', "a tone digit per syllable", id="not text"),
    ],
)
def test_a_bad_pronounce_line_is_refused(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(PromptError, match=says):
        load_prompts(write(tmp_path, f'[pronounce]\n{table}\n[a]\ntext = "x"\n'))


def test_a_phone_number_in_digits_is_flagged() -> None:
    prompt = Prompt("e", "紧急情况请拨110。")
    assert any("110 is read as a quantity" in p for p in problems(prompt, phonemes(prompt)))
    assert problems(Prompt("k", "请按1"), "") == []  # a key to press is one digit: fine
