"""The layout the README's architecture section draws, held by the imports themselves.

core: pure (the standard library and dateutil only, never the clock); adapters and store:
the core and themselves; app: the core, the store, the adapters and the settings; entry
points (CLI, scheduler, HTTP): the use cases and the composition root only. No database
library outside the store and the composition root; one place makes engines; one unit of
work; nothing imports the entry points.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "spo_tracker"
DATABASE_LIBRARIES = {"sqlalchemy", "sqlmodel", "sqlite3", "psycopg2", "alembic"}
DATE_LIBRARIES = {"dateutil"}
CLOCK_READS = (
    "datetime.now",
    "date.today",
    "datetime.today",
    "utcnow",
    "time.time(",
    "time.monotonic",
    "time.perf_counter",
    ".now(",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found |= {f"{prefix}.{alias.name}" for alias in node.names}
    return found


def ours(names: set[str]) -> set[str]:
    return {n for n in names if n == "spo_tracker" or n.startswith("spo_tracker.")}


def modules(*folders: str) -> list[Path]:
    found = []
    for folder in folders:
        target = PACKAGE / folder
        found += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return [p for p in found if "migrations" not in p.parts]


def layer(name: str) -> str:
    """The layer a module of ours belongs to."""
    parts = name.split(".")
    if len(parts) == 1:
        return "package"
    return parts[1]


def test_the_core_imports_only_itself_the_standard_library_and_dates() -> None:
    for path in modules("core"):
        for name in imports(path):
            top = name.split(".")[0]
            if top == "spo_tracker":
                assert name.startswith("spo_tracker.core"), f"{path.name} imports {name}"
            else:
                allowed = top in sys.stdlib_module_names or top in DATE_LIBRARIES
                assert allowed or top == "__future__", f"{path.name} imports {name}"


def test_the_core_never_reads_the_clock() -> None:
    for path in modules("core"):
        text = path.read_text(encoding="utf-8")
        for call in CLOCK_READS:
            assert call not in text, f"{path.relative_to(ROOT)} reads the clock via {call}"


@pytest.mark.parametrize(
    ("folder", "may_import"),
    [
        ("store", {"core", "store"}),
        ("adapters", {"core", "adapters"}),
        ("app", {"core", "store", "adapters", "app", "config"}),
        ("entry", {"app", "bootstrap", "entry", "package"}),
    ],
)
def test_each_layer_imports_only_the_layers_beneath_it(folder: str, may_import: set[str]) -> None:
    for path in modules(folder):
        for name in ours(imports(path)):
            if name == "spo_tracker.__version__":
                continue
            assert layer(name) in may_import, f"{path.relative_to(ROOT)} imports {name}"


def test_no_database_library_outside_the_store_and_the_composition_root() -> None:
    for path in modules("core", "adapters", "app", "entry", "config.py"):
        used = {n.split(".")[0] for n in imports(path)} & DATABASE_LIBRARIES
        assert used == set(), f"{path.relative_to(ROOT)} imports {used}"


def test_one_place_makes_engines_and_one_unit_of_work() -> None:
    makers, callers, sessions = set(), set(), set()
    for path in modules("."):
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(PACKAGE))
        if "create_engine(" in text:
            makers.add(where)
        if "make_engine(" in text and "def make_engine(" not in text:
            callers.add(where)
        if "Session(" in text:
            sessions.add(where)
    assert makers == {"store/db.py"}
    assert callers == {"bootstrap.py"}
    assert sessions == {"bootstrap.py"}


def test_nothing_imports_the_entry_points() -> None:
    for path in modules("core", "store", "adapters", "app", "bootstrap.py", "config.py"):
        entry = {n for n in ours(imports(path)) if layer(n) == "entry"}
        assert entry == set(), f"{path.relative_to(ROOT)} imports {entry}"


def test_the_architecture_rules_see_relative_imports(tmp_path: Path) -> None:
    source = PACKAGE / "app" / "deadlines.py"
    found = ours(imports(source))
    assert "spo_tracker.core.rules" in found
    assert "spo_tracker.app" in found  # "from . import Context"
    assert layer("spo_tracker.store.read") == "store"


def _loaded_after(args: list[str], env: dict[str, str]) -> set[str]:
    code = (
        "import sys, contextlib, io\n"
        "from spo_tracker.entry.cli import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = run({args!r})\n"
        "assert code == 0, code\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlmodel', 'sqlalchemy', 'alembic', 'jsonschema'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_help_and_reads_do_not_import_the_database_layer(tmp_path: Path) -> None:
    db = tmp_path / "spo.db"
    env = {**os.environ, "SPO_DB": str(db), "SPO_USER": "tester", "COLUMNS": "200"}
    env["SPO_ACCESS_CONTROL"] = "false"  # "tester" is no officer: an empty database
    assert _loaded_after(["--help"], env) == set()
    init = "from spo_tracker.entry.cli import run; raise SystemExit(run(['init']))"
    subprocess.run([sys.executable, "-c", init], env=env, check=True, capture_output=True)
    for args in (["due", "--all"], ["subject", "list"], ["officer", "list"], ["audit"]):
        assert _loaded_after(args, env) == set(), args
