"""`hotline`: the one entry point for everything a person runs.

hotline run [--demo]             Asterisk + bridge + web on 127.0.0.1 (the demo places live calls)
hotline asterisk provision|up|down|status|cli [COMMAND]
hotline check-config             Asterisk loads asterisk-conf/ cleanly and the hotline's rules hold
hotline db upgrade               apply database migrations
hotline settings                 every setting, its value and what it is for
hotline qa add-user|sample|check|purge|sweep|recompress
                                 QA users; the nightly recordings jobs by hand; old recordings re-encoded
                                 into the configured format (hotline/recordings/cli.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ami_bridge.client import AmiAuthError
from hotline.recordings.cli import register as register_qa

from .asterisk.checkconfig import run_checks
from .asterisk.instance import AsteriskError, Instance
from .asterisk.provision import ProvisionError, find_or_provision, provision
from .errors import Unavailable
from .keeper import FATAL, KEEPER_START, Ready, keep
from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("hotline")


def _logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at each start


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    def serve(ready: Ready | None = None) -> int:
        start = os.environ.get(KEEPER_START, "1")
        own = settings.fault_for(int(start) if start.isdigit() else 1)  # each process its fault point (tests)
        try:
            return asyncio.run(_run_when_able(own, demo=args.demo, start_asterisk=not args.no_asterisk, ready=ready))
        except Unavailable as exc:  # a part the service needs is not there (yet): one line, no traceback
            log.error("the service cannot start: %s", exc)
            return 1
        except AmiAuthError as exc:  # the AMI secret is refused: trying again changes nothing
            log.error("the service stops: %s", exc)
            return FATAL

    if args.no_keeper or args.demo:  # the demo's phones belong to one service process: no second one
        return serve()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # until the keeper's own handler: the finally below runs
    _preload()
    started = None  # the keeper owns the Asterisk it starts: a service process that dies leaves it up
    try:
        if not args.no_asterisk:
            instance = Instance(find_or_provision(settings), settings)
            if not instance.running():
                started = instance
                instance.start()
        return keep(serve)
    finally:
        if started is not None:
            started.stop()


def _preload() -> None:
    """What every service process needs, imported once by the keeper; each forked service process has it."""
    import sqlalchemy.dialects.postgresql.asyncpg
    import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    from . import service  # noqa: F401
    from .db import models  # noqa: F401
    from .demo import driver, phones  # noqa: F401

    configure_mappers()


def demo_leader(settings: Settings) -> tuple[str, str]:
    """A team leader (班长) login for the demo's floor view, with a new password each run."""
    import secrets

    from hotline.recordings.qaauth import add_user

    user, password = "demo-leader", secrets.token_urlsafe(9)
    add_user(settings.qa_users_path, user, password, "演示班长", role="leader")
    return user, password


START_PAUSES_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # between tries while a part is unavailable at start


async def _run_when_able(settings: Settings, *, demo: bool, start_asterisk: bool, ready: Ready | None) -> int:
    """`_run`, tried again while a part the service needs (the database, Redis) is unavailable at start: one log
    line per try, and meanwhile /health answers 503 naming the part and why (ops and a load balancer see it
    instead of a refused connection). SIGTERM or SIGINT stops the waiting. The Asterisk it cannot start is not
    retried here (a setting to fix: the error says which)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for tries in itertools.count(1):
        try:
            return await _run(settings, demo=demo, start_asterisk=start_asterisk, ready=ready, stop=stop)
        except Unavailable as exc:
            if isinstance(exc, AsteriskError | ProvisionError):
                raise
            pause = START_PAUSES_S[min(tries, len(START_PAUSES_S)) - 1]
            log.error("the service cannot start: %s; trying again in %.1f s (try %d)", exc, pause, tries)
            await _unavailable_health(settings, exc, pause, stop)
            if stop.is_set():
                return 0
    return 1  # not reached


async def _unavailable_health(settings: Settings, exc: Unavailable, pause: float, stop: asyncio.Event) -> None:
    """For `pause` seconds (or until `stop`), GET /health answers 503 with the part that is unavailable and why."""
    from aiohttp import web

    body = {"status": "starting", "parts": {exc.part: {"ok": False, "why": exc.message}}, "retry_in_s": pause}

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(body, status=503)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        with contextlib.suppress(OSError):  # the port is taken: the log line still says why
            await web.TCPSite(runner, settings.http_host, settings.http_port).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
    finally:
        await runner.cleanup()


async def _run(
    settings: Settings,
    *,
    demo: bool,
    start_asterisk: bool,
    ready: Ready | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    from .demo.driver import Demo
    from .demo.phones import OVERLAY
    from .service import Service

    if demo and settings.asterisk_overlay is None:  # the overlay's trunks reach the demo's unit and citizen phones
        settings = settings.model_copy(update={
            "asterisk_overlay": OVERLAY, "asterisk_instance": "demo", "threeway_trunk": "trunk-units",
            "callback_trunk": "trunk-citizens",
        })  # fmt: skip
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    async with Service(settings, start_asterisk=start_asterisk) as service:
        if ready is not None:
            ready()  # the keeper: this process is up (a death from now on is replaced at once)
        if not await _linked(service, stop, wait_s=None if demo else LINK_WAIT_S):
            if stop.is_set():
                return 0
            log.warning("Asterisk not linked after %d s: serving anyway (/health says why); the link keeps trying",
                        LINK_WAIT_S)  # fmt: skip
        print(f"hotline is up: floor view {service.url}/  health {service.url}/health  API {service.url}/api/calls")
        print(f"Asterisk console: hotline asterisk cli   (instance {settings.asterisk_instance})")
        demo_driver = None
        if demo:
            user, password = demo_leader(settings)
            print(f"demo: the floor view needs a staff login: {user} / {password}  (made for this demo run)")
            demo_driver = Demo(
                service.seats,
                service.bus,
                sip_port=settings.sip_port,
                work_dir=settings.state_dir / "demo",
                tickets=service.tickets,
            )
            await demo_driver.start()
        waiter = asyncio.create_task(service.wait())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if demo_driver is not None:
            await demo_driver.stop()
        stopper.cancel()
        if waiter.done() and waiter.exception() is not None:
            raise waiter.exception()  # type: ignore[misc]
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    print("hotline stopped")
    return 0


LINK_WAIT_S = 30  # how long `run` waits for the first resync before it says the service is up without Asterisk


async def _linked(service: Any, stop: asyncio.Event, *, wait_s: float | None) -> bool:
    """Whether the bridge resynced with Asterisk within `wait_s` (None: as long as it takes); False at once when
    asked to stop meanwhile."""
    waits = {asyncio.ensure_future(service.bridge.resynced.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return service.bridge.resynced.is_set() and not stop.is_set()


def cmd_asterisk(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "provision":
        install = provision(settings) if not (settings.asterisk_cache / "asterisk-sid").exists() else None
        install = install or find_or_provision(settings)
        print(f"Asterisk {install.version} at {install.root} ({'chroot' if install.chrooted else 'host'})")
        return 0
    instance = Instance(find_or_provision(settings), settings)
    if args.action == "up":
        took = instance.start()
        print(
            f"Asterisk {instance.install.version} up in {took:.1f} s; AMI 127.0.0.1:{settings.ami_port}, "
            f"SIP udp {settings.sip_port}; logs {instance.log_dir}"
        )
    elif args.action == "down":
        instance.stop()
        print("Asterisk stopped")
    elif args.action == "status":
        if not instance.running():
            print(f"Asterisk instance {settings.asterisk_instance!r} is not running")
            return 3
        print(instance.cli("core show uptime") + instance.cli(f"queue show {settings.queue}"))
    elif args.action == "foreground":  # containers: the same etc folder as `up`, Asterisk as PID 1's child
        instance.prepare()
        os.execvp(
            instance.install.command()[0],
            instance.install.command("-C", str(instance.inner / "etc" / "asterisk.conf"), "-f", "-n", "-g"),
        )
    elif args.action == "cli":
        if args.command:
            print(instance.cli(" ".join(args.command)), end="")
        else:
            os.execvp(
                instance.install.command()[0],
                instance.install.command("-C", str(instance.inner / "etc" / "asterisk.conf"), "-r"),
            )
    return 0


def cmd_check_config(settings: Settings, args: argparse.Namespace) -> int:
    install = None if args.no_asterisk else find_or_provision(settings)
    checks = run_checks(settings, install)
    for check in checks:
        mark = "ok  " if check.ok else "WARN" if check.warn else "FAIL"
        print(
            f"{mark} {check.what}"
            + (f"\n     {check.detail}" if check.detail and (not check.ok or args.verbose) else "")
        )
    failed = sum(c.failed for c in checks)
    warned = sum(c.warn and not c.ok for c in checks)
    print(
        f"{len(checks) - failed - warned} checks passed, {failed} failed" + (f", {warned} warnings" if warned else "")
    )
    return 1 if failed else 0


def cmd_prompts(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.prompts import PromptError, build_prompts, load_prompts

    if args.action == "check":
        return _check_prompts(settings)
    out = args.out
    if out is None:
        instance = Instance(find_or_provision(settings), settings)
        out = instance.host_path(instance.inner / "sounds")
    try:
        prompts = load_prompts(settings.prompts_file)
        made = build_prompts(prompts, out, settings.prompts_recorded)
    except PromptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(prompts)} prompts in {out}: {len(made)} made, {len(prompts) - len(made)} unchanged")
    return 0


def _check_prompts(settings: Settings) -> int:
    """Each prompt's text, what espeak-ng is given, and its phonemes: to check the voice without listening."""
    from ivr.prompts import PromptError, load_prompts, phonemes, problems

    bad = 0
    try:
        for prompt in load_prompts(settings.prompts_file):
            trace = phonemes(prompt)
            print(f"[{prompt.name}] {prompt.text}")
            if prompt.say != prompt.text:
                print(f"    says: {prompt.say}")
            print(f"    phonemes: {' '.join(trace.split())}")
            for problem in problems(prompt, trace):
                bad += 1
                print(f"    PROBLEM: {problem}")
    except PromptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{bad} problems" if bad else "every prompt is read in Mandarin")
    return 1 if bad else 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from .db.migrate import upgrade

    asyncio.run(upgrade(settings.effective_database_url))
    print(f"database at head: {settings.effective_database_url}")
    return 0


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if "secret" in name and value:
            value = "***"
        env = (
            "DATABASE_URL"
            if name == "database_url"
            else "REDIS_URL"
            if name == "redis_url"
            else f"HOTLINE_{name.upper()}"
        )
        print(f"{env:32} = {value!s:40} {field.description or ''}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="12345 hotline telephony on Asterisk 22")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start Asterisk, the bridge and the web server")
    run.add_argument("--demo", action="store_true", help="place sample citizen calls that simulated seats answer")
    run.add_argument("--no-asterisk", action="store_true", help="use an Asterisk that runs elsewhere")
    run.add_argument(
        "--no-keeper", action="store_true",
        help="one service process, no keeper to start another when it dies (a process manager restarts it)",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)
    ast = sub.add_parser("asterisk", help="the project's Asterisk")
    ast.add_argument("action", choices=["provision", "up", "down", "status", "cli", "foreground"])
    ast.add_argument("command", nargs="*", help="for cli: one CLI command to run (else an interactive console)")
    ast.set_defaults(func=cmd_asterisk)
    chk = sub.add_parser("check-config", help="validate asterisk-conf/")
    chk.add_argument("--no-asterisk", action="store_true", help="only the project's rules, without starting Asterisk")
    chk.add_argument("-v", "--verbose", action="store_true")
    chk.set_defaults(func=cmd_check_config)
    prm = sub.add_parser("prompts", help="voice prompts from ivr/prompts.toml")
    prm.add_argument("action", choices=["build", "check"], help="build: make the WAVs; check: print what is said")
    prm.add_argument("--out", type=Path, help="folder for the WAV files (default: the Asterisk instance's sounds)")
    prm.set_defaults(func=cmd_prompts)
    db = sub.add_parser("db", help="database")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    sub.add_parser("settings", help="list the settings").set_defaults(func=cmd_settings)
    register_qa(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    _logging(settings.log_level)
    try:
        return int(args.func(settings, args))
    except (ProvisionError, AsteriskError) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear last line rather than only a traceback
        log.exception("hotline %s failed", args.cmd)
        print(f"hotline: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
