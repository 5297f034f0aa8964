"""What the README's install gives an operator: every library a command imports to do its whole
job is a dependency of spo itself, not of the test extras."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def distributions(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_calendar_check_parsers_come_with_the_readme_install() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = distributions(project["dependencies"])
    # spo calendar check runs the strict ical parser and recurring-ical-events
    assert {"icalendar", "ical", "recurring-ical-events"} <= installed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "pip install -e ." in install
