"""The seat page's ES modules (hotline/static/seat/*.js, no build step): served by the seat routes, public like the
page, only plain names of that folder; seat.html loads main.js and has no inline script left; every import names a
module (and an export) that exists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ami_bridge.bridge import Bridge
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from hotline import access
from hotline.api import errors
from hotline.bus import InProcessBus
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.recordings.qaauth import QaAuth
from hotline.seats.auth import SeatAuth
from hotline.seats.http import ASSET_NAME, ASSETS, PAGE, add_routes

KEY = b"k" * 32
MODULES = sorted(ASSETS.glob("*.js"))
IMPORT = re.compile(r'^import\s*(?:\{([^}]*)\}\s*from\s*)?"([^"]+)";', re.M)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|const|let|class)\s+([\w$]+)", re.M)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The seat routes behind the real access guard (so "no login needed" is the guard's answer too)."""
    bus = InProcessBus()
    bridge = Bridge(client=None, bus=bus, rule=RingRule(reason="未接"))  # type: ignore[arg-type]
    seats = SeatAuth(KEY, {"8001": "pw-8001"})
    app = web.Application(middlewares=[errors, access.guard])
    app[access.ACCESS] = access.Access(seats, QaAuth(KEY, tmp_path / "staff.json"))
    control = SeatControl(None, "hotline", ("小休", "未接"))  # type: ignore[arg-type]
    add_routes(app, control, BridgeLive(bridge), bus, auth=seats, pops=MemoryPops())
    async with TestClient(TestServer(app)) as c:
        yield c


def test_the_modules_are_there_with_names_the_route_serves() -> None:
    names = [m.name for m in MODULES]
    assert "main.js" in names and len(names) > 1
    assert [n for n in names if not ASSET_NAME.fullmatch(n)] == []
    assert sorted(p.name for p in ASSETS.iterdir()) == names  # nothing else in the folder


async def test_each_module_is_served_as_javascript_without_a_login(client: TestClient[Any, Any]) -> None:
    for module in MODULES:
        async with client.get(f"/static/seat/{module.name}") as resp:
            assert resp.status == 200, (module.name, await resp.text())
            assert resp.content_type in ("text/javascript", "application/javascript"), module.name
            assert resp.charset == "utf-8"
            assert resp.headers["Cache-Control"] == "no-cache"
            assert await resp.read() == module.read_bytes()
    async with client.get("/seat") as resp:  # the page itself, as before
        assert resp.status == 200 and "/static/seat/main.js" in await resp.text()


@pytest.mark.parametrize(
    "name",
    [
        "nope.js",  # a plain name, but no such module
        "..%2Fseat.html",  # out of the folder
        "..%2F..%2Fseats%2Fhttp.py",
        "%2E%2E%2Fseat.html",
        "x.py",
        "Main.js",
        "main.JS",
        "main.js.map",
        ".main.js",
        "main.js%00",
    ],
)
async def test_unknown_names_and_traversal_are_404(client: TestClient[Any, Any], name: str) -> None:
    async with client.get(f"/static/seat/{name}") as resp:
        assert resp.status == 404, (name, await resp.text())
    async with client.get(f"/static/seat/{name}", headers={"Authorization": "Bearer nonsense"}) as resp:
        assert resp.status == 404, name  # open: a token is not even looked at


def test_the_page_has_no_inline_script_left() -> None:
    html = PAGE.read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>.*?</script>", html, re.S) == [
        '<script type="module" src="/static/seat/main.js"></script>'
    ]
    assert re.findall(r"<[^>]*\son[a-z]+\s*=", html) == []  # no inline handlers (onclick=...): modules wire them


def test_every_import_names_a_module_and_export_that_exist() -> None:
    exports = {m.name: set(EXPORT.findall(m.read_text(encoding="utf-8"))) for m in MODULES}
    reached, todo = set(), ["main.js"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        source = (ASSETS / name).read_text(encoding="utf-8")
        assert "import(" not in source  # static imports only: this test sees them all
        for names, spec in IMPORT.findall(source):
            assert spec.startswith("./"), (name, spec)
            target = spec.removeprefix("./")
            assert target in exports, f"{name} imports {spec}, which is not a module of static/seat/"
            wanted = {n.strip() for n in names.split(",") if n.strip()}
            assert wanted <= exports[target], f"{name} imports {sorted(wanted - exports[target])} from {spec}"
            todo.append(target)
        assert len(IMPORT.findall(source)) == len(re.findall(r"^\s*import\b", source, re.M)), name  # all read
    assert reached == set(exports)  # every module is loaded from main.js
