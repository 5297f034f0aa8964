"""The README's PostgreSQL deployment, run as an operator would run it: its blocks are read out
of README.md (not copied here) and run against a real server started from the machine's
binaries, whose TCP logins must prove their passwords (scram-sha-256).

What a throwaway server forces on the text, and nothing more, is substituted: its address
for ``db.force.example:5432``, no TLS (``sslmode=disable``: it has no certificate), the
passwords this test gave the roles for the ``<ROLE's password>`` placeholders, a temporary
folder for ``/etc/spo-tracker``, this checkout's ``spo`` for ``/opt/spo-tracker``, a free port
for the feed port, and a fixed day for ``$(date +%F)``. systemd itself is not run: each unit's
``EnvironmentFile=`` and ``Environment=`` lines make the environment its ``ExecStart`` runs in.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.postgres import Server, connection, free_port, rows, running_server

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPO = str(Path(sys.executable).with_name("spo"))
DAY = "2026-11-23"
PASSWORDS = {
    "spo_owner": "owner pass 1",
    "spo_service": "service-pass-2",
    "harriet_hollis": "officer'pass 3",
}


# ------------------------------------------------------------------------------ the README


def section() -> str:
    start = README.index("### PostgreSQL: one database for a force or a region")
    return README[start : README.index("\n## ", start) if "\n## " in README[start:] else None]


def blocks() -> list[str]:
    return [m.group(1) for m in re.finditer(r"```\w*\n(.*?)```", section(), re.DOTALL)]


def block(containing: str) -> str:
    found = [b for b in blocks() if containing in b and not b.startswith("# /")]
    assert len(found) == 1, (
        f"the README's PostgreSQL section has {len(found)} blocks with {containing!r}"
    )
    return found[0]


def files() -> dict[str, str]:
    """The blocks that are files: the first line names the path."""
    named: dict[str, str] = {}
    for text in blocks():
        first, _, rest = text.partition("\n")
        if first.startswith("# /"):
            named[first[2:].strip()] = rest
    return named


def prose(pattern: str) -> str:
    """An inline command of the README's prose, its line breaks undone."""
    text = re.sub(r"```.*?```", "", section(), flags=re.DOTALL)  # the prose only
    found = [" ".join(m.split()) for m in re.findall(r"`([^`]+)`", text)]
    matching = [f for f in found if re.search(pattern, f)]
    assert matching, f"the README's PostgreSQL section has no `{pattern}`"
    return matching[0]


def commands(text: str) -> list[str]:
    """A shell block as its commands: one a line, a here-document kept with its command."""
    out: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip():
            continue
        heredoc = re.search(r"<<'(\w+)'", line)
        if heredoc:
            body = []
            for more in lines:
                body.append(more)
                if more == heredoc.group(1):
                    break
            line = "\n".join([line, *body])
        out.append(line)
    return out


# ------------------------------------------------------------------------------ running it


class Deployment:
    def __init__(self, server: Server, root: Path) -> None:
        self.server, self.root = server, root
        self.etc = root / "etc"
        self.etc.mkdir()
        self.feed_port = free_port()

    def sub(self, text: str) -> str:
        port = self.server.port
        text = text.replace(
            "--host=db.force.example --port=5432", f"--host=127.0.0.1 --port={port}"
        )
        text = text.replace("db.force.example:5432", f"127.0.0.1:{port}")
        text = text.replace("sslmode=verify-full", "sslmode=disable")
        text = text.replace("/etc/spo-tracker/", f"{self.etc}/")
        text = text.replace("/opt/spo-tracker/.venv/bin/spo", SPO)
        text = text.replace("$(date +%F)", DAY)
        text = text.replace("SPO_FEED_PORT=8081", f"SPO_FEED_PORT={self.feed_port}")
        for role, password in PASSWORDS.items():
            text = text.replace(f"<{role}'s password>", password)
        assert "db.force.example" not in text, text
        assert "password>" not in text, text
        return text

    def base_env(self, home: str = "home") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPO_", "PG"))}
        (self.root / home).mkdir(exist_ok=True)
        env["HOME"] = str(self.root / home)
        env["PATH"] = f"{Path(SPO).parent}:{self.server.bindir}:{env['PATH']}"
        env["XDG_DATA_HOME"] = str(self.root / home / "data")
        return env

    def shell(
        self, script: str, env: dict[str, str], *, stdin: str = "", cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", self.sub(script)],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd or self.root,
            start_new_session=True,  # no terminal: a --pwprompt reads the password from stdin
        )
        assert result.returncode == 0, f"{script}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        return result

    def superuser(self, script: str, *, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """As the PostgreSQL superuser on the server (sudo -u postgres -i)."""
        env = self.base_env()
        env.update(PGHOST=str(self.server.sockets), PGPORT=str(self.server.port), PGUSER="postgres")
        return self.shell(script, env, stdin=stdin)

    def write_files(self) -> None:
        for path, text in files().items():
            if path.startswith("/etc/spo-tracker/"):
                target = Path(self.sub(path))
                target.write_text(self.sub(text))
                target.chmod(0o640)
        # the service's settings file (its own README block names a real mail server)
        (self.etc / "spo.toml").write_text(f'maildir = "{self.root / "maildir"}"\n')

    def unit(self, name: str) -> tuple[dict[str, str], list[str]]:
        """The environment and the ExecStart command of a unit (``%i`` filled in)."""
        text = files()[
            f"/etc/systemd/system/{name.split('@')[0]}{'@' if '@' in name else ''}.service"
        ]
        instance = name.split("@", 1)[1] if "@" in name else ""
        env = self.base_env("service")
        command: list[str] = []
        for line in self.sub(text.replace("%i", instance)).splitlines():
            key, _, value = line.partition("=")
            if key == "EnvironmentFile":
                for entry in Path(value.lstrip("-")).read_text().splitlines():
                    if entry and not entry.startswith("#"):
                        k, _, v = entry.partition("=")
                        env[k] = v
            elif key == "Environment":
                k, _, v = value.partition("=")
                env[k] = v
            elif key == "ExecStart":
                command = value.split()
        assert command, f"{name} has no ExecStart"
        return env, command


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(superuser="postgres", host_auth="scram-sha-256") as started:
        for tool in (
            started.bindir / "createuser",  # type: ignore[operator]
            started.bindir / "createdb",  # type: ignore[operator]
            started.bindir / "psql",  # type: ignore[operator]
            started.bindir / "pg_dump",  # type: ignore[operator]
            started.bindir / "pg_restore",  # type: ignore[operator]
        ):
            assert tool.exists(), tool
        yield started


def spo_json(env: dict[str, str], *args: str) -> object:
    done = subprocess.run([SPO, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def spo_out(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([SPO, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def connect_as(server: Server, role: str, database: str = "spo") -> Any:
    return connection(
        host="127.0.0.1", port=server.port, user=role, password=PASSWORDS[role], dbname=database
    )


def feed_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/calendars/none.ics").status_code == 404
    except httpx.TransportError:
        return False


def test_the_readme_postgresql_deployment_works_as_written(server: Server, tmp_path: Path) -> None:
    import psycopg2
    import psycopg2.errors

    deployment = Deployment(server, tmp_path)
    # 1. the roles and the database, as the superuser; each --pwprompt answered twice
    for command in commands(block("createuser")):
        role = re.search(r"--pwprompt .*?(\w+)\s*(#.*)?$", command)
        stdin = ""
        if role:
            password = PASSWORDS[role.group(1)]
            stdin = f"{password}\n{password}\n"
        deployment.superuser(command, stdin=stdin)
    # a role with no password of its own cannot log in over TCP: the passwords are real
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(
            host="127.0.0.1", port=server.port, user="spo_service", password="wrong", dbname="spo"
        )

    # 2. the environment files, and the upgrade unit, run from two hosts at once
    deployment.write_files()
    env, command = deployment.unit("spo-tracker-upgrade")
    upgrades = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), p.communicate()) for p in upgrades]
    assert [code for code, _ in results] == [0, 0], results
    with connect_as(server, "spo_owner") as conn:
        owners = {
            r[0] for r in rows(conn, "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")
        }
    assert owners == {"spo_owner"}

    # the service role imports the (fictional) demo caseload: this test's data, not the README's
    service_env, _ = deployment.unit("spo-tracker@mail")
    spo_out(service_env, "import", str(ROOT / "data" / "demo" / "caseload.json"))

    # 3. two instances on one host: one with its own feed port, one with no feeds
    procs = []
    for instance in ("feeds", "mail"):
        env, command = deployment.unit(f"spo-tracker@{instance}")
        procs.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    try:
        deadline = time.monotonic() + 90
        while not feed_answers(deployment.feed_port) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
            time.sleep(0.2)
        assert feed_answers(deployment.feed_port)
        assert all(p.poll() is None for p in procs)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        ended = [(p.wait(timeout=60), p.communicate()[1].decode()) for p in procs]
    assert [code for code, _ in ended] == [0, 0], ended

    # 4. an officer, with their own role and ~/.pgpass, reads and records (tables and sequences)
    officer_env = deployment.base_env("officer")
    pgpass = Path(officer_env["HOME"]) / ".pgpass"
    pgpass.write_text(deployment.sub(prose(r":harriet_hollis:")) + "\n")
    pgpass.chmod(0o600)
    officer = deployment.shell(block("export SPO_DB"), officer_env)
    exported = dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", block("export SPO_DB"), re.M))
    officer_env |= {k: deployment.sub(v) for k, v in exported.items()}
    assert "recorded visit S-001/visit-" in officer.stdout
    # officers never delete; tables a later migration adds are theirs to use too (sequences too)
    with (
        connect_as(server, "harriet_hollis") as conn,
        pytest.raises(psycopg2.errors.InsufficientPrivilege),
    ):
        rows(conn, "DELETE FROM visit")
    with connect_as(server, "spo_owner") as conn:
        rows(conn, "CREATE TABLE later_migration (id serial PRIMARY KEY, note text)")
    for role in ("harriet_hollis", "spo_service"):
        with connect_as(server, role) as conn:
            rows(conn, "INSERT INTO later_migration (note) VALUES (%s)", (role,))
    with connect_as(server, "spo_owner") as conn:
        rows(conn, "DROP TABLE later_migration")

    # 5. backups: a dump only its owner can read, restored into a fresh database and in place
    backup_env = deployment.base_env("backup")
    pgpass = Path(backup_env["HOME"]) / ".pgpass"
    pgpass.write_text(deployment.sub(prose(r":spo_owner:")) + "\n")
    pgpass.chmod(0o600)
    backups = tmp_path / "backups"
    backups.mkdir()
    before = spo_out(service_env, "export")
    lines = commands(block("pg_dump"))
    dump = [line for line in lines if line.startswith(("umask", "pg_dump"))]
    assert dump[0] == "umask 077"
    deployment.shell("\n".join(dump), backup_env, cwd=backups)
    [written] = list(backups.glob("spo-*.dump"))
    assert written.name == f"spo-{DAY}.dump"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    # after the dump the record moves on...
    spo_out(officer_env, "visit", "add", "S-002", "--date", DAY)
    assert spo_out(service_env, "export") != before
    # ...a fresh database restored from the dump holds the record as it was, for the service
    deployment.superuser(prose(r"^createdb --owner=spo_owner spo_restored$"))
    [fresh] = [line for line in lines if "--dbname=spo_restored" in line]
    deployment.shell(fresh, backup_env, cwd=backups)
    restored_env = service_env | {
        "SPO_DB": service_env["SPO_DB"].replace("/spo?", "/spo_restored?")
    }
    assert spo_out(restored_env, "export") == before
    # ...and so does the live database restored over itself
    [in_place] = [line for line in lines if "--clean --if-exists" in line]
    deployment.shell(in_place, backup_env, cwd=backups)
    assert spo_out(service_env, "export") == before
    # the grants came back with it: the officer still records
    assert "S-001" in spo_out(officer_env, "show", "S-001")
    spo_out(officer_env, "visit", "add", "S-002", "--date", DAY)
