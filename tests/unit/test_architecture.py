"""The layers hold: import-linter's contracts (pyproject.toml [tool.importlinter]) pass with no ignored import,
and the same contracts break on a tree that imports backwards (so this test can fail)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", "pyproject.toml", "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_contracts_hold_with_no_ignored_import() -> None:
    for contract in CONTRACTS["contracts"]:
        assert not contract.get("ignore_imports"), f"{contract['name']!r} ignores imports: fix the imports instead"
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CONTRACTS['contracts'])} kept, 0 broken" in done.stdout


def layer_modules() -> list[str]:
    """Every module the layers contract names."""
    layers = [c for c in CONTRACTS["contracts"] if c["type"] == "layers"]
    return [m.strip() for c in layers for layer in c["layers"] for m in layer.replace("|", ":").split(":")]


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    for file, text in files.items():
        (root / name / file).write_text(textwrap.dedent(text))


def test_the_same_contracts_break_on_backward_imports(tmp_path: Path) -> None:
    """The bridge importing the bus, the IVR importing a feature, the web reading the bridge, the core's settings
    importing a feature, two files of one package importing each other."""
    _package(tmp_path, "ami_bridge", {"bridge.py": "from hotline import bus\n", "calls.py": "", "seats.py": ""})
    _package(tmp_path, "ivr", {"server.py": "import hotline.survey\n"})
    subs = {a.split(".")[1] for c in CONTRACTS["contracts"] for a in c.get("ancestors", []) if "." in a}
    top = {f"{name[8:]}.py": "" for name in layer_modules() if name.startswith("hotline.") and name[8:] not in subs}
    _package(tmp_path, "hotline", top | {"web.py": "from ami_bridge.bridge import Bridge\n"})
    (tmp_path / "hotline" / "settings.py").write_text("from hotline.callbacks import schedule\n")
    for sub in subs:
        _package(tmp_path / "hotline", sub, {"http.py": ""} if sub in ("seats", "floor") else {})
    (tmp_path / "hotline" / "recordings" / "a.py").write_text("from . import b\n")
    (tmp_path / "hotline" / "recordings" / "b.py").write_text("from . import a\n")
    (tmp_path / "hotline" / "callbacks" / "schedule.py").write_text("")
    lines = ["[tool.importlinter]", 'root_packages = ["ami_bridge", "hotline", "ivr"]']
    toml = (ROOT / "pyproject.toml").read_text()
    start = toml.index("[[tool.importlinter.contracts]]")
    end = toml.index("\n[tool.", start)
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n\n" + toml[start:end])
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert f"0 kept, {len(CONTRACTS['contracts'])} broken" in done.stdout, done.stdout
    assert "ami_bridge.bridge -> hotline.bus" in done.stdout
    assert "ivr.server -> hotline.survey" in done.stdout
    assert "hotline.web -> ami_bridge.bridge" in done.stdout
    assert "hotline.settings -> hotline.callbacks.schedule" in done.stdout


def imports_of_other_tests(path: Path) -> list[str]:
    """The test modules (and conftest files) of this suite that the module at `path` imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if not (node.level or base.startswith("tests")):
                continue
            modules = [base, *(f"{base}.{a.name}" if node.module else f"{base}{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names if a.name.startswith("tests")]
        else:
            continue
        found += [m for m in modules if any(p.startswith(("test_", "conftest")) for p in m.split("."))]
    return found


def test_no_test_module_imports_another() -> None:
    """What two tests share lives in tests/helpers/, so a test module can move or go without breaking another."""
    tests = [p for p in (ROOT / "tests").rglob("*.py") if "helpers" not in p.parts]
    offenders = {str(p.relative_to(ROOT)): imports_of_other_tests(p) for p in tests}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(tests) > 50  # the scan saw the suite


def test_the_scan_sees_an_import_of_another_test(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("from .test_real_call import wait_for\nfrom tests.integration import conftest\nimport os\n")
    assert imports_of_other_tests(sample) == [
        ".test_real_call",
        ".test_real_call.wait_for",
        "tests.integration.conftest",
    ]
