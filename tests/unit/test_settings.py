from __future__ import annotations

from typing import get_args

import pytest

from hotline.recordings.formats import DEFAULT, Format
from hotline.settings import RecordingFormat, SettingsError, load_settings


def test_defaults_are_the_embedded_single_box() -> None:
    s = load_settings({})
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.redis_url == ""
    assert s.ring_timeout_s == 10  # two rings of the cn cadence


def test_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"unknown setting HOTLINE_AMI_PROT\. Did you mean HOTLINE_AMI_PORT\?"):
        load_settings({"HOTLINE_AMI_PROT": "5038"})


def test_invalid_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="HOTLINE_AMI_PORT"):
        load_settings({"HOTLINE_AMI_PORT": "not-a-port"})


def test_plain_database_and_redis_urls() -> None:
    s = load_settings({"DATABASE_URL": "postgresql+asyncpg://localhost/test", "REDIS_URL": "redis://localhost:6379"})
    assert s.effective_database_url == "postgresql+asyncpg://localhost/test"
    assert s.redis_url == "redis://localhost:6379"


def test_the_recording_formats_are_the_formats_recordings_make() -> None:
    assert set(get_args(RecordingFormat)) == {f.value for f in Format}
    assert Format(load_settings({}).recording_format) is DEFAULT


def test_the_recording_format_is_one_of_three() -> None:
    assert load_settings({}).recording_format == "ogg"  # Ogg Vorbis: what a hotline keeping months would run
    assert load_settings({"HOTLINE_RECORDING_FORMAT": "flac"}).recording_format == "flac"
    assert load_settings({"HOTLINE_RECORDING_FORMAT": "wav"}).recording_format == "wav"
    for bad in ("mp3", "OGG", "opus", ""):
        with pytest.raises(SettingsError, match=r"HOTLINE_RECORDING_FORMAT: .*'ogg', 'flac' or 'wav'"):
            load_settings({"HOTLINE_RECORDING_FORMAT": bad})


def test_fault_points_are_handed_out_one_per_service_process() -> None:
    """Tests only: the keeper's first service process gets the first fault point, the next the second, the rest
    none; a point that names no AMI event type is refused with the part that is wrong."""
    s = load_settings({"HOTLINE_FAULT_EXIT_AFTER": "SeatConnected:1;CallbackProgress:2"})
    assert s.fault_exit == ("SeatConnected", 1)
    assert [s.fault_for(n).fault_exit for n in (1, 2, 3)] == [("SeatConnected", 1), ("CallbackProgress", 2), None]
    assert load_settings({}).fault_for(1).fault_exit is None
    with pytest.raises(SettingsError, match="'SeatConected:1'"):
        load_settings({"HOTLINE_FAULT_EXIT_AFTER": "SeatConnected:1;SeatConected:1"})
