"""`hotline check-config`: Asterisk loads asterisk-conf/ cleanly, and the hotline's own rules hold.

Asterisk's part starts a scratch instance ("check-<instance>", on free ports) with the configuration and asks
it what it loaded. The project's part reads the files: ring timeout = rings x cadence, ringinuse=no,
AMI on loopback with timestamps, country cn.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ami_bridge.constants import INBOUND_CONTEXTS
from hotline.settings import Settings
from hotline.workdays import CalendarError, WorkCalendar
from ivr.prompts import VOICE, PromptError, load_prompts, missing_tools, phonemes, problems
from ivr.queue_sounds import queue_sounds

from .instance import Instance
from .provision import AsteriskInstall


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    what: str
    detail: str = ""
    warn: bool = False  # not ok, but the hotline still runs: printed WARN with its detail, not counted as failed

    @property
    def failed(self) -> bool:
        return not self.ok and not self.warn


def read_conf(path: Path) -> dict[str, dict[str, list[str]]]:
    """A tolerant reader of Asterisk's ini dialect: sections -> key -> values (comments dropped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = sections.setdefault("", {})
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            continue
        pair = re.match(r"^([^=]+?)\s*=>?\s*(.*)$", line)
        if pair:
            current.setdefault(pair.group(1).strip(), []).append(pair.group(2).strip())
    return sections


def _one(conf: dict[str, dict[str, list[str]]], section: str, key: str) -> str | None:
    values = conf.get(section, {}).get(key)
    return values[-1] if values else None


def project_rules(settings: Settings) -> Iterator[Check]:
    conf_dir = settings.asterisk_conf
    queues = read_conf(conf_dir / "queues.conf")
    q = settings.queue
    if q not in queues:
        yield Check(False, f"queues.conf defines the queue {q!r}", "no such section")
        return
    timeout = _one(queues, q, "timeout")
    want = settings.ring_timeout_s
    yield Check(
        timeout == str(want),
        "queue ring timeout equals the ring rule",
        f"queues.conf [{q}] timeout = {timeout}; {settings.ring_count} rings of "
        f"{settings.ring_on_ms} ms on + {settings.ring_off_ms} ms off = {want} s",
    )
    yield Check(_one(queues, q, "ringinuse") == "no", "queue never rings a seat already on a call", "ringinuse = no")
    strategy = _one(queues, q, "strategy")
    yield Check(
        settings.misses_to_pause == 1 or strategy in ("rrmemory", "rrordered", "linear"),
        "a missed call moves on to another seat",
        f"strategy = {strategy}; HOTLINE_MISSES_TO_PAUSE = {settings.misses_to_pause}: a seat that stays in the "
        "queue after a miss is rung again at once by leastrecent/fewestcalls/random; use strategy = rrmemory",
    )
    yield Check(
        _one(queues, q, "autopause") in (None, "no"),
        "the bridge, not Asterisk, pauses seats that miss",
        f"autopause = {_one(queues, q, 'autopause')} (Asterisk would pause after one miss, whatever the setting)",
    )
    retry = _one(queues, q, "retry")
    yield Check(
        retry is not None and retry.isdigit() and int(retry) <= 1, "next seat rings within 1 s", f"retry = {retry}"
    )
    manager = read_conf(conf_dir / "manager.conf")
    yield Check(_one(manager, "general", "bindaddr") == "127.0.0.1", "AMI listens on loopback only", "bindaddr")
    yield Check(_one(manager, "general", "timestampevents") == "yes", "AMI events carry timestamps", "timestampevents")
    user = manager.get(settings.ami_username, {})
    yield Check(bool(user), f"AMI user {settings.ami_username!r} exists", "manager.conf section")
    yield Check(not any(k == "secret" for k in user), "no AMI secret in git", "secret comes from manager_secret.conf")
    yield from trunk_rules(settings)
    indications = read_conf(conf_dir / "indications.conf")
    yield Check(_one(indications, "general", "country") == "cn", "Chinese tones", "indications.conf country = cn")
    cadence = f"{settings.ring_on_ms},{settings.ring_off_ms}"
    got = _one(indications, "cn", "ringcadence")
    yield Check(
        got == cadence, "ring cadence agrees with the settings", f"[cn] ringcadence = {got}; settings {cadence}"
    )
    yield from prompt_rules(settings)
    yield from calendar_rules(settings)


def trunk_rules(settings: Settings) -> Iterator[Check]:
    """Outbound trunks' channels carry their endpoint's context: an inbound one would make the bridge take every
    unit or citizen called back for a citizen calling in (a call row, a screen pop's history, a 呼损 callback)."""
    pjsip = read_conf(settings.asterisk_conf / "pjsip.conf")
    outbound = sorted({"trunk-out", settings.threeway_trunk, settings.callback_trunk} & set(pjsip))
    contexts = {trunk: _one(pjsip, trunk, "context") for trunk in outbound}
    wrong = [f"[{t}] context = {c}" for t, c in contexts.items() if c in INBOUND_CONTEXTS]
    yield Check(
        not wrong,
        "outbound trunks do not start citizens' calls",
        f"pjsip.conf {', '.join(wrong)}: use context = outbound-trunk" if wrong else ", ".join(outbound),
    )


def calendar_rules(settings: Settings, today: date | None = None) -> Iterator[Check]:
    """The working-day calendar reads, and knows this year (else FAIL) and next year (else WARN: the State
    Council publishes next year's schedule in November, and deadlines in late December already need it)."""
    try:
        calendar = WorkCalendar.load(settings.workdays_file, zone=settings.zone, day_end=settings.workday_end)
    except CalendarError as exc:
        yield Check(False, "working-day calendar file reads", str(exc))
        return
    today = today or datetime.now(settings.zone).date()
    for year in (today.year, today.year + 1):
        known = calendar.knows(year)
        yield Check(
            known,
            f"the working-day calendar knows {year}",
            calendar.source(year) or "" if known else calendar.describe_unknown(year),
            warn=not known and year > today.year,
        )


def prompt_rules(settings: Settings) -> Iterator[Check]:
    """Every prompt the dialplan plays is in the prompts file, and the tools to make them are here."""
    try:
        prompts = load_prompts(settings.prompts_file)
    except PromptError as exc:
        yield Check(False, "voice prompts file reads", str(exc))
        return
    names = {p.name for p in prompts}
    played = set(
        re.findall(r"\$\{HOTLINE_SOUNDS\}/([a-z0-9-]+)", (settings.asterisk_conf / "extensions.conf").read_text())
    )
    unknown = sorted(played - names)
    yield Check(
        not unknown,
        "every prompt the dialplan plays has its text",
        f"not in {settings.prompts_file}: {', '.join(unknown)}" if unknown else f"{len(played)} prompts",
    )
    yield from queue_sound_rules(settings, names)
    lacking = missing_tools()
    yield Check(
        not lacking,
        "voice prompts can be made",
        f"{' and '.join(lacking)} not installed: `make system-deps` (apt-get install espeak-ng sox)" if lacking else "",
    )
    if not lacking:
        recorded = settings.prompts_recorded
        wrong = [
            f"[{p.name}] {problem}"
            for p in prompts
            if recorded is None or not (recorded / f"{p.name}.wav").is_file()  # a studio recording is not read
            for problem in problems(p, phonemes(p))
        ]
        yield Check(not wrong, "every generated prompt is spoken in Mandarin", "; ".join(wrong) or VOICE)


def queue_sound_rules(settings: Settings, names: set[str]) -> Iterator[Check]:
    """Citizens' channels have one language, and every sound the queue plays to them exists in it."""
    conf_dir = settings.asterisk_conf
    language = _one(read_conf(conf_dir / "extensions.conf"), "globals", "HOTLINE_LANGUAGE")
    pjsip = read_conf(conf_dir / "pjsip.conf")
    trunks = {name: _one(pjsip, name, "language") for name in ("carrier-in", "trunk-out")}
    yield Check(
        language is not None and all(v == language for v in trunks.values()),
        "citizens' calls have one language",
        f"extensions.conf HOTLINE_LANGUAGE = {language}; pjsip.conf "
        + ", ".join(f"[{name}] language = {value}" for name, value in trunks.items()),
    )
    options = {key: values[-1] for key, values in read_conf(conf_dir / "queues.conf").get(settings.queue, {}).items()}
    needed = queue_sounds(options, language or "zh")
    missing = [n for n in needed if n not in names]
    yield Check(
        not missing,
        "every sound the queue plays to a caller has its text",
        f"not in {settings.prompts_file} (callers would hear Asterisk's English file): {', '.join(missing)}"
        if missing
        else f"{len(needed)} sounds in {language}",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def asterisk_loads(settings: Settings, install: AsteriskInstall) -> Iterator[Check]:
    scratch = settings.model_copy(  # its own instance beside the configured one (two of them may check at once)
        update={
            "asterisk_instance": f"check-{settings.asterisk_instance}", "ami_port": _free_port(),
            "sip_port": _free_port(), "ami_secret": "check",
        }
    )  # fmt: skip
    instance = Instance(install, scratch)
    instance.stop()
    log = instance.log_dir / "messages.log"
    seen = log.stat().st_size if log.exists() else 0  # the log goes on across runs: judge only this one
    try:
        instance.start(fresh=True, timeout=30)
    except Exception as exc:
        yield Check(False, "Asterisk starts with asterisk-conf/", str(exc))
        return
    try:
        yield Check(True, "Asterisk starts with asterisk-conf/", f"Asterisk {install.version}")
        yield from _loaded(instance, scratch, seen)
    finally:
        instance.stop()


def _loaded(instance: Instance, settings: Settings, log_from: int = 0) -> Iterator[Check]:
    wanted = read_conf(settings.asterisk_conf / "modules.conf").get("modules", {}).get("load", [])
    shown = instance.cli("module show")
    missing = [m for m in wanted if not re.search(rf"^{re.escape(m)}\s.*Running", shown, re.M)]
    yield Check(not missing, f"all {len(wanted)} modules in modules.conf are running", ", ".join(missing))
    for context in ("from-carrier", "queue", "outbound", "dialer"):
        out = instance.cli(f"dialplan show {context}")
        yield Check(f"'{context}'" in out and "There is no existence" not in out, f"dialplan context {context}")
    queue = instance.cli(f"queue show {settings.queue}")
    yield Check(
        f"{settings.queue} has" in queue, f"queue {settings.queue} loaded", queue.splitlines()[0] if queue else ""
    )
    endpoints = instance.cli("pjsip show endpoints")
    seats = [str(n) for n in range(settings.seats_first, settings.seats_last + 1)]
    absent = [s for s in seats if not re.search(rf"Endpoint:\s+{s}\b", endpoints)]
    yield Check(not absent, f"{len(seats)} seat endpoints", "missing: " + ", ".join(absent[:10]) if absent else "")
    for name in ("carrier-in", "trunk-out"):
        yield Check(bool(re.search(rf"Endpoint:\s+{name}\b", endpoints)), f"trunk endpoint {name}")
    with (instance.log_dir / "messages.log").open("rb") as log:
        log.seek(log_from)
        lines = log.read().decode(errors="replace").splitlines()
    problems = [line for line in lines if " ERROR[" in line or " WARNING[" in line]
    yield Check(not problems, "no errors or warnings while loading", "\n    ".join(problems[:10]))


def run_checks(settings: Settings, install: AsteriskInstall | None) -> list[Check]:
    checks = list(project_rules(settings))
    if install is not None:
        checks += list(asterisk_loads(settings, install))
    return checks
