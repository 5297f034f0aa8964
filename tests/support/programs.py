"""Every program outside Python that the test suite starts, and where a fresh machine gets it.

``scripts/test`` installs the ``scripts/test`` ones when they are missing (the list in
``scripts/_tools``); the ``image`` ones come with the machine CI and a new developer start
from (Python 3.11, pip, git and Debian's PostgreSQL 15), as the README's "Two commands"
section says; ``project`` ones are this project's own (its virtualenv). The conftest records
each program a test starts and fails the run on one not listed here, and
``tests/unit/test_programs.py`` holds the lists, the script and the README together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    provided_by: str  # "scripts/test" | "image" | "project"
    package: str  # the Debian package (or what provides it)
    used_for: str


PROGRAMS: dict[str, Program] = {
    "wrk": Program("scripts/test", "wrk", "the feed benchmark's load client"),
    "task": Program("scripts/test", "taskwarrior", "the Taskwarrior peer benchmark"),
    "initdb": Program("image", "postgresql-15", "a throwaway PostgreSQL cluster"),
    "pg_ctl": Program("image", "postgresql-15", "starting and stopping that cluster"),
    "runuser": Program("image", "util-linux", "running PostgreSQL as postgres under root"),
    "createuser": Program("image", "postgresql-client-15", "the README's PostgreSQL roles"),
    "createdb": Program("image", "postgresql-client-15", "the README's PostgreSQL database"),
    "psql": Program("image", "postgresql-client-15", "the README's PostgreSQL grants"),
    "pg_dump": Program("image", "postgresql-client-15", "the README's PostgreSQL backup"),
    "pg_restore": Program("image", "postgresql-client-15", "the README's PostgreSQL restores"),
    "bash": Program("image", "bash", "running the README's shell blocks as written"),
    "apt-get": Program("image", "apt", "installing Taskwarrior from the peer benchmark"),
    "sudo": Program("image", "sudo", "the same, when not root (never under CI, which is root)"),
    "python": Program("project", ".venv", "child Python processes (benchmarks, start-up)"),
    "spo": Program("project", ".venv", "the console script, run as a real process"),
}


def program_name(executable: object) -> str:
    """``/usr/lib/postgresql/15/bin/pg_ctl`` -> ``pg_ctl``; any ``python3.11`` -> ``python``."""
    if isinstance(executable, bytes):
        executable = executable.decode(errors="replace")
    name = str(executable).rsplit("/", 1)[-1]
    if name.startswith("python"):
        return "python"
    return name


def unlisted(started: set[str]) -> list[str]:
    """The programs in ``started`` that the list above does not know."""
    return sorted(started - set(PROGRAMS))
