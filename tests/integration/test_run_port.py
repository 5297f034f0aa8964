"""`spo run` that cannot listen for its feeds stops at once with one line (the port, what to
change); several instances on one host run side by side with their own ports or no feeds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Spo
from tests.support.postgres import free_port

SPO = str(Path(sys.executable).with_name("spo"))


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def service_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPO_FEED")}
    env.update(
        SPO_DB=db_url,
        SPO_MAILDIR=str(tmp_path / "maildir"),
        SPO_SWEEP_MINUTES="60",
        **extra,
    )
    env.pop("SPO_SMTP_URL", None)
    return env


def test_spo_run_on_a_taken_feed_port_exits_at_once_naming_the_port_and_setting(
    spo: Spo, db_url: str, tmp_path: Path, taken_port: int
) -> None:
    env = service_env(db_url, tmp_path, SPO_FEED_PORT=str(taken_port))
    # the timeout only stops a hung run from hanging the suite: the run must end by itself
    result = subprocess.run([SPO, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{taken_port} ")
    assert "SPO_FEED_PORT" in lines[0]
    assert "SPO_SERVE_FEEDS=false" in lines[0]
    assert "Traceback" not in result.stderr


def test_spo_serve_on_a_taken_port_is_one_line_naming_the_option(
    spo: Spo, db_url: str, tmp_path: Path, taken_port: int
) -> None:
    env = service_env(db_url, tmp_path)
    result = subprocess.run(
        [SPO, "serve", "--port", str(taken_port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{taken_port} ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--port" in result.stderr


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/calendars/nothing.ics").status_code == 404
    except httpx.TransportError:
        return False


def test_instances_on_one_host_run_side_by_side_with_their_own_ports_or_no_feeds(
    spo: Spo, db_url: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    envs = [service_env(db_url, tmp_path, SPO_FEED_PORT=str(port)) for port in ports]
    envs.append(service_env(db_url, tmp_path, SPO_SERVE_FEEDS="false"))
    procs = [
        subprocess.Popen([SPO, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for env in envs
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(answers(p) for p in ports) and time.monotonic() < deadline:
            assert all(proc.poll() is None for proc in procs), [
                proc.communicate()[1].decode() for proc in procs if proc.poll() is not None
            ]
            time.sleep(0.2)
        assert all(answers(p) for p in ports)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        errors = [proc.communicate(timeout=30)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
