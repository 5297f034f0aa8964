"""Every command explains itself, with an example, and the README documents it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from spo_tracker.entry.cli.app import app
from tests.conftest import invoke

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(typer.main.get_command(app), [])
    return found


def test_there_are_commands() -> None:
    assert len(all_commands()) >= 25


def test_every_command_has_help_with_an_example() -> None:
    for path in all_commands():
        result = invoke(*path, "--help")
        assert result.code == 0, path
        assert "Example: spo " in result.out, f"spo {' '.join(path)} --help has no example"


def test_every_command_appears_in_the_readme() -> None:
    for path in all_commands():
        assert f"spo {' '.join(path)}" in README, f"README does not document spo {' '.join(path)}"


def test_installed_console_script_runs() -> None:
    spo = Path(sys.executable).with_name("spo")
    result = subprocess.run([str(spo), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("spo-tracker ")


def test_usage_errors_are_one_line_with_status_2() -> None:
    result = invoke("visit", "add", "S-1")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "--date" in result.err


def test_top_level_help_is_laid_out_by_typer_for_the_terminal() -> None:
    """``spo --help`` comes from Typer itself (no stored copy): it lists every command and
    follows the terminal's width."""
    import os
    import subprocess
    import sys

    def shown(columns: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "benchmarks.spo_main", "--help"],
            capture_output=True,
            text=True,
            env=os.environ | {"COLUMNS": columns},
            check=True,
        ).stdout

    wide, narrow = shown("100"), shown("60")
    for command in ("due", "explain", "visit", "calendar", "retention"):
        assert f"\n  {command} " in wide
    assert wide != narrow
    assert max(len(line) for line in narrow.splitlines()) <= 60
