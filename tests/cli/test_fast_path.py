"""`spo due` takes a quick road on SQLite; it must say exactly what the full command says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Result, Spo, invoke

CASES = [
    ("--all",),
    ("--officer", "om1@force.example"),
    ("--officer", "OM1@force.example"),
    ("--team", "North"),
    ("--subject", "S-001"),
    ("--rule", "initial-visit", "--all"),
    ("--overdue", "--all"),
    ("--include-done", "--all"),
    ("--within", "800", "--all"),
    ("--within", "0", "--all"),
    ("--as", "ds1@force.example"),
    ("--as", "om1@force.example"),
    ("--as", "nobody"),
    ("--officer", "missing@force.example"),
    ("--rule", "bogus", "--all"),
    ("--as-of", "2026-02-30", "--all"),
    ("--all", "--team", "North"),
]


def both_ways(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, Result]:
    monkeypatch.delenv("SPO_NO_FAST_PATH", raising=False)
    fast = invoke("due", *args)
    monkeypatch.setenv("SPO_NO_FAST_PATH", "1")
    full = invoke("due", *args)
    monkeypatch.delenv("SPO_NO_FAST_PATH")
    return fast, full


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c))
@pytest.mark.parametrize("as_json", [True, False])
def test_the_quick_road_says_exactly_what_the_full_command_says(
    caseload: Spo, monkeypatch: pytest.MonkeyPatch, case: tuple[str, ...], as_json: bool
) -> None:
    caseload("visit", "add", "S-001", "--date", "2026-03-05")
    args = (*case, "--as-of", "2026-03-08") if "--as-of" not in case else case
    if as_json:
        args = (*args, "--json")
    fast, full = both_ways(monkeypatch, *args)
    assert (fast.code, fast.out, fast.err) == (full.code, full.out, full.err)


def test_the_quick_road_does_not_load_the_database_libraries(caseload: Spo, db_path: Path) -> None:
    code = (
        "import sys, io, contextlib\n"
        "from spo_tracker.cli import run\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    status = run(['due', '--all', '--json', '--as-of', '2026-03-08'])\n"
        "print(status, sorted(m for m in ('sqlalchemy', 'sqlmodel', 'typer', 'alembic') "
        "if m in sys.modules), '\"S-001\"' in out.getvalue())\n"
    )
    env = dict(os.environ, SPO_DB=str(db_path))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0 [] True"


@pytest.mark.parametrize(
    ("head", "items"),
    [
        ({"schema_version": 1, "as_of": "2026-11-23", "known_at": None}, []),
        ({"a": 1}, [{"x": [1, {"y": "é\n"}], "z": None}, {}, [], "s"]),
        ({}, [{"only": True}]),
    ],
)
def test_streamed_json_is_the_same_text_as_the_whole_document(
    head: dict[str, object], items: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from spo_tracker.cli.views import write_json_stream

    write_json_stream(head, "actions", iter(items))
    text = capsys.readouterr().out
    assert text == json.dumps(head | {"actions": items}, indent=2, ensure_ascii=False) + "\n"
