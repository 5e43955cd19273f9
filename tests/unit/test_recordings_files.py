"""The recording files: a stereo .raw from Asterisk becomes the configured format (sox), measured; a file made
in another format before stays found; paths stay in the root."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from hotline.recordings.checker import RecStatus, verdict
from hotline.recordings.files import delete_strays, finalise, find, located, measure
from hotline.recordings.formats import Format
from hotline.recordings.paths import PathRefused, relative_path
from tests.helpers.recordings import raw_tone

DAY = date(2026, 11, 30)


def soxi(path: Path) -> str:
    return subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout


def test_a_raw_recording_becomes_a_stereo_wav(tmp_path: Path) -> None:
    rel = "2026/11/30/1764468000.7.wav"
    raw = tmp_path / "2026/11/30/1764468000.7.raw"
    raw_tone(raw, 3)
    assert find(tmp_path, "1764468000.7", date(2026, 12, 1), Format.WAV) == rel  # by the day before, too
    assert finalise(tmp_path, rel) is True
    wav = tmp_path / rel
    assert wav.is_file() and not raw.exists() and not list(wav.parent.glob(".*"))
    info = soxi(wav)
    assert "Channels       : 2" in info and "Sample Rate    : 8000" in info, info
    measured = measure(wav)
    assert measured.facts.duration_s == pytest.approx(3.0, abs=0.01) and measured.facts.size == 44 + 3 * 8000 * 4
    assert verdict(measured.facts, 3.0, 1.5).status is RecStatus.OK
    assert finalise(tmp_path, rel) is False  # done once
    assert measure(tmp_path / "2026/11/30/none.wav").facts.exists is False
    with pytest.raises(PathRefused):
        finalise(tmp_path, "2026/11/30/../../../etc/passwd")


@pytest.mark.parametrize(
    ("fmt", "encoding", "smaller"),
    [(Format.OGG, "Vorbis", 6), (Format.FLAC, "16-bit FLAC", 1.5), (Format.WAV, "16-bit Signed Integer PCM", 1)],
)
def test_finalise_makes_the_configured_format_with_the_calls_length(
    tmp_path: Path, fmt: Format, encoding: str, smaller: float
) -> None:
    """An odd length (not a whole Vorbis or FLAC block) so the duration soxi reads comes from the file's own
    sample count, not a rounding of its size."""
    seconds = 7.3331
    raw = tmp_path / "2026/11/30/1764468000.9.raw"
    raw_tone(raw, seconds)
    raw_size = raw.stat().st_size
    rel = find(tmp_path, "1764468000.9", DAY, fmt)
    assert rel == relative_path(DAY, "1764468000.9", fmt) == f"2026/11/30/1764468000.9.{fmt.value}"
    assert finalise(tmp_path, rel) is True
    made = tmp_path / rel
    assert made.is_file() and not raw.exists() and not list(made.parent.glob(".*"))  # no temporary file left
    assert [p.name for p in made.parent.iterdir()] == [made.name]
    info = soxi(made)
    assert f"Sample Encoding: {encoding}\n" in info and "Channels       : 2" in info and "Sample Rate    : 8000" in info
    measured = measure(made)
    assert measured.facts.duration_s == pytest.approx(round(seconds * 8000) / 8000, abs=0.001), info
    assert measured.facts.size * smaller <= raw_size + 44, (measured.facts.size, raw_size)
    assert verdict(measured.facts, seconds, 1.5).status is RecStatus.OK
    assert verdict(measured.facts, seconds + 2, 1.5).status is RecStatus.SHORT  # the comparison still bites
    assert find(tmp_path, "1764468000.9", DAY, fmt) == rel  # found as made
    assert finalise(tmp_path, rel) is False


def test_an_old_wav_stays_found_after_a_switch_of_format(tmp_path: Path) -> None:
    """A centre that switched from WAV to Ogg Vorbis keeps its old recordings: the .wav is found as it is. A
    .raw beside it (a finalising cut short before the .raw was deleted) becomes the configured format and
    replaces it: never two files for one call."""
    old = tmp_path / "2026/11/30/1764468000.1.wav"
    raw_tone(old.with_suffix(".raw"), 2)
    assert find(tmp_path, "1764468000.1", DAY, Format.WAV) == "2026/11/30/1764468000.1.wav"
    assert finalise(tmp_path, "2026/11/30/1764468000.1.wav") is True
    assert find(tmp_path, "1764468000.1", DAY, Format.OGG) == "2026/11/30/1764468000.1.wav"
    assert find(tmp_path, "1764468000.1", DAY, Format.FLAC) == "2026/11/30/1764468000.1.wav"
    raw_tone(old.with_suffix(".raw"), 2)
    assert located(tmp_path, DAY, "1764468000.1", Format.OGG) == "2026/11/30/1764468000.1.ogg"
    assert finalise(tmp_path, "2026/11/30/1764468000.1.ogg") is True
    assert sorted(p.name for p in old.parent.iterdir()) == ["1764468000.1.ogg"]
    assert measure(old.with_suffix(".ogg")).facts.duration_s == pytest.approx(2.0, abs=0.001)
    assert find(tmp_path, "1764468000.2", DAY, Format.OGG) is None  # nothing there: no path made up
    assert find(tmp_path, "../etc", DAY, Format.OGG) is None


def test_a_failed_conversion_leaves_the_raw_and_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:  # fmt: skip
    """A sox that dies half way (a full disk): the .raw stays for the next try, its half-made file does not."""
    raw = tmp_path / "rec/2026/11/30/1764468000.3.raw"
    raw_tone(raw, 1)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sox = bin_dir / "sox"
    sox.write_text(
        '#!/bin/sh\nfor last; do :; done\nprintf OggS > "$last"\necho "sox FAIL: No space left" >&2\nexit 2\n'
    )
    sox.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(subprocess.CalledProcessError):
        finalise(tmp_path / "rec", "2026/11/30/1764468000.3.ogg")
    assert [p.name for p in raw.parent.iterdir()] == [raw.name]


def test_retention_deletes_the_stray_copies_of_the_call_and_nothing_else(tmp_path: Path) -> None:
    """A recompress cut short may leave the call's .ogg beside the .wav its row names: once the row is purged,
    the copy goes too."""
    day = date(2026, 6, 1)
    rel = relative_path(day, "1780000000.7", Format.WAV)
    folder = tmp_path / "2026" / "06" / "01"
    folder.mkdir(parents=True)
    for name in ("1780000000.7.wav", "1780000000.7.ogg", "1780000000.7.flac", "1780000000.8.ogg", "1780000000.70.wav"):
        (folder / name).write_bytes(b"x")
    assert delete_strays(tmp_path, rel) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["1780000000.7.wav", "1780000000.70.wav", "1780000000.8.ogg"]
    assert delete_strays(tmp_path, rel) == 0
