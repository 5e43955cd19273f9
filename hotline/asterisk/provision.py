"""Find or provision an Asterisk >= 20.

Order: an explicit HOTLINE_ASTERISK_BINARY; else an installed `asterisk` of version 20 or newer;
else Debian's Asterisk 22 from the unstable suite, debootstrap'd once into
``<asterisk_cache>/asterisk-sid`` and run chrooted. Every failure says what is missing and how
to fix it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hotline.settings import Settings

from ..errors import Unavailable

log = logging.getLogger(__name__)

MIN_MAJOR = 20
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm")
SUITE = "sid"
ROOT_NAME = "asterisk-sid"
MARKER = ".hotline-provisioned"
FALLBACK_MIRROR = "http://deb.debian.org/debian"


class ProvisionError(Unavailable, RuntimeError):
    """Asterisk cannot be found or installed; the message says what to do."""

    error = "asterisk-not-provisioned"


@dataclass(frozen=True, slots=True)
class AsteriskInstall:
    binary: str  # path of the asterisk binary as seen inside `root`
    root: Path  # "/" for a host install, the chroot folder otherwise
    version: str

    @property
    def chrooted(self) -> bool:
        return self.root != Path("/")

    def command(self, *args: str) -> list[str]:
        """The argv that runs asterisk with `args`, chrooted where needed."""
        prefix = ["chroot", str(self.root)] if self.chrooted else []
        return [*prefix, self.binary, *args]


def version_of(argv: list[str]) -> str:
    out = subprocess.run([*argv, "-V"], capture_output=True, text=True, timeout=20, check=False)
    text = (out.stdout + out.stderr).strip()
    if not text.startswith("Asterisk "):
        raise ProvisionError(f"`{' '.join(argv)} -V` did not print a version: {text[:200]!r}")
    return text.split()[1]


def major(version: str) -> int:
    m = re.match(r"(\d+)", version)
    return int(m.group(1)) if m else 0


def find_or_provision(settings: Settings, *, allow_provision: bool = True) -> AsteriskInstall:
    choice = settings.asterisk_binary
    if choice.startswith("/"):
        if not os.access(choice, os.X_OK):
            raise ProvisionError(f"HOTLINE_ASTERISK_BINARY={choice} is not an executable file")
        return _checked(AsteriskInstall(choice, Path("/"), version_of([choice])))
    if choice == "auto":
        found = shutil.which("asterisk") or ("/usr/sbin/asterisk" if os.access("/usr/sbin/asterisk", os.X_OK) else None)
        if found:
            version = version_of([found])
            if major(version) >= MIN_MAJOR:
                return AsteriskInstall(found, Path("/"), version)
            log.info("installed asterisk %s is older than %d: using the chrooted Asterisk 22", version, MIN_MAJOR)
    root = settings.asterisk_cache / ROOT_NAME
    if not (root / MARKER).exists():
        if not allow_provision:
            raise ProvisionError(f"Asterisk is not provisioned in {root}: run `hotline asterisk provision`")
        provision(settings)
    _ensure_packages(root)
    return _checked(AsteriskInstall("/usr/sbin/asterisk", root, (root / MARKER).read_text().strip()))


def _ensure_packages(root: Path) -> None:
    """Install packages added to PACKAGES since the cached root was made (apt inside the chroot)."""
    listed = root / ".hotline-packages"
    have = set(listed.read_text().split()) if listed.exists() else {"asterisk", "asterisk-modules"}
    missing = [p for p in PACKAGES if p not in have]
    if not missing:
        return
    _preflight()
    log.info("adding %s to the cached Asterisk root %s", " ".join(missing), root)
    apt = [
        "chroot",
        str(root),
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "-q",
        "-y",
        "-o",
        "Acquire::Check-Valid-Until=false",
    ]  # snapshot mirrors serve expired Release files
    for argv in ([*apt, "update"], [*apt, "install", "--no-install-recommends", *missing]):
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise ProvisionError(f"`{' '.join(argv)}` failed: {out.stdout[-300:]}{out.stderr[-300:]}")
    listed.write_text("\n".join(PACKAGES) + "\n")


def _checked(install: AsteriskInstall) -> AsteriskInstall:
    if major(install.version) < MIN_MAJOR:
        raise ProvisionError(f"Asterisk {install.version} is too old: version {MIN_MAJOR} or newer is needed")
    return install


def debian_mirror(settings: Settings) -> str:
    """The Debian package source apt already uses (deb822 .sources or sources.list)."""
    if settings.debian_mirror != "auto":
        return settings.debian_mirror
    candidates: list[Path] = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in re.findall(r"^\s*URIs:\s*(\S+)", text, re.M) + re.findall(
            r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M
        ):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return FALLBACK_MIRROR


def _preflight() -> None:
    if os.geteuid() != 0:
        raise ProvisionError(
            "provisioning Asterisk 22 needs root (debootstrap and chroot). Run as root, or install "
            "asterisk >= 20 yourself and set HOTLINE_ASTERISK_BINARY=/path/to/asterisk."
        )
    if not shutil.which("debootstrap"):
        raise ProvisionError(
            "debootstrap is not installed: run `apt-get install -y debootstrap` (or `make system-deps`)."
        )


def provision(settings: Settings) -> AsteriskInstall:
    """debootstrap Debian unstable with Asterisk into the cache folder (once; later runs reuse it)."""
    _preflight()
    cache = settings.asterisk_cache
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / ROOT_NAME
    with open(cache / ".provision.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second `hotline` waits for the first to finish
        if (root / MARKER).exists():
            return find_or_provision(settings, allow_provision=False)
        mirror = debian_mirror(settings)
        tmp = cache / f"{ROOT_NAME}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(tmp), mirror]
        log.info("provisioning Asterisk: %s (about a minute; cached in %s)", " ".join(argv), root)
        started = time.monotonic()
        logfile = cache / "debootstrap.log"
        with open(logfile, "w") as out:
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            tail = "".join(logfile.read_text(errors="replace").splitlines(keepends=True)[-8:])
            raise ProvisionError(
                f"debootstrap failed (exit {rc}) fetching from {mirror}. Is that package source reachable? "
                f"Set HOTLINE_DEBIAN_MIRROR to another one if not. Full log: {logfile}\n{tail}"
            )
        version = version_of(["chroot", str(tmp), "/usr/sbin/asterisk"])
        (tmp / MARKER).write_text(version + "\n")
        (tmp / ".hotline-packages").write_text("\n".join(PACKAGES) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
        log.info("Asterisk %s provisioned in %.0f s into %s", version, time.monotonic() - started, root)
        return AsteriskInstall("/usr/sbin/asterisk", root, version)
