"""Typed settings with defaults, read from the environment.

Every setting is an environment variable ``HOTLINE_<NAME>`` (``DATABASE_URL`` and ``REDIS_URL``
keep their usual names). An unknown ``HOTLINE_*`` variable is refused at start with its name,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "HOTLINE_"
# Variables with the prefix that are not settings (read by the shell wrappers, not by Python).
_NOT_SETTINGS = frozenset({"HOTLINE_VENV"})


class SettingsError(ValueError):
    """The environment holds a setting that is unknown or invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # --- where things live ---
    state_dir: Path = Field(Path("/var/lib/hotline"), description="database file, secrets, recordings")
    asterisk_cache: Path = Field(Path("/var/cache/hotline"), description="the debootstrap'd Asterisk root")
    asterisk_conf: Path = Field(REPO_ROOT / "asterisk-conf", description="the Asterisk configuration")
    asterisk_overlay: Path | None = Field(None, description="files copied over asterisk-conf (tests, sites)")
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
    timezone: str = Field("Asia/Shanghai", description="the hotline's clock: half hours and days of the statistics")
    service_level_s: int = Field(15, ge=1, description="GB/T 33358-2016: answer within this many seconds")
    service_level_target: float = Field(0.8, gt=0, le=1, description="share of offered calls to answer in time")
    answer_rate_target: float = Field(0.95, gt=0, le=1, description="接通率 target over any 24 h (GB/T 33358)")
    seats_first: int = 8001
    seats_last: int = 8050

    # --- web, IVR ---
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=1, le=65535)

    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

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
    def ami_secret_file(self) -> Path:
        return self.state_dir / "ami.secret"

    @property
    def ring_timeout_s(self) -> int:
        """Seconds a seat rings for `ring_count` rings: up to the start of the next ring."""
        return self.ring_count * (self.ring_on_ms + self.ring_off_ms) // 1000


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
