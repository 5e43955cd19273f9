"""Voice prompts from text: ivr/prompts.toml → 8 kHz mono 16-bit WAV files that Asterisk plays.

    built = build_prompts(load_prompts(path), out_dir, recorded_dir)

Each prompt is generated with espeak-ng's Mandarin voice and converted with sox; a studio
recording in `recorded_dir/<name>.wav` replaces the generated one. Which Mandarin voice: espeak-ng's
`cmn` turns each character into pinyin with a tone digit and, in 1.51 (Debian 12), then reads that digit
in English ("您好" as "nin two hao three": espeak-ng issues #1028, #1044); `cmn-latn-pinyin` reads the same
pinyin as Mandarin tones. The table `[pronounce]` of the prompts file gives the pinyin of words espeak-ng
reads wrong (多音字, polyphones: 市长 is shì zhǎng, not shì cháng), applied to every prompt.

A stamp file beside each WAV holds the hash of what it was made from, so a start rebuilds only what
changed. A name with a language folder (`zh/queue-thereare`, `zh/digits/1`) is Asterisk's own sound in
that language: the instance serves `out_dir/zh` as Asterisk's `sounds/zh`
(ivr/queue_sounds.py lists what the queue needs).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# a prompt name, or a language folder and Asterisk's own sound name (zh/queue-thereare, zh/digits/1)
NAME_RE = re.compile(r"^(?:[a-z][a-z_]{1,9}/)?(?:[a-z0-9][a-z0-9-]{0,63}/)?[a-z0-9][a-z0-9-]{0,63}$")
VOICE = "cmn-latn-pinyin"  # espeak-ng's Mandarin that reads pinyin tone digits as tones (see above)
PRONOUNCE = "pronounce"  # the prompts file's table of word -> pinyin (not a prompt)
PINYIN_RE = re.compile(r"^(?:[a-zü]{1,6}[1-5] ?)+$")  # shi4zhang3, or shi4 zhang3
SPEED_WPM = 170
TOOLS = ("espeak-ng", "sox")
# espeak-ng pads its speech with silence: the caller's seconds are worth more
TRIM_SILENCE = ("silence", "1", "0.05", "0.5%", "reverse", "silence", "1", "0.05", "0.5%", "reverse")


class PromptError(RuntimeError):
    """A prompts file that cannot be read, or a prompt that cannot be made; the message says how to fix."""


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    text: str  # as ops wrote it
    speed: int = SPEED_WPM  # espeak-ng words per minute; a prompt before the queue may be quicker
    spoken: str = ""  # what espeak-ng is given: the text with the [pronounce] table applied

    @property
    def say(self) -> str:
        return self.spoken or self.text


def load_prompts(path: Path) -> list[Prompt]:
    """The prompts of a prompts.toml; every error names the file, the prompt and the rule."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromptError(f"{path}: no prompts file (HOTLINE_PROMPTS_FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(f"{path}: not valid TOML: {exc}") from None
    pronounce = _pronounce(path, data.pop(PRONOUNCE, {}))
    prompts = []
    for name, table in data.items():
        if not NAME_RE.match(name):
            raise PromptError(
                f"{path}: [{name}]: a prompt name is lower-case letters, digits and '-' (e.g. no-seat), "
                'or a language folder and an Asterisk sound (["zh/queue-thereare"], ["zh/digits/1"])'
            )
        text = table.get("text") if isinstance(table, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise PromptError(f'{path}: [{name}]: needs text = "…" (the words to speak)')
        speed = table.get("speed", SPEED_WPM)
        if not isinstance(speed, int) or not 80 <= speed <= 450:
            raise PromptError(f"{path}: [{name}]: speed is words per minute, 80–450 (default {SPEED_WPM})")
        prompts.append(Prompt(name, text.strip(), speed, _apply(pronounce, text.strip())))
    return prompts


def _pronounce(path: Path, table: object) -> dict[str, str]:
    """The [pronounce] table: a word (Chinese characters) -> its pinyin with tone digits."""
    if not isinstance(table, dict):
        raise PromptError(f'{path}: [{PRONOUNCE}] is a table of "词" = "pin1yin1" lines')
    for word, pinyin in table.items():
        if not isinstance(pinyin, str) or not PINYIN_RE.match(pinyin) or not word.strip():
            raise PromptError(
                f'{path}: [{PRONOUNCE}] "{word}" = {pinyin!r}: give the pinyin with a tone digit per syllable '
                '(1–4, 5 for the neutral tone), e.g. "市长" = "shi4zhang3"'
            )
    return {str(word): str(pinyin) for word, pinyin in table.items()}


def _apply(pronounce: dict[str, str], text: str) -> str:
    """The text with each listed word replaced by its pinyin (longest words first), set off by spaces."""
    for word in sorted(pronounce, key=len, reverse=True):
        text = text.replace(word, f" {pronounce[word]} ")
    return text


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def build_prompts(prompts: list[Prompt], out_dir: Path, recorded_dir: Path | None = None) -> list[Path]:
    """Make (or keep) `out_dir/<name>.wav` for each prompt; returns the files that were (re)made."""
    lacking = missing_tools()
    if lacking:
        raise PromptError(
            f"cannot make voice prompts: {' and '.join(lacking)} not installed "
            f"(`make system-deps`, or apt-get install espeak-ng sox)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    started = time.monotonic()
    for prompt in prompts:
        recorded = recorded_dir / f"{prompt.name}.wav" if recorded_dir is not None else None
        source = recorded if recorded is not None and recorded.is_file() else None
        stamp = _stamp(prompt, source)
        wav, stamp_file = out_dir / f"{prompt.name}.wav", out_dir / f"{prompt.name}.stamp"
        if wav.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
            continue
        wav.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            _to_asterisk(source, wav)
        else:
            with tempfile.TemporaryDirectory(prefix="prompt-") as tmp:
                raw = Path(tmp) / "raw.wav"
                _run(["espeak-ng", "-v", VOICE, "-s", str(prompt.speed), "-w", str(raw), prompt.say], prompt.name)
                _to_asterisk(raw, wav, TRIM_SILENCE)
        stamp_file.write_text(stamp)
        log.debug("prompt %s: %s → %s", prompt.name, "recording" if source else "espeak-ng", wav)
        made.append(wav)
    if made:
        log.info("voice prompts: %d of %d made in %.1f s (espeak-ng %s, or studio recordings) in %s",
                 len(made), len(prompts), time.monotonic() - started, VOICE, out_dir)  # fmt: skip
    return made


def phonemes(prompt: Prompt) -> str:
    """espeak-ng's phoneme trace of the prompt (`-x`): what it will say, to check without listening. A
    "(en)" in it is a switch to the English voice: the caller would hear English in a Mandarin prompt."""
    done = subprocess.run(["espeak-ng", "-q", "-x", "-v", VOICE, "-s", str(prompt.speed), prompt.say],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise PromptError(f"prompt {prompt.name}: espeak-ng failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return done.stdout


NUMBER_RE = re.compile(r"[0-9]{3,}")


def problems(prompt: Prompt, trace: str) -> list[str]:
    """What a caller would hear wrong in a generated prompt, from its text and its phoneme trace."""
    found = []
    if "(en)" in trace:
        english = " ".join(re.findall(r"\(en\)(.*?)\(cmn\)", trace, re.S)) or trace
        found.append(f"partly read with the English voice ({english.strip()[:80]}): the voice cannot read "
                     "it as Mandarin; write it in characters or pinyin")  # fmt: skip
    for number in NUMBER_RE.findall(prompt.say):
        found.append(f"{number} is read as a quantity; write a phone number in characters (110 → 幺幺零)")
    return found


def _stamp(prompt: Prompt, source: Path | None) -> str:
    digest = hashlib.sha256(f"{VOICE}|{prompt.speed}|{prompt.say}".encode())
    if source is not None:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _to_asterisk(source: Path, wav: Path, effects: tuple[str, ...] = ()) -> None:
    """8 kHz, mono, 16-bit signed PCM: what Asterisk's wav format plays without transcoding surprises."""
    tmp = wav.with_suffix(".tmp.wav")
    command = ["sox", str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(tmp), *effects]
    _run(command, wav.stem)
    tmp.replace(wav)


def _run(command: list[str], name: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise PromptError(f"prompt {name}: {command[0]} failed ({done.returncode}): {done.stderr.strip()[:300]}")
