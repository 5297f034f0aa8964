"""The functional core stays pure; the CLI stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "spo_tracker"
PURE = ["domain.py", "dates.py", "errors.py", "timeline.py"]
FORBIDDEN = {
    "sqlmodel",
    "sqlalchemy",
    "typer",
    "jinja2",
    "apscheduler",
    "aiosmtplib",
    "icalendar",
    "rich",
    "alembic",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pure_modules_import_no_adapters() -> None:
    for name in PURE:
        assert imported_modules(PACKAGE / name) & FORBIDDEN == set(), name


def test_pure_modules_never_read_the_clock() -> None:
    for name in PURE:
        text = (PACKAGE / name).read_text()
        for call in ("datetime.now", "date.today", "time.time", ".now("):
            assert call not in text, f"{name} reads the clock via {call}"


def test_nothing_imports_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text()
        for forbidden in ("spo_tracker.cli", "from .cli", "from ..cli", "from . import cli"):
            assert forbidden not in text, f"{path} imports the CLI"


def test_help_does_not_import_the_database_layer() -> None:
    code = (
        "import sys\n"
        "from spo_tracker.cli import run\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    run(['--help'])\n"
        "print(sorted(m for m in ('sqlmodel', 'sqlalchemy', 'alembic', 'jsonschema') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
