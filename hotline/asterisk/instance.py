"""One running Asterisk with the project's configuration: prepare, start, stop, ask.

An instance has its own etc/run/log/spool/lib folders (``/hotline/<instance>`` inside the chroot,
``<state_dir>/asterisk/<instance>`` for a host install), so tests and a demo can run side by side.
The etc folder is rebuilt on every start from, in order: ``asterisk-conf/``, the overlay folder
(if set), and files generated from settings and secrets (ports, the AMI secret, seat passwords).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hotline.settings import Settings
from ivr.prompts import PromptError, build_prompts, load_prompts

from ..errors import Unavailable
from ..plugin import Part
from .provision import AsteriskInstall

log = logging.getLogger(__name__)

MODULES_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
DATA_DIR = PurePosixPath("/usr/share/asterisk")  # the packaged data folder: sounds/en, documentation, …


class AsteriskError(Unavailable, RuntimeError):
    """Asterisk did not start, stop or answer; the message says what was seen."""

    error = "asterisk-failed"
    part = "asterisk"


# (file, pattern of the line, replacement built from settings). Each must match exactly once,
# so that a change to asterisk-conf/ that drops one of these lines is caught at start.
def _rewrites(settings: Settings, sounds: PurePosixPath, recordings: PurePosixPath) -> list[tuple[str, str, str]]:
    return [
        ("manager.conf", r"^port\s*=.*$", f"port = {settings.ami_port}  ; from HOTLINE_AMI_PORT"),
        (
            "pjsip.conf",
            r"^bind\s*=\s*0\.0\.0\.0:\d+.*$",
            f"bind = 0.0.0.0:{settings.sip_port}  ; from HOTLINE_SIP_PORT",
        ),
        (
            "extensions.conf",
            r"^HOTLINE_AGI\s*=.*$",
            f"HOTLINE_AGI = {settings.agi_host}:{settings.agi_port}  ; from HOTLINE_AGI_HOST/PORT",
        ),
        ("extensions.conf", r"^HOTLINE_QUEUE\s*=.*$", f"HOTLINE_QUEUE = {settings.queue}  ; from HOTLINE_QUEUE"),
        (
            "extensions.conf",
            r"^HOTLINE_SOUNDS\s*=.*$",
            f"HOTLINE_SOUNDS = {sounds}  ; the instance's voice prompts (ivr/prompts.toml)",
        ),
        (
            "extensions.conf",
            r"^HOTLINE_AUTOANSWER_S\s*=.*$",
            f"HOTLINE_AUTOANSWER_S = {settings.auto_answer_after_s}  ; from the ring settings (two rings)",
        ),
        (
            "extensions.conf",
            r"^HOTLINE_RECORDINGS\s*=.*$",
            f"HOTLINE_RECORDINGS = {recordings}  ; the recordings root (HOTLINE_RECORDINGS_DIR)",
        ),
        ("extensions.conf", r"^HOTLINE_TZ\s*=.*$", f"HOTLINE_TZ = {settings.timezone}  ; from HOTLINE_TIMEZONE"),
    ]


def ami_secret(settings: Settings) -> str:
    """HOTLINE_AMI_SECRET, else the secret file in state_dir (created once, mode 0600)."""
    if settings.ami_secret:
        return settings.ami_secret
    path = settings.ami_secret_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def seat_passwords(settings: Settings) -> dict[str, str]:
    """Each seat's SIP password, kept in state_dir/seat-secrets.json (created on first use)."""
    path = settings.state_dir / "seat-secrets.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {str(n) for n in range(settings.seats_first, settings.seats_last + 1)}
    if not wanted <= known.keys():
        for seat in sorted(wanted - known.keys()):
            known[seat] = secrets.token_urlsafe(12)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(known, indent=1, sort_keys=True))
    return {seat: known[seat] for seat in sorted(wanted)}


def asterisk_view(host_root: Path, chroot: Path) -> PurePosixPath:
    """A host folder as a (chrooted) Asterisk sees it. A folder outside the chroot is unreachable for Asterisk:
    AsteriskError, naming both (bind-mount it into the chroot, or leave the setting empty)."""
    if chroot == Path("/"):
        return PurePosixPath(host_root)
    if not host_root.is_relative_to(chroot):
        raise AsteriskError(
            f"HOTLINE_RECORDINGS_DIR={host_root} is outside Asterisk's chroot {chroot}: Asterisk cannot write there "
            "(leave it empty for the instance's folder, or bind-mount the folder into the chroot and name that path)"
        )
    return PurePosixPath("/") / host_root.relative_to(chroot)


@dataclass(frozen=True)
class Instance:
    install: AsteriskInstall
    settings: Settings

    @property
    def inner(self) -> PurePosixPath:
        """The instance folder as Asterisk sees it."""
        if self.install.chrooted:
            return PurePosixPath("/hotline") / self.settings.asterisk_instance
        return PurePosixPath(self.settings.state_dir / "asterisk" / self.settings.asterisk_instance)

    def host_path(self, inner: PurePosixPath | str) -> Path:
        """A path inside the instance, as seen from this host."""
        return self.install.root / str(inner).lstrip("/")

    @property
    def recordings(self) -> Path:
        """The recordings root as the service reads it (HOTLINE_RECORDINGS_DIR, else the instance's folder)."""
        return self.settings.recordings_dir or self.host_path(self.inner / "recordings")

    @property
    def recordings_inner(self) -> PurePosixPath:
        """The recordings root as Asterisk writes it."""
        if self.settings.recordings_dir is None:
            return self.inner / "recordings"
        return asterisk_view(self.settings.recordings_dir, self.install.root)

    @property
    def etc(self) -> Path:
        return self.host_path(self.inner / "etc")

    @property
    def log_dir(self) -> Path:
        return self.host_path(self.inner / "log")

    @property
    def spool(self) -> Path:
        return self.host_path(self.inner / "spool")

    def _conf_arg(self) -> str:
        return str(self.inner / "etc" / "asterisk.conf")

    # ------------------------------------------------------------------ configuration
    def prepare(self) -> None:
        """Rebuild the instance's etc folder from asterisk-conf/, the overlay and the settings."""
        src = self.settings.asterisk_conf
        if not (src / "extensions.conf").exists():
            raise AsteriskError(f"{src} does not hold the hotline's Asterisk configuration (no extensions.conf)")
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.copytree(src, self.etc)
        overlay = self.settings.asterisk_overlay
        if overlay is not None:
            if not overlay.is_dir():
                raise AsteriskError(f"HOTLINE_ASTERISK_OVERLAY={overlay} is not a folder")
            shutil.copytree(overlay, self.etc, dirs_exist_ok=True)
        for name in ("run", "log", "spool", "lib", "cache", "recordings"):
            self.host_path(self.inner / name).mkdir(parents=True, exist_ok=True)
        self._apply_settings()
        self._write_generated()
        self._make_prompts()
        self._make_data_dir()
        if self.install.chrooted:
            name_this_host(self.install.root / "etc" / "hosts")

    def _apply_settings(self) -> None:
        for name, pattern, line in _rewrites(self.settings, self.inner / "sounds", self.recordings_inner):
            path = self.etc / name
            text, count = re.subn(pattern, line, path.read_text(), flags=re.M)
            if count != 1:
                raise AsteriskError(
                    f"asterisk-conf/{name}: expected exactly one line matching {pattern!r} "
                    f"(set from settings), found {count}"
                )
            path.write_text(text)

    def _write_generated(self) -> None:
        d = self.inner
        directories = "\n".join(
            f"ast{key}dir => {value}"
            for key, value in [
                ("etc", d / "etc"),
                ("mod", MODULES_DIR),
                ("varlib", "/var/lib/asterisk"),
                ("db", d / "lib"),
                ("key", "/var/lib/asterisk"),
                ("data", d / "data"),  # the packaged one plus the instance's language sounds (_make_data_dir)
                ("agi", "/usr/share/asterisk/agi-bin"),
                ("spool", d / "spool"),
                ("run", d / "run"),
                ("log", d / "log"),
                ("cache", d / "cache"),
            ]
        )
        options = (self.settings.asterisk_conf / "asterisk.conf").read_text()
        (self.etc / "asterisk.conf").write_text(
            "; generated by `hotline asterisk up`; edit asterisk-conf/asterisk.conf instead\n"
            f"[directories]\n{directories}\n\n{options}"
        )
        (self.etc / "manager_secret.conf").write_text(f"secret = {ami_secret(self.settings)}\n")
        lines = [
            f"[{seat}](+)\ninbound_auth/username = {seat}\ninbound_auth/password = {pw}\n"
            for seat, pw in seat_passwords(self.settings).items()
        ]
        (self.etc / "seat_secrets.conf").write_text("".join(lines))
        for path in (self.etc / "manager_secret.conf", self.etc / "seat_secrets.conf"):
            path.chmod(0o600)

    def _make_prompts(self) -> None:
        """The voice prompts into the instance's sounds folder. A prompt that cannot be made does not
        stop Asterisk (calls must flow): it is logged as an error, and check-config fails on it."""
        try:
            build_prompts(
                load_prompts(self.settings.prompts_file),
                self.host_path(self.inner / "sounds"),
                self.settings.prompts_recorded,
            )
        except PromptError as exc:
            log.error("voice prompts not made, callers will hear silence where a prompt belongs: %s", exc)

    def _make_data_dir(self) -> None:
        """Asterisk's data folder for this instance: links to everything in the packaged one, except that
        sounds/ also holds each language folder made from the prompts (sounds/zh: the queue's Mandarin
        announcements, ivr/queue_sounds.py), so a channel with that language plays them."""
        data, packaged = self.host_path(self.inner / "data"), self.host_path(DATA_DIR)
        shutil.rmtree(data, ignore_errors=True)
        (data / "sounds").mkdir(parents=True)
        for entry in sorted(packaged.iterdir()) if packaged.is_dir() else []:
            if entry.name != "sounds":
                (data / entry.name).symlink_to(DATA_DIR / entry.name)
        ours = self.host_path(self.inner / "sounds")
        languages = {p.name for p in ours.iterdir() if p.is_dir()} if ours.is_dir() else set()
        for entry in sorted((packaged / "sounds").iterdir()) if (packaged / "sounds").is_dir() else []:
            if entry.name not in languages:
                (data / "sounds" / entry.name).symlink_to(DATA_DIR / "sounds" / entry.name)
        for language in sorted(languages):  # relative: the same link inside and outside the chroot
            (data / "sounds" / language).symlink_to(PurePosixPath("..", "..", "sounds", language))

    # ------------------------------------------------------------------ process
    def cli(self, command: str, *, timeout: float = 15) -> str:
        """Run one CLI command through the remote console; raise AsteriskError if it cannot connect."""
        argv = self.install.command("-C", self._conf_arg(), "-rx", command)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        text = out.stdout + out.stderr
        if out.returncode != 0 or "Unable to connect to remote asterisk" in text:
            raise AsteriskError(
                f"Asterisk instance {self.settings.asterisk_instance!r} is not running: {text.strip()[:200]}"
            )
        return out.stdout

    def running(self) -> bool:
        try:
            self.cli("core show version", timeout=5)
        except (AsteriskError, subprocess.TimeoutExpired):
            return False
        return True

    def start(self, *, timeout: float = 60, fresh: bool = False) -> float:
        """Prepare the config and start Asterisk in the background; return seconds until fully booted.

        fresh: forget Asterisk's own database first (persistent queue members), as tests want.
        """
        if self.running():
            raise AsteriskError(
                f"Asterisk instance {self.settings.asterisk_instance!r} is already running: "
                "`hotline asterisk down` first"
            )
        if fresh:
            shutil.rmtree(self.host_path(self.inner / "lib"), ignore_errors=True)
        self.prepare()
        started = time.monotonic()
        argv = self.install.command("-C", self._conf_arg(), "-n", "-g")  # -n: no colour; daemonizes itself
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if out.returncode != 0:
            raise AsteriskError(f"asterisk did not start (exit {out.returncode}): {(out.stdout + out.stderr)[-500:]}")
        self.wait_booted(timeout=timeout)
        took = time.monotonic() - started
        log.info("Asterisk %s up in %.1f s (instance %s)", self.install.version, took, self.settings.asterisk_instance)
        return took

    def wait_booted(self, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.cli("core waitfullybooted", timeout=10)
                return
            except (AsteriskError, subprocess.TimeoutExpired):
                time.sleep(0.2)
        tail = self._log_tail()
        raise AsteriskError(f"Asterisk did not finish booting within {timeout:.0f} s. Last log lines:\n{tail}")

    def stop(self, *, timeout: float = 20) -> None:
        if not self.running():
            return
        with contextlib.suppress(AsteriskError):
            self.cli("core stop now", timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.1)
        if self.running():
            self._kill()

    def kill(self, *, timeout: float = 10) -> None:
        """SIGKILL, as a crash would stop it: no hangup handler runs, the AMI link just drops (what a crash costs:
        tests/integration/test_crash.py). `start` afterwards starts it again as after a crash."""
        self._kill()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)

    def _kill(self) -> None:
        pidfile = self.host_path(self.inner / "run" / "asterisk.pid")
        if pidfile.exists():
            subprocess.run(["kill", "-9", pidfile.read_text().strip()], check=False)

    def _log_tail(self, lines: int = 15) -> str:
        path = self.log_dir / "messages.log"
        if not path.exists():
            return "(no messages.log)"
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])


# The Asterisk instance the service started (or found running) here, for the features that read its folders.
ASTERISK: Part[Instance] = Part("asterisk")


def name_this_host(hosts: Path) -> None:
    """The chroot's /etc/hosts names this host. Asterisk finds "our IP" for every RTCP session it sets up (each call
    leg): it resolves the host's name and, failing that, A.ROOT-SERVERS.NET. debootstrap's root has no hosts file,
    so both went to DNS for every call, and a resolver that does not answer (a network namespace without one)
    held each call's set-up for its 5 s timeout: a busy floor got a few calls a second through. With the name in
    the file it is answered at once, with no DNS at all."""
    name = socket.gethostname()
    text = hosts.read_text() if hosts.exists() else "127.0.0.1\tlocalhost\n"
    if any(name in line.split()[1:] for line in text.splitlines() if not line.lstrip().startswith("#")):
        return
    hosts.write_text(text.rstrip("\n") + f"\n127.0.1.1\t{name}\n")
