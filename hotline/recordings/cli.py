"""`hotline qa ...`: QA users, and the nightly jobs by hand.

hotline qa add-user NAME [--label 张三] [--role qa|leader]   add or reset a QA user or team leader (password asked,
                                         or read from stdin)
hotline qa add-user NAME --role unit --unit ID                a handling unit's (承办单位) login: ID is its id in the
                                         directory (GET /api/units); it sees only its own tickets on /unit
hotline qa sample [--day YYYY-MM-DD]      sample a day for QA (default: yesterday on the hotline's clock)
hotline qa check                          measure every kept recording again; flag missing/empty/short ones
hotline qa purge                          delete recordings whose retention ended
hotline qa sweep [--days 7]               catalogue recordings with no row (calls that ended while the service
                                          was down); asks Asterisk which calls are live (AMI) and leaves those
hotline qa recompress --days N | --all [--dry-run]
                                          re-encode finished recordings stored in another format (old .wav files)
                                          into HOTLINE_RECORDING_FORMAT, one at a time, newest first; resumable
                                          (hotline/recordings/recompress.py); exit 1 if any file failed
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.settings import Settings

if TYPE_CHECKING:
    from .service import RecordingService

from hotline.errors import Unavailable

from .. import tasks
from .formats import Format
from .qaauth import add_user


class LiveUnknown(Unavailable, RuntimeError):
    """Asterisk cannot be asked which calls are live: the sweep would risk a file MixMonitor still writes."""

    error = "live-calls-unknown"


def recordings_root(settings: Settings) -> Path:
    if settings.recordings_dir is not None:
        return settings.recordings_dir
    from hotline.asterisk.instance import Instance
    from hotline.asterisk.provision import find_or_provision

    return Instance(find_or_provision(settings, allow_provision=False), settings).recordings


def cmd_qa(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "add-user":
        if not args.name:
            print("hotline qa add-user NAME", file=sys.stderr)
            return 2
        unit_name = None
        if args.role == "unit" and args.unit is not None:
            unit_name = asyncio.run(_unit_name(settings, args.unit))
            if unit_name is None:
                print(f"error: --unit {args.unit}: no handling unit with this id in the directory; list them with "
                      "GET /api/units (a team leader's login) and give one of their ids", file=sys.stderr)  # fmt: skip
                return 1
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
        try:
            add_user(settings.qa_users_path, args.name, password, args.label, args.role, args.unit)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        of_unit = f" of unit {args.unit} {unit_name}" if unit_name else ""
        print(f"staff user {args.name} ({args.role}{of_unit}) saved in {settings.qa_users_path}")
        return 0
    return asyncio.run(_job(settings, args))


async def _unit_name(settings: Settings, unit_id: int) -> str | None:
    """The name of the directory's unit `unit_id`, or None when there is none."""
    from hotline.db.store import Store
    from hotline.tickets.unitstore import UnitDirectory, UnitNotFound

    store = await Store.open(settings.effective_database_url)
    try:
        return (await UnitDirectory(store.engine, lambda: datetime.now(UTC)).get(unit_id)).name
    except UnitNotFound:
        return None
    finally:
        await store.close()


async def _job(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.bus import make_bus
    from hotline.db.store import Store

    from .retention import Retention
    from .sampling import Rule
    from .service import RecordingConfig, RecordingService
    from .store import RecordingStore

    s = settings
    store = await Store.open(s.effective_database_url)
    bus = make_bus("")
    config = RecordingConfig(
        recordings_root(s), s.zone, 0.0, s.recording_tolerance_s,
        Retention(s.retention_days, s.retention_complaint_days), Rule(s.qa_sample_ratio, s.qa_sample_min),
        s.qa_nightly_at, s.recording_sweep_days, format=Format(s.recording_format),
    )  # fmt: skip
    service = RecordingService(None, bus, RecordingStore(store.engine), config)
    today = datetime.now(s.zone).date()
    try:
        if args.action == "sample":
            day = date.fromisoformat(args.day) if args.day else today - timedelta(days=1)
            plan, added = await service.sample(day)
            print(f"{day}: {len(plan.picks)} calls picked, {added} new")
            for pick in plan.picks:
                print(f"  {pick.seat}  {pick.call_id}  {','.join(r.value for r in pick.reasons)}")
        elif args.action == "check":
            print(f"recordings checked: {await service.check()}")
        elif args.action == "purge":
            print(f"recordings purged: {await service.purge(today)}")
        elif args.action == "sweep":
            try:
                live = set() if args.asterisk_stopped else await live_in_asterisk(s)
            except LiveUnknown as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"recordings swept: {await service.sweep(live, days=args.days)}")
        elif args.action == "recompress":
            return await _recompress(s, service, args, today)
    finally:
        await bus.close()
        await store.close()
    return 0


async def _recompress(s: Settings, service: RecordingService, args: argparse.Namespace, today: date) -> int:
    from .files import SoxMissing
    from .recompress import Busy, recompress

    if (args.days is None) == (not args.all):
        print("hotline qa recompress: say which recordings: --days N (the last N days and today) or --all",
              file=sys.stderr)  # fmt: skip
        return 2
    live: set[str] = set()
    if not args.asterisk_stopped:
        try:
            live = await live_in_asterisk(s)
        except LiveUnknown:  # a catalogued file with no .raw beside it is finished: its age and the .raw suffice
            print("note: Asterisk's AMI cannot be asked which calls are live; going on, since files with a .raw "
                  "beside them or written to in the last 5 minutes are left alone anyway (--asterisk-stopped: do "
                  "not ask)", file=sys.stderr)  # fmt: skip
    since = None if args.all else today - timedelta(days=args.days)
    try:
        report = await recompress(service, since=since, live=live, dry_run=args.dry_run, who=getpass.getuser())
    except (Busy, SoxMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 1 if report.failed else 0


async def live_in_asterisk(s: Settings) -> set[str]:
    """The ids of every channel Asterisk has now (CoreShowChannels over a short AMI session of our own)."""
    from ami_bridge.client import AmiClient, AmiError
    from hotline.asterisk.instance import ami_secret

    from .sweep import channel_ids

    client = AmiClient(s.ami_host, s.ami_port, s.ami_username, ami_secret(s), connect_timeout=s.ami_connect_timeout,
                       action_timeout=s.ami_action_timeout)  # fmt: skip
    runner = asyncio.create_task(client.run(), name="qa-sweep-ami")
    connected = asyncio.create_task(client.connected.wait())
    try:
        done, _ = await asyncio.wait({runner, connected}, timeout=2 * s.ami_connect_timeout + 1,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if runner in done:
            runner.result()  # a refused login raises here
        if connected not in done:
            raise LiveUnknown(
                f"cannot reach Asterisk's AMI at {client.address} to learn which calls are live, and the sweep must "
                "not touch a file Asterisk may still be writing: start Asterisk (`hotline asterisk up`), or, if it "
                "is stopped and records nothing, run `hotline qa sweep --asterisk-stopped`"
            )
        return channel_ids(await client.action_list("CoreShowChannels"))
    except AmiError as exc:
        raise LiveUnknown(f"cannot ask Asterisk which calls are live: {exc}") from exc
    finally:
        connected.cancel()
        await client.close()
        await tasks.stop([runner])


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    qa = sub.add_parser("qa", help="recordings and QA (质检): users, sampling, check, purge, sweep, recompress",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    qa.add_argument("action", choices=["add-user", "sample", "check", "purge", "sweep", "recompress"])
    qa.add_argument("name", nargs="?", help="for add-user: the QA user's login name")
    qa.add_argument("--label", default="", help="for add-user: the person's name, shown on scores")
    roles = "qa (质检员, the default), leader (班长: the wallboard, reports, units) or unit (承办单位: its own tickets)"
    qa.add_argument("--role", default="qa", choices=["qa", "leader", "unit"], help=f"for add-user: {roles}")
    qa.add_argument("--unit", type=int, help="for add-user --role unit: the unit's id in the directory")
    qa.add_argument("--day", help="for sample: YYYY-MM-DD (default: yesterday)")
    qa.add_argument("--days", type=int, help="for sweep: days back to look (default HOTLINE_RECORDING_SWEEP_DAYS); "
                    "for recompress: the recordings of today and the N days before")  # fmt: skip
    qa.add_argument("--all", action="store_true", help="for recompress: every kept recording")
    qa.add_argument(
        "--dry-run",
        action="store_true",
        help="for recompress: list what would be re-encoded, the expected saving; change nothing",
    )
    qa.add_argument(
        "--asterisk-stopped",
        action="store_true",
        help="for sweep, recompress: Asterisk is stopped (records nothing): do not ask what is live",
    )
    qa.set_defaults(func=cmd_qa)
