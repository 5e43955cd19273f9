"""Typed settings with defaults, read from the environment.

Every setting is an environment variable ``HOTLINE_<NAME>`` (``DATABASE_URL`` and ``REDIS_URL``
keep their usual names). An unknown ``HOTLINE_*`` variable is refused at start with its name,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import os
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ami_bridge import events as ev

from .errors import Invalid
from .workdays import parse_windows

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ENV_PREFIX = "HOTLINE_"
# Variables with the prefix that are not settings (read by the shell wrappers, not by Python).
_NOT_SETTINGS = frozenset({"HOTLINE_VENV"})


# hotline/recordings/formats.py Format's values (a test keeps them equal); recordings turns the name into its Format
RecordingFormat = Literal["ogg", "flac", "wav"]


class SettingsError(Invalid, ValueError):
    """The environment holds a setting that is unknown or invalid."""

    error = "invalid-setting"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # --- where things live ---
    state_dir: Path = Field(Path("/var/lib/hotline"), description="database file, secrets, recordings")
    asterisk_cache: Path = Field(Path("/var/cache/hotline"), description="the debootstrap'd Asterisk root")
    asterisk_conf: Path = Field(REPO_ROOT / "asterisk-conf", description="the Asterisk configuration")
    asterisk_overlay: Path | None = Field(None, description="files copied over asterisk-conf (tests, sites)")
    prompts_file: Path = Field(REPO_ROOT / "ivr" / "prompts.toml", description="the text of each voice prompt")
    prompts_recorded: Path = Field(
        REPO_ROOT / "ivr" / "recorded", description="studio recordings (<name>.wav) that replace generated prompts"
    )
    asterisk_instance: str = Field("main", pattern=r"^[a-z0-9-]{1,32}$")
    asterisk_binary: str = Field("auto", description="'auto', 'chroot', or a path to an asterisk >= 20")
    debian_mirror: str = Field("auto", description="Debian package source; 'auto' reads apt's sources")

    # --- persistence and bus ---
    database_url: str = Field(
        "",
        validation_alias=AliasChoices("DATABASE_URL", "HOTLINE_DATABASE_URL"),
        description="SQLAlchemy async URL; empty: a SQLite file in state_dir",
    )
    redis_url: str = Field(
        "",
        validation_alias=AliasChoices("REDIS_URL", "HOTLINE_REDIS_URL"),
        description="empty: in-process bus; set: events fan out over Redis to every web process",
    )

    # --- AMI ---
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "hotline-bridge"
    ami_secret: str = Field("", description="empty: read (or create) state_dir/ami.secret")
    ami_connect_timeout: float = Field(5.0, gt=0)
    ami_action_timeout: float = Field(10.0, gt=0)
    ami_ping_interval: float = Field(10.0, gt=0, description="seconds between keep-alive pings")
    ami_backoff_initial: float = Field(0.5, gt=0)
    ami_backoff_max: float = Field(30.0, gt=0)

    # --- telephony ---
    sip_port: int = Field(5060, ge=1, le=65535)
    queue: str = "hotline"
    ring_count: int = Field(2, ge=1, le=6, description="rings before a call moves on (响铃两声)")
    ring_on_ms: int = Field(1000, gt=0, description="cn cadence: ring on")
    ring_off_ms: int = Field(4000, gt=0, description="cn cadence: silence")
    pause_reasons: tuple[str, ...] = Field(
        ("小休", "培训", "会议", "未接", "其他"), description="reasons a seat may be paused with (JSON list)"
    )
    wrapup_s: int = Field(5, ge=0, le=600, description="seconds of wrap-up (整理) after each call")
    misses_to_pause: int = Field(1, ge=1, le=10, description="misses in a row (未接) that pause a seat")
    miss_reset: Literal["answered", "resumed", "answered_or_resumed"] = Field(
        "answered_or_resumed", description="what sets a seat's misses in a row back to 0"
    )
    miss_reason: str = Field("未接", description="the pause reason given to a seat paused for misses")
    fault_exit_after: str = Field(
        "",
        description="TESTS ONLY (fault injection): 'SeatConnected:1' exits the process hard right after the "
        "first SeatConnected event was applied, before it is saved, as a SIGKILL would; under `hotline run`'s keeper "
        "'SeatConnected:1;SeatMissed:1' gives the first service process the first point, the next one the second, "
        "and the processes after those none; empty: off",
    )
    timezone: str = Field("Asia/Shanghai", description="the hotline's clock: half hours and days of the statistics")
    service_level_s: int = Field(15, ge=1, description="GB/T 33358-2016: answer within this many seconds")
    service_level_target: float = Field(0.8, gt=0, le=1, description="share of offered calls to answer in time")
    answer_rate_target: float = Field(0.95, gt=0, le=1, description="接通率 target over any 24 h (GB/T 33358)")
    workday_end: time = Field(
        time(18, 0), description="a working day ends at (HH:MM): 'within N working days' is by then on the Nth"
    )
    workdays_file: Path = Field(
        DATA / "cn-workdays.toml", description="holidays and 调休 working days per year; extend it every November"
    )
    units_file: Path = Field(
        DATA / "units.yaml", description="handling units (YAML or CSV), loaded into an empty units table at start"
    )
    seats_first: int = 8001
    seats_last: int = 8050

    # --- seat pages and screen pops ---
    seat_session_s: int = Field(12 * 3600, ge=60, description="how long a seat's login token lasts (a shift)")
    pop_keep_s: int = Field(
        1800, ge=0, description="how long an answered call's ended pop stays on the seat's page across reloads"
    )
    pop_history_timeout: float = Field(
        1.0, gt=0, description="seconds a pop waits for the caller's history before it goes without it"
    )

    # --- three-way calls (三方通话) ---
    threeway_trunk: str = Field("trunk-out", description="the PJSIP endpoint units are dialled through")
    threeway_ring_s: int = Field(30, ge=5, le=120, description="seconds a unit's phone rings before the caller is back")
    threeway_caller_id: str = Field("12345", description="the number units see: the hotline's (privacy)")
    threeway_show_citizen: bool = Field(False, description="show units the citizen's number instead")

    # --- recording (录音) and QA (质检) ---
    recordings_dir: Path | None = Field(
        None,
        description="recordings root as this service reads it; empty: the Asterisk instance's recordings folder "
        "(inside the chroot); with a chrooted Asterisk a folder set here must lie inside the chroot",
    )
    recording_format: RecordingFormat = Field(
        "ogg",
        description="what each recording is stored as after the call: ogg (Ogg Vorbis q4, about a sixth of WAV; "
        "plays in Chromium and Firefox), flac (lossless) or wav; files made before a change stay as they are "
        "until `hotline qa recompress`",
    )
    recording_settle_s: float = Field(
        2.0, ge=0, le=60, description="seconds after a call ends before its file is checked"
    )
    recording_tolerance_s: float = Field(
        1.5, ge=0, description="a recording shorter than the call by more than this is flagged (short)"
    )
    recording_sweep: bool = Field(
        True, description="sweep at start and nightly: catalogue recordings of calls that ended while we were down"
    )
    recording_sweep_days: int = Field(
        7, ge=0, le=366, description="days back the sweep looks (and today) for recordings with no catalogue row"
    )
    retention_days: int = Field(183, ge=1, description="days an ordinary call's recording is kept (about 6 months)")
    retention_complaint_days: int = Field(
        730, ge=1, description="days a recording is kept when its call belongs to a 投诉举报 ticket"
    )
    qa_sample_ratio: float = Field(0.05, ge=0, le=1, description="share of each seat's answered calls sampled per day")
    qa_sample_min: int = Field(2, ge=0, description="at least this many random calls per seat per day (if it had them)")
    qa_nightly_at: time = Field(
        time(1, 30), description="the nightly run (sampling of yesterday, purge), hotline clock"
    )
    qa_users_file: Path | None = Field(
        None,
        description="QA staff logins (JSON: user → scrypt hash, `hotline qa add-user`); empty: state_dir/qa-users.json",
    )
    qa_teams: dict[str, list[str]] = Field(
        default_factory=dict, description='teams for the QA reports (JSON, e.g. {"一组": ["8001", "8002"]})'
    )
    qa_session_s: int = Field(12 * 3600, ge=60, description="how long a QA login token lasts")

    # --- the 回访 dialer (callbacks) ---
    callbacks: bool = Field(True, description="the 回访 dialer: call citizens back after the unit's reply (反馈)")
    callback_windows: str = Field(
        "09:00-12:00,14:00-18:00", description="calling windows on working days (HH:MM-HH:MM, comma-separated)"
    )
    callback_retry_minutes: tuple[int, ...] = Field(
        (30, 60, 120), description="minutes before the 1st, 2nd, ... retry after no answer/busy/failed (JSON list)"
    )
    callback_max_attempts: int = Field(3, ge=1, le=20, description="tries to reach a citizen, then 无法联系")
    callback_near_deadline_h: float = Field(
        4, gt=0, description="hours before the deadline when any ready seat takes the callback (and it is raised)"
    )
    callback_seat_retry_s: int = Field(
        120, ge=5, description="seconds before trying again after the seat did not answer"
    )
    callback_seat_ring_s: int = Field(20, ge=5, le=120, description="seconds the seat's phone rings for a callback")
    callback_ring_s: int = Field(40, ge=5, le=120, description="seconds the citizen's phone rings")
    callback_trunk: str = Field("trunk-out", description="the PJSIP endpoint citizens are dialled through")
    callback_caller_id: str = Field("12345", description="the number citizens see: the hotline's")
    callback_max_seats_while_waiting: int = Field(
        0, ge=0, description="seats that may be on callbacks while citizens wait in the inbound queue"
    )
    callback_missed: bool = Field(True, description="call back calls lost in the queue or while a seat rang (呼损)")
    callback_missed_min_wait_s: int = Field(10, ge=0, description="a lost call counts when it waited at least this")
    callback_poll_s: float = Field(2.0, gt=0, description="seconds between the dialer's planning rounds")
    callback_survey: bool = Field(
        False, description="automated survey callback through the IVR (keys 1–3) for tasks the centre marks so"
    )

    # --- web, IVR ---
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=1, le=65535)
    ivr: bool = Field(
        True,
        description="the inbound IVR (welcome, emergency notice, menu, call-back offer); off: straight to the queue",
    )
    ivr_menu: dict[str, str] = Field(
        default_factory=dict,
        description='IVR menu, key → choice (JSON, e.g. {"1": "普通话", "2": "粤语"}); empty: no menu (GB/T 33358)',
    )
    ivr_digit_timeout_s: float = Field(5.0, gt=0, le=30, description="seconds the IVR waits for a key")
    ivr_retries: int = Field(2, ge=0, le=5, description="tries again after a wrong or missing key, then goes on")
    ivr_sounds: str = Field("", description="prompts folder as Asterisk sees it; empty: HOTLINE_SOUNDS of the call")
    callback_offer_wait_s: int = Field(
        120, ge=0, description="offer a call-back when the expected wait reaches this many seconds (0: never)"
    )
    avg_handle_s: int = Field(180, ge=1, description="average seconds a seat spends per call (expected wait)")
    survey: bool = Field(True, description="satisfaction survey after every answered call (off: for the whole queue)")
    survey_scale: Literal[5, 3] = Field(
        5, description="survey levels: 5 (非常满意…非常不满意, national 好差评) or 3 (满意/基本满意/不满意)"
    )

    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("ivr_menu")
    @classmethod
    def _menu(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if key not in set("123456789") or not label.strip():
                raise ValueError(f"menu keys are 1–9 with a choice each (got {key!r}: {label!r})")
        return value

    @field_validator("fault_exit_after")
    @classmethod
    def _fault(cls, value: str) -> str:
        for point in value.split(";") if value else []:
            if fault_point(point) is None:
                raise ValueError(
                    f"{point!r}: give an AMI event type of ami_bridge/events.py and a count, e.g. SeatConnected:1"
                )
        return value

    @property
    def fault_exit(self) -> tuple[str, int] | None:
        """The fault point of this process: the first of the list (`fault_for` hands the keeper's later
        processes theirs)."""
        return fault_point(self.fault_exit_after.split(";")[0]) if self.fault_exit_after else None

    def fault_for(self, start: int) -> Settings:
        """These settings for the keeper's `start`th service process (1 = the first): its own fault point."""
        points = self.fault_exit_after.split(";") if self.fault_exit_after else []
        return self.model_copy(update={"fault_exit_after": points[start - 1] if start <= len(points) else ""})

    @field_validator("callback_windows")
    @classmethod
    def _windows(cls, value: str) -> str:
        parse_windows(value)
        return value

    @field_validator("callback_retry_minutes")
    @classmethod
    def _retries(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(m < 1 for m in value):
            raise ValueError("give at least one retry spacing, each 1 minute or more, e.g. [30, 60, 120]")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Asia/Shanghai") from None
        return value

    @model_validator(mode="after")
    def _miss_reason_is_a_reason(self) -> Settings:
        if self.miss_reason not in self.pause_reasons:
            raise ValueError(
                f"miss_reason {self.miss_reason!r} must be one of pause_reasons {list(self.pause_reasons)}"
            )
        return self

    @field_validator("asterisk_binary")
    @classmethod
    def _binary(cls, value: str) -> str:
        if value not in ("auto", "chroot") and not value.startswith("/"):
            raise ValueError("must be 'auto', 'chroot' or an absolute path to an asterisk binary")
        return value

    # --- derived ---
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'hotline.db'}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def qa_users_path(self) -> Path:
        return self.qa_users_file or self.state_dir / "qa-users.json"

    @property
    def ami_secret_file(self) -> Path:
        return self.state_dir / "ami.secret"

    @property
    def ring_timeout_s(self) -> int:
        """Seconds a seat rings for `ring_count` rings: up to the start of the next ring."""
        return self.ring_count * (self.ring_on_ms + self.ring_off_ms) // 1000

    @property
    def auto_answer_after_s(self) -> int:
        """Seconds after which a seat set to auto-answer picks up: at the end of the last allowed ring
        (cn cadence, two rings: 1 s on, 4 s off, 1 s on = 6 s), rounded up to whole seconds for phones."""
        ms = (self.ring_count - 1) * (self.ring_on_ms + self.ring_off_ms) + self.ring_on_ms
        return -(-ms // 1000)


def _check_unknown(environ: dict[str, str]) -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | _NOT_SETTINGS
    for key in sorted(environ):
        if key.startswith(ENV_PREFIX) and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise SettingsError(f"unknown setting {key}.{hint} Known settings: see `hotline settings`.")


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from the environment; unknown or invalid ones raise SettingsError."""
    env = dict(os.environ if environ is None else environ)
    _check_unknown(env)
    saved = os.environ.copy()
    try:
        if environ is not None:
            os.environ.clear()
            os.environ.update(env)
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
    finally:
        if environ is not None:
            os.environ.clear()
            os.environ.update(saved)


def default(name: str) -> Any:
    """A setting's default, for a feature's own config (its defaults are the settings', written once, here)."""
    return Settings.model_fields[name].default


def fault_point(text: str) -> tuple[str, int] | None:
    """'SeatConnected:2' → ("SeatConnected", 2) when that is a typed AMI event (ami_bridge/events.py), else None."""
    name, _, count = text.partition(":")
    is_event = isinstance(getattr(ev, name, None), type) and name[:1].isupper()
    return (name, int(count)) if is_event and count.isdigit() and int(count) >= 1 else None
