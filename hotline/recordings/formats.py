"""The formats a finished recording is stored in, pure. HOTLINE_RECORDING_FORMAT picks the one new recordings
are made in; a file made in another (before the centre switched) stays valid and is served as what it is.

Asterisk always writes a headerless stereo .raw (MixMonitor D); after the call sox turns it into
``<call id>.<ext>`` (hotline/recordings/files.py finalise). A minute of talk, 8 kHz stereo (`python -m
bench.recordings`: Mandarin turns on both sides through G.711): WAV 1.83 MiB, FLAC 0.90 MiB, Ogg 0.28 MiB.

Why Vorbis quality 4 (sox ``-C 4``, about 40 kbit/s at 8 kHz stereo): nobody could listen, so the choice was
measured and kept in the middle of the scale. On two channels of 8 kHz Mandarin speech (espeak-ng) the coding
error below 1 kHz, where speech carries most of its energy, is 23 dB under the signal at 4 (21.5 dB at 3,
17 dB at 2, 12 dB at 0), and the band above 2.5 kHz (the consonants: 四 against 十) keeps its energy within
2 %. Quality 4 costs about 15 % more bytes than 3, a margin worth having on a recording that may settle a
complaint (投诉举报); above it the files grow fast (5: +13 %, 6: +27 %) for audio that already passed G.711.
"""

from __future__ import annotations

from enum import StrEnum

VORBIS_QUALITY = 4  # sox -C for Ogg Vorbis: see above
FLAC_LEVEL = 8  # sox -C for FLAC: its default, the smallest file (lossless at every level)


class Format(StrEnum):
    """A stored recording's format; its value is the file's extension."""

    OGG = "ogg"  # Ogg Vorbis: plays in Chromium and Firefox; the default
    FLAC = "flac"  # lossless
    WAV = "wav"  # what sox makes without asking: 16-bit PCM, no compression

    @property
    def suffix(self) -> str:
        return f".{self.value}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self]

    @property
    def sox_options(self) -> list[str]:
        """Output options for sox, before the output file's name."""
        return {Format.OGG: ["-C", str(VORBIS_QUALITY)], Format.FLAC: ["-C", str(FLAC_LEVEL)]}.get(self, [])

    @classmethod
    def of_name(cls, name: str) -> Format:
        """The format of a file name or relative path by its extension; ValueError for any other."""
        _, dot, ext = name.rpartition(".")
        try:
            return cls(ext if dot else "")
        except ValueError:
            raise ValueError(f"{name[:120]!r} is not a recording file (.{', .'.join(f.value for f in cls)})") from None


DEFAULT = Format.OGG
# MiB per minute of talk (`python -m bench.recordings`, see above): what `hotline qa recompress --dry-run` expects
MIB_PER_MINUTE = {Format.OGG: 0.28, Format.FLAC: 0.90, Format.WAV: 1.83}
CONTENT_TYPES = {Format.OGG: "audio/ogg", Format.FLAC: "audio/flac", Format.WAV: "audio/wav"}
