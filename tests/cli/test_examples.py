"""Every example a user reads runs as printed: the README's ``sh`` blocks, in order, and the
example line of every command's ``--help``; none ends in a traceback, and each exits as the
README documents (0 for all but the few named here, which refuse by design)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import Result, Spo, invoke

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo" / "caseload.json"
# Examples that never finish (services) or reach outside the test: not run.
NOT_RUN = ("spo run\n", "spo serve", "spo calendar check https://", "spo restore /var/")
# Examples that refuse by design in the README's own story, and the status they exit with.
REFUSED = {
    "spo backup /var/backups": 2,  # no such folder here
    "spo policy check my-force.toml": 2,  # a file the reader makes
    "spo calendar token revoke 3": 3,  # only two tokens in this story
    "spo outbox retry 42": 3,  # no such message in this story
    "spo import data/demo/caseload.json --dry-run": 2,  # into the story's own subjects
}


# Commands that report problems on stdout and exit 1 when they find any (monitoring's way).
REPORTS = ("spo doctor", "spo status")
# Commands that list every error of their input, a line each (the README says so).
LISTS_ERRORS = ("spo import",)


def readme_examples() -> list[tuple[str, str]]:
    """(section, command line) for each spo line of each sh block, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    section = ""
    for block in re.finditer(r"^(#+ [^\n]*)$|^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        if block.group(1):
            heading = block.group(1)
            section = (
                heading if heading.startswith("## ") else f"{section.split(' / ')[0]} / {heading}"
            )
            continue
        for line in block.group(2).splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("spo ") or line.startswith("export "):
                found.append((section, line))
    return found


def run_line(line: str, env: dict[str, str]) -> Result:
    words = shlex.split(line.split(" > ")[0])
    return invoke(
        *(
            w.replace("$(date +%F)", "2026-11-23").replace("data/demo/", f"{DEMO.parent}/")
            for w in words[1:]
        )
    )


def expected(line: str) -> int:
    return next((code for start, code in REFUSED.items() if line.startswith(start)), 0)


def check(line: str, result: Result) -> list[str]:
    problems = []
    if "Traceback" in result.out + result.err:
        problems.append("a traceback")
    if result.code != expected(line):
        problems.append(f"exit {result.code}, expected {expected(line)}: {result.err.strip()}")
    several = line.startswith(REPORTS + LISTS_ERRORS)
    if result.code and not several and result.err.count("\n") != 1:
        problems.append(f"not one line on stderr: {result.err!r}")
    return problems


def test_every_readme_example_runs_as_printed(
    spo: Spo, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPO_MAILDIR", str(tmp_path / "maildir"))
    monkeypatch.setenv("SPO_SCU_EMAIL", "scu@force.example")  # as the README's settings file
    failures = []
    ran = 0
    chapter = ""
    for section, line in readme_examples():
        top = section.split(" / ")[0]
        if top != chapter:  # each chapter's story starts on the README's own database
            chapter = top
            monkeypatch.setenv("SPO_DB", db_url)
            monkeypatch.setenv("SPO_USER", "tester")
        if line.startswith("export "):
            for name, value in (w.split("=", 1) for w in shlex.split(line)[1:]):
                if name == "SPO_DB":
                    # the walk-through's demo database; the deployment section's officer (on
                    # PostgreSQL there, run by tests/integration/test_readme_postgres.py) is
                    # one of the demo's too, so here that example runs on it, on SQLite
                    demo = tmp_path / "demo.db"
                    monkeypatch.setenv("SPO_DB", str(demo))
                    if not demo.exists():
                        assert invoke("init").code == 0
                        assert invoke("import", str(DEMO)).code == 0
                elif name != "PGPASSWORD":
                    monkeypatch.setenv(name, value)
            continue
        if any(line.startswith(skip) or line + "\n" == skip for skip in NOT_RUN):
            continue
        ran += 1
        result = run_line(line, {})
        failures += [f"{section}: {line}: {p}" for p in check(line, result)]
    assert ran > 60
    assert failures == [], "\n".join(failures)


def help_examples() -> list[str]:
    """``Example: spo ...`` from the help of every command (continued on indented lines)."""
    from spo_tracker.entry.cli import _command
    from spo_tracker.entry.cli.app import app

    found: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
            return
        text = getattr(command, "help", "") or ""
        match = re.search(r"Example: (spo .*?)(?:\n\n|\Z)", text, re.DOTALL)
        assert match, f"spo {' '.join(path)} has no example in its help"
        found.append(" ".join(match.group(1).split()))

    walk(_command(app), [])
    return found


def test_every_help_example_runs_without_a_traceback(
    spo: Spo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spo("import", str(DEMO))
    monkeypatch.setenv("SPO_USER", "scu@force.example")
    examples = help_examples()
    assert len(examples) > 40
    for line in examples:
        if line.startswith(("spo run", "spo serve")) and "--once" not in line:
            continue
        result = run_line(line, {})
        assert "Traceback" not in result.out + result.err, line
        assert result.code in (0, 1, 2, 3, 4), line
        if result.code and not line.startswith(REPORTS):
            assert result.err.startswith("error: "), (line, result.err)
            if not line.startswith(LISTS_ERRORS):
                assert result.err.count("\n") == 1, (line, result.err)
