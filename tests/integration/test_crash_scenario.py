"""Nothing lost in a crash (issue 25), the whole floor at once: one scripted scenario with real Asterisk and sipp
phones, run once without faults (the reference run), again with the service process killed hard at each of a set
of points, and again with Asterisk itself killed at two, then compared table by table.

The scenario (seats 8005–8009, all logged in and paused at the start; each seat is resumed for its part and
paused again once it answered, so the queue's choices are the script's):
  A  13900139401  8005 answers, hangs up first; the citizen answers the survey with 2 (满意)
  B  13900139402  8006 lets it ring out (未接, a miss), 8007 answers; the citizen hangs up
  D  13900139404  8008 answers and brings in a handling unit (三方通话, direct join); the unit, then the citizen,
                  hang up
  C  13900139403  meanwhile, no seat free: told so, waits in the queue and gives up (呼损)
  回拨 of C       the 回访 dialer rings 8009, then C (a called citizen who talks 3 s)

The service runs as `hotline run --no-asterisk`, with its keeper. In a fault run it has the switch
HOTLINE_FAULT_EXIT_AFTER=<event>:<n>;<event>:<n>…: its first service process exits hard right after the first
point's event was applied, the keeper forks the next one at once, which exits at the second point, and so on (RUNS:
ten points in three runs); the script goes on all the while: the phones never wait for the service, only the seat's
three-way request does (a person pressing the button again).

Compared, with the fault run's record on the left:
  calls and seat_misses: with the pure call machine fed with every AMI event of the same run (tests/helpers/faults.py,
      STAMP_MS), which is exact; and the calls' categorical fields with the reference run's
  /api/floor today (total and per seat): with the counts the pure tally makes of the same run's events
  callback tasks and attempts, threeway attempts, survey results, recordings: with the reference run, every
      categorical field exactly; durations (talk, ring) within DRIFT_MS, the two runs being separate real calls.
With Asterisk killed, the calls that died with it end `cut` and what differs from the reference because of that is
stated in the test (test_asterisk_killed_at_a_point_of_the_script_cuts_only_what_was_live).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from ami_bridge import events as ev
from ami_bridge.calls import CallBook
from ami_bridge.client import AmiClient
from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.protocol import Frame
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot, MissSnapshot
from hotline.asterisk.instance import seat_passwords
from hotline.db.store import Store
from hotline.demo import phones
from hotline.floor.plugin import targets_of
from hotline.floor.stats import tally
from hotline.recordings.qaauth import add_user, load_users
from hotline.settings import Settings
from tests.helpers import faults, realparts, talking
from tests.helpers.threeway import UNIT

pytestmark = pytest.mark.asterisk

A, B, C, D = "13900139401", "13900139402", "13900139403", "13900139404"
SEATS = ("8005", "8006", "8007", "8008", "8009")
CUT = timedelta(milliseconds=500)  # Asterisk killed -> the service's AMI link drops (the kernel closes it at once)
DRIFT_MS = 400  # two runs of the script are separate real calls: their durations differ by the phones' timing
LEADER, PASSWORD = "scenario-leader", "scenario-pass-1"

# Where the service process is killed: after the nth event of a type the bridge applied (a notice: handed to the
# features). Each run kills several processes in turn, `hotline run`'s keeper handing its first service process the
# first point, the next process the second, and so on; a process counts the events it saw itself, so each point is
# chosen where no event of its type can fall between the kill before and the next process's start.
RUNS = {
    "ring-miss-join-talk": (
        "SeatCalled:1",  # 8005's phone rings for A: the answer comes to the next process
        "SeatMissed:1",  # B rang out at 8006: the miss, never saved
        "ConferenceJoined:3",  # the unit joined D's three-way call
        "CallbackProgress:2",  # C answered the 回拨: the talk, followed by the next process
    ),
    "answer-lost-callback": (
        "SeatConnected:1",  # A answered: its answer, never saved; the survey runs under the next process
        "CallerAbandoned:1",  # C gave up in the queue: the 呼损 the dialer must call back
        "CallbackProgress:1",  # 8009 answered the 回拨 of C: the dialer's attempt in flight
    ),
    "survey-answer-queue": (
        "SeatCompleted:1",  # A's seat hung up: the survey begins with no service to answer its AGI
        "SeatConnected:2",  # D answered at 8008 (B was answered before it)
        "CallerJoinedQueue:1",  # C waits in the queue: it gives up (呼损) under the next process
    ),
}


@dataclass
class Record:
    """What one run of the scenario left: its tables (as sqlite3 rows by table), the pure machine's calls and misses
    made from the run's AMI events, and /api/floor's today."""

    tables: dict[str, list[dict[str, Any]]]
    stored_calls: dict[str, CallSnapshot]
    pure_calls: dict[str, CallSnapshot]
    pure_misses: list[MissSnapshot]
    floor: dict[str, Any]
    log: str = ""
    left_in_asterisk: list[str] = field(default_factory=list)  # calls' ends the dialplan kept and nobody cleared
    asterisk_killed_at: datetime | None = None

    def calls(self) -> dict[str, dict[str, Any]]:
        return {r["caller_number"]: r for r in self.tables["calls"] if r["caller_number"] in (A, B, C, D)}

    def label(self, call_id: str) -> str:
        """The scenario's name of a call id (its caller number), the same in every run."""
        names = {r["call_id"]: r["caller_number"] for r in self.tables["calls"]}
        names.update({r["id"]: f"回拨 {r['number']}" for r in self.tables["callback_attempts"]})
        return names.get(call_id, call_id)


@dataclass
class Scene:
    """One run: the service process(es), the phones, the seats' control, the recorder of AMI events."""

    settings: Settings
    ami: AmiClient
    folder: Path
    kill: str | None
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    phones: list[Any] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    asterisk: Any = None  # the test's Instance, for the runs that kill it
    asterisk_at: str | None = None  # where the script kills Asterisk (ASTERISK_KILLS), if it does
    asterisk_killed_at: datetime | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.folder / "hotline.db"

    def prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.settings.http_port + 1
        workdays = self.folder / "workdays.toml"
        workdays.write_text(every_day_works())
        self.env = realparts.test_env(
            self.settings.state_dir, ivr="false", survey="true", http_port=str(self.port), callbacks="true",
            callback_trunk="trunk-citizens", callback_ring_s="8", callback_seat_ring_s="8",
            callback_windows="00:00-23:59", callback_missed_min_wait_s="3", callback_poll_s="0.5",
            workdays_file=str(workdays), recording_sweep="false",
        )  # fmt: skip
        self.env["DATABASE_URL"] = f"sqlite:///{self.db}"
        if LEADER not in load_users(self.settings.qa_users_path):
            add_user(self.settings.qa_users_path, LEADER, PASSWORD, "班长", role="leader")

    async def serve(self) -> None:
        """`hotline run` with its keeper; in a fault run its first service process exits hard at `kill` and the
        keeper forks the next one at once (the fault switch applies to the first process only)."""
        env = dict(self.env, **({"HOTLINE_FAULT_EXIT_AFTER": self.kill} if self.kill else {}))
        self.procs.append(await faults.start_process(env, self.url, keeper=True))

    async def asterisk_point(self, point: str) -> None:
        """At `point` of the script, when the run kills Asterisk there: SIGKILL (no hangup handler runs), start it
        again (it restores the logged-in seats; they are paused again, as they were), and go on once the test's own
        AMI link and the service are back."""
        if point != self.asterisk_at:
            return
        links = self.ami.connections
        self.asterisk_killed_at = datetime.now(UTC)
        await asyncio.to_thread(self.asterisk.kill)
        await asyncio.to_thread(self.asterisk.start)
        for _ in range(200):
            if self.ami.connections > links and self.ami.connected.is_set():
                break
            await asyncio.sleep(0.05)
        control = SeatControl(self.ami, self.settings.queue, self.settings.pause_reasons)
        for seat in SEATS:
            await control.pause(seat, "其他")
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/health") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise AssertionError("the service did not link to the new Asterisk")

    def seen(self, what: Callable[[Frame], bool]) -> bool:
        return any(what(f) for f in self.frames)

    async def until(self, what: Callable[[Frame], bool], timeout: float = 30, why: str = "") -> None:
        for _ in range(int(timeout * 20)):
            if self.seen(what):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not seen in {timeout} s: {why}")

    async def post_as_seat(self, seat: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """As the seat pressing the button: again while the service is starting or not yet resynced."""
        last: Any = None
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    login = {"seat": seat, "password": seat_passwords(self.settings)[seat]}
                    async with http.post(f"{self.url}/api/session", json=login) as resp:
                        token = (await resp.json())["token"]
                    headers = {"Authorization": f"Bearer {token}"}
                    async with http.post(f"{self.url}{path}", json=body, headers=headers) as resp:
                        last = (resp.status, await resp.json())
                        if resp.status == 200:
                            return last[1]  # type: ignore[no-any-return]
                except (aiohttp.ClientError, KeyError) as exc:
                    last = exc
                await asyncio.sleep(0.2)
        raise AssertionError(f"POST {path} as {seat}: {last}")

    async def floor_today(self, want: dict[str, Any]) -> dict[str, Any]:
        """/api/floor's today as a team leader reads it, once it counts `want` (the floor follows the bus)."""
        got: dict[str, Any] = {}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.url}/api/staff/session", json={"user": LEADER, "password": PASSWORD}) as r:
                headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
            for _ in range(50):
                async with http.get(f"{self.url}/api/floor", headers=headers) as resp:
                    today = (await resp.json())["today"]
                got = {"total": today["total"], **{s: today["seats"].get(s, {}) for s in want if s != "total"}}
                got = {k: {n: v.get(n) for n in faults.COUNTS} for k, v in got.items()}
                if got == want:
                    break
                await asyncio.sleep(0.1)
        return got

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 20)
            if proc.returncode is None:
                proc.kill()
            with contextlib.suppress(Exception):
                out = (await proc.communicate())[0].decode(errors="replace")
                if out:
                    self.outputs.append(out)


def every_day_works() -> str:
    """A calendar where every day around today is a working day (the 回访 dialer calls on working days only)."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    days = [today + timedelta(days=n) for n in range(-3, 4)]
    lines = []
    for year in sorted({d.year for d in days}):
        weekend = [d.isoformat() for d in days if d.year == year and d.weekday() >= 5]
        holiday = next(h for h in (date(year, 1, 1), date(year, 10, 1)) if h not in days)  # a year has one
        lines += [f"[years.{year}]", 'source = "test: every day around today works"', f"holidays = [{holiday}]",
                  f"workdays = [{', '.join(weekend)}]", ""]  # fmt: skip
    return "\n".join(lines)


def agent(name: str, seat: str) -> Callable[[Frame], bool]:
    return lambda f: f.name == name and f.get("MemberName") == seat


def user_event(kind: str, status: str) -> Callable[[Frame], bool]:
    return lambda f: f.name == "UserEvent" and f.get("UserEvent") == kind and f.get("Status") == status


async def play(scene: Scene) -> None:
    """The script. Each seat is resumed for its call and paused once it answered: the queue rings whom it says."""
    control, tmp = SeatControl(scene.ami, scene.settings.queue, scene.settings.pause_reasons), scene.folder
    sip = realparts.SIP_PORT

    def keep(phone: Any) -> Any:
        scene.phones.append(phone)
        return phone

    # A: answered, the seat hangs up first, the citizen answers the survey (key 2)
    keep(await phones.hanging_up_seat_phone("8005", 500, 2000, tmp))
    a = keep(await phones.citizen_ivr_call(A, [(10000, "2")], tmp, sip_port=sip, index=21, hold_ms=30000))
    await control.resume("8005")
    await scene.until(agent("AgentConnect", "8005"), why="8005 answers A")
    await control.pause("8005", "其他")
    # B: rings out at 8006 (a miss), then 8007 answers
    keep(await realparts.seat_phone("8006", 15000, tmp))
    keep(await realparts.seat_phone("8007", 1000, tmp))
    b = keep(await realparts.citizen_call(B, 16000, tmp, index=22))
    await control.resume("8006")
    await scene.until(agent("AgentCalled", "8006"), why="8006 rings for B")
    await control.resume("8007")
    await scene.until(agent("AgentRingNoAnswer", "8006"), why="8006 misses B")
    await control.pause("8006", "其他")
    await scene.until(agent("AgentConnect", "8007"), why="8007 answers B")
    await control.pause("8007", "其他")
    # D: 8008 answers and brings the unit in (三方通话, no consult)
    keep(await realparts.seat_phone("8008", 500, tmp))
    keep(await phones.unit_phone(tmp, ring_ms=500, talk_ms=3000, name="unit-d"))
    await control.resume("8008")
    d = keep(await realparts.citizen_call(D, 8000, tmp, index=24))
    await scene.until(agent("AgentConnect", "8008"), why="8008 answers D")
    await control.pause("8008", "其他")
    await scene.post_as_seat("8008", "/api/seats/8008/threeway", {"number": UNIT, "consult": False})
    await scene.until(unit_joined, why="the unit joins D's conference")
    await scene.asterisk_point("threeway")
    # C, meanwhile: no seat free: the citizen is told so, waits in the queue and gives up
    c = keep(await realparts.citizen_call(C, 8000, tmp, index=23))
    for phone in (c,) if scene.asterisk_at == "threeway" else (a, b, c, d):  # B's, D's calls died with Asterisk
        assert await phone.wait(40) == 0, phone.errors()
    # the 回拨 of C: the dialer rings 8009, then C, who talks 3 s
    keep(await realparts.seat_phone("8009", 500, tmp))
    called = keep(await talking.called_citizen_talks(tmp, ring_ms=500, talk_ms=3000, name="called-c"))
    await control.resume("8009")
    await scene.until(user_event("HotlineCallback", "SEAT-ANSWERED"), 30, "the dialer rings 8009 for C")
    await control.pause("8009", "其他")
    if scene.asterisk_at == "callback":
        await scene.until(user_event("HotlineCallback", "ANSWERED"), 20, "C answers the 回拨")
        await scene.asterisk_point("callback")
        return
    assert await called.wait(40) == 0, called.errors()
    await scene.until(user_event("HotlineCallback", "END"), 20, "the 回拨 ends")


def unit_joined(frame: Frame) -> bool:
    return frame.name == "ConfbridgeJoin" and frame.get("Channel").startswith("PJSIP/trunk-units-")


async def run_scenario(
    settings: Settings, ami: AmiClient, folder: Path, kill: str | None, *, asterisk: Any = None,
    asterisk_at: str | None = None,
) -> Record:  # fmt: skip
    scene = Scene(settings, ami, folder, kill, asterisk=asterisk, asterisk_at=asterisk_at)
    scene.prepare()
    control = SeatControl(ami, settings.queue, settings.pause_reasons)
    for seat in SEATS:
        await control.login(seat, paused_reason="其他")
    stop = asyncio.Event()
    recorder = asyncio.create_task(faults.record_frames(ami, scene.frames, stop))
    try:
        await scene.serve()
        await play(scene)
        pure_calls, pure_misses = pure(scene.frames, scene.asterisk_killed_at)
        want = floor_tally(settings, pure_calls, pure_misses)
        await asyncio.sleep(1)  # the last events reach the service
        floor = await scene.floor_today(want)
        await scene.stop()
        tables, stored = read_tables(scene.db), await stored_calls(scene.db)
        left = [c.call_id for c in stored.values() if await faults.end_kept(ami, c.call_id) is not None]
        log = "\n".join(scene.outputs)
        if kill:  # the fault happened where it was asked for, and the keeper started the next process
            for point in kill.split(";"):
                assert f"exiting hard after {point.replace(':', ' #')}" in log, (point, log[-3000:])
            assert log.count("starting another now") == len(kill.split(";")), log[-3000:]
        return Record(tables, stored, pure_calls, pure_misses, floor, log, left, scene.asterisk_killed_at)
    finally:
        stop.set()
        await recorder
        await scene.stop()
        (folder / "service.log").write_text("\n".join(scene.outputs))  # what the service said, for a failure
        (folder / "ami.log").write_text("\n".join(f"{f.name} {dict(f.headers)}" for f in scene.frames))
        await realparts.hang_up_all(ami)
        for seat in SEATS:
            await control.logout(seat)
        for phone in scene.phones:
            await phone.stop()


def pure(
    frames: list[Frame], asterisk_killed_at: datetime | None = None
) -> tuple[dict[str, CallSnapshot], list[MissSnapshot]]:
    """The scenario's calls (by caller number) and misses as the pure call machine makes them from the events. When
    Asterisk was killed, the calls its events leave going died with it: ended `cut` then (ended_at: the kill)."""
    book = CallBook()
    misses: list[MissSnapshot] = []
    for frame in frames:
        event = ev.decode(frame)
        if event is not None:
            book.apply(event)
            if isinstance(event, ev.SeatMissed):
                misses.append(MissSnapshot(event.seat, event.channel.linkedid, event.at, None, False, 1))
    calls = {c.snap.caller_number: c.snap for c in book._calls.values() if c.snap.caller_number in (A, B, C, D)}
    if asterisk_killed_at is not None:
        calls = {n: c if c.state is CallState.ENDED else
                 replace(c, state=CallState.ENDED, outcome=CallOutcome.CUT, ended_at=asterisk_killed_at)
                 for n, c in calls.items()}  # fmt: skip
    ids = {c.call_id for c in calls.values()}
    return calls, [m for m in misses if m.call_id in ids]


def floor_tally(settings: Settings, calls: dict[str, CallSnapshot], misses: list[MissSnapshot]) -> dict[str, Any]:
    want = tally(list(calls.values()), misses, targets_of(settings))
    expected = {"total": want.total.to_json(), **{seat: f.to_json() for seat, f in want.seats.items()}}
    return {k: {n: v[n] for n in faults.COUNTS} for k, v in expected.items()}


TABLES = ("calls", "seat_misses", "callback_tasks", "callback_attempts", "threeway_attempts", "survey_results",
          "recordings")  # fmt: skip


async def stored_calls(db: Path) -> dict[str, CallSnapshot]:
    """The scenario's calls as the store reads them back (by caller number)."""
    store = await Store.open(f"sqlite+aiosqlite:///{db}", migrate=False)
    try:
        return {n: c for n in (A, B, C, D) for c in await store.recent_calls(5, caller_number=n)}
    finally:
        await store.close()


def read_tables(db: Path) -> dict[str, list[dict[str, Any]]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return {t: [dict(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in TABLES}


# ------------------------------------------------------------------------------------------------ the comparison


def ms(a: str | None, b: str | None) -> int | None:
    """b - a in ms (the stored times are ISO text), None when either is missing."""
    if a is None or b is None:
        return None
    return int((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000)


ATTEMPT_STEPS = ("seat_answered_at", "answered_at", "ended_at")


def shape(record: Record) -> dict[str, Any]:
    """The run's record with what differs between two runs of the same script taken out: ids become the calls'
    names (their caller numbers), times become durations. Durations are compared apart (within DRIFT_MS)."""
    t, label = record.tables, record.label
    calls = {
        n: {k: r[k] for k in ("state", "outcome", "queue", "seat", "misses", "estimated")}
        for n, r in record.calls().items()
    }
    misses = sorted((label(r["call_id"]), r["seat"], r["rejected"]) for r in t["seat_misses"])
    tasks = sorted((r["kind"], r["number"], r["status"], r["attempts"]) for r in t["callback_tasks"])
    attempts = sorted(
        (r["seat"], r["number"], r["outcome"], r["dial_status"], *(r[k] is not None for k in ATTEMPT_STEPS))
        for r in t["callback_attempts"]
    )
    threeway = sorted((label(r["call_id"]), r["seat"], r["number"], r["consult"], r["state"], r["outcome"],
                       r["joined_at"] is not None) for r in t["threeway_attempts"])  # fmt: skip
    surveys = sorted((label(r["call_id"]), r["seat"], r["level"], r["reason"]) for r in t["survey_results"])
    recordings = sorted((label(r["call_id"]), r["seat"], r["status"]) for r in t["recordings"])
    return {"calls": calls, "seat_misses": misses, "callback_tasks": tasks, "callback_attempts": attempts,
            "threeway_attempts": threeway, "survey_results": surveys, "recordings": recordings}  # fmt: skip


def same_length(a: int | None, b: int | None) -> bool:
    return (a is None) == (b is None) and (a is None or b is None or abs(a - b) <= DRIFT_MS)


def durations(record: Record) -> Iterator[tuple[str, int | None]]:
    """The lengths the phones decide (not A's: its survey is the service's IVR, which a fault cuts short)."""
    for n, r in sorted(record.calls().items()):
        if n != A:
            yield f"{n} talk", ms(r["answered_at"], r["ended_at"])
    for r in record.tables["callback_attempts"]:
        yield f"回拨 {r['number']} talk", ms(r["answered_at"], r["ended_at"])
    for r in record.tables["threeway_attempts"]:
        yield f"三方 {record.label(r['call_id'])} joined", ms(r["joined_at"], r["ended_at"])


# ------------------------------------------------------------------------------------------------ the tests

_REFERENCE: dict[str, Record] = {}


async def reference_run(settings: Settings, ami: AmiClient, tmp_path_factory: pytest.TempPathFactory) -> Record:
    """The fault-free run, once per test process (the fault runs compare with it)."""
    if "run" not in _REFERENCE:
        _REFERENCE["run"] = await run_scenario(settings, ami, tmp_path_factory.mktemp("reference"), None)
    return _REFERENCE["run"]


async def test_the_fault_free_run_records_the_script(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The reference itself is what the script says: four calls, a miss, a 呼损 called back, a three-way call, a
    survey, and its calls and floor equal the pure machine's."""
    ref = await reference_run(settings, ami, tmp_path_factory)
    shaped = shape(ref)
    assert {n: (c["outcome"], c["seat"], c["misses"]) for n, c in shaped["calls"].items()} == {
        A: ("answered", "8005", 0),
        B: ("answered", "8007", 1),
        C: ("abandoned", None, 0),
        D: ("answered", "8008", 0),
    }, shaped["calls"]
    assert shaped["seat_misses"] == [(B, "8006", 0)]
    assert shaped["survey_results"] == [(A, "8005", 2, "answered")]
    assert [a[:4] for a in shaped["callback_attempts"]] == [("8009", C, "answered", "ANSWER")], shaped
    assert [t[:6] for t in shaped["threeway_attempts"]] == [(D, "8008", UNIT, 0, "ended", "completed")], shaped
    assert {r[0] for r in shaped["recordings"]} >= {A, B, D}, shaped["recordings"]
    same_as_pure(settings, ref)


@pytest.mark.parametrize("run", list(RUNS))
async def test_killed_at_points_of_the_script_the_record_equals_the_fault_free_run(
    run: str, asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:  # fmt: skip
    ref = await reference_run(settings, ami, tmp_path_factory)
    got = await run_scenario(settings, ami, tmp_path / "fault", ";".join(RUNS[run]))
    same_as_pure(settings, got)
    assert got.left_in_asterisk == [], "a call's end was left in Asterisk's database"
    mine, theirs = shape(got), shape(ref)
    for table in mine:
        assert mine[table] == theirs[table], f"{table}:\n  killed: {mine[table]}\n  fault-free: {theirs[table]}"
    want = dict(durations(ref))
    for name, value in durations(got):
        assert same_length(value, want.get(name)), (name, value, want.get(name))


def same_as_pure(settings: Settings, record: Record) -> None:
    """The stored calls and misses and /api/floor equal what the pure machine makes of the same run's events. A call
    cut by Asterisk's death ended at the moment the service's link dropped: within CUT_MS of the kill, named
    estimated (no event says when)."""
    stored = record.stored_calls
    assert set(stored) == set(record.pure_calls), (set(stored), set(record.pure_calls))
    for n, want in record.pure_calls.items():
        got = stored[n]
        if want.outcome is CallOutcome.CUT and record.asterisk_killed_at is not None:
            assert got.outcome is CallOutcome.CUT and got.estimated == ("ended_at",), got
            assert got.ended_at is not None and timedelta(0) <= got.ended_at - want.ended_at <= CUT, got  # type: ignore[operator]
            got = replace(got, ended_at=want.ended_at, estimated=())
        faults.same_record(got, want)
    got_misses = sorted((record.label(r["call_id"]), r["seat"]) for r in record.tables["seat_misses"])
    want_misses = sorted((next(n for n, c in record.pure_calls.items() if c.call_id == m.call_id), m.seat)
                         for m in record.pure_misses)  # fmt: skip
    assert got_misses == want_misses
    assert record.floor == floor_tally(settings, record.pure_calls, record.pure_misses)


ASTERISK_KILLS = ("threeway", "callback")  # D talks with the unit in the conference; C talks with 8009 on the 回拨


@pytest.mark.parametrize("point", ASTERISK_KILLS)
async def test_asterisk_killed_at_a_point_of_the_script_cuts_only_what_was_live(
    point: str, asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:  # fmt: skip
    """Asterisk SIGKILLed (no hangup handler runs) and started again, the script going on: while the unit talks in
    D's three-way conference (B talks at 8007 then too), or while C talks on the 回拨. The calls that died with it
    end `cut` at the moment the service's link dropped (same_as_pure); the three-way attempt on D ends with its
    call; the 回拨's attempt stays answered (the citizen did answer) with no Dial status (Asterisk never gave one).
    The rest equals the fault-free run. Differences stated: a cut call's recording is what MixMonitor had written
    when Asterisk died (a call of seconds may be an empty file), so its status is not compared; the lengths of cut
    talks are not compared (they were cut)."""
    ref = await reference_run(settings, ami, tmp_path_factory)
    got = await run_scenario(settings, ami, tmp_path / "fault", None, asterisk=asterisk, asterisk_at=point)
    same_as_pure(settings, got)
    assert got.left_in_asterisk == [], "a call's end was left in Asterisk's database"
    mine, theirs = shape(got), shape(ref)
    cut = {B, D} if point == "threeway" else set()
    for name in cut:
        assert (mine["calls"][name]["outcome"], mine["calls"][name]["estimated"]) == ("cut", "ended_at")
        mine["calls"][name] = theirs["calls"][name]
    mine["recordings"] = [r[:2] if r[0] in cut else r for r in mine["recordings"]]
    theirs["recordings"] = [r[:2] if r[0] in cut else r for r in theirs["recordings"]]
    if point == "callback":
        (attempt,) = mine["callback_attempts"]
        assert attempt[:4] == ("8009", C, "answered", None), attempt
        mine["callback_attempts"] = [(*attempt[:3], "ANSWER", *attempt[4:])]
    for table in mine:
        assert mine[table] == theirs[table], f"{table}:\n  killed: {mine[table]}\n  fault-free: {theirs[table]}"
    want = dict(durations(ref))
    for name, value in durations(got):
        if name.split()[-2] in cut or (point == "callback" and name.startswith("回拨")):
            continue  # cut short
        assert same_length(value, want.get(name)), (name, value, want.get(name))
