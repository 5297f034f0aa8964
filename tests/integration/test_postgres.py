"""One PostgreSQL database shared by several service instances and many CLI writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Spo
from tests.support.documents import renamed_copy
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
SPO = str(Path(sys.executable).with_name("spo"))
NOW = "2026-11-23T09:00:00+00:00"


def outbox_states(url: str) -> list[tuple[str, str | None]]:
    from sqlalchemy import create_engine, text

    from spo_tracker.store.schema import engine_url

    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT state, claimed_by FROM outbox ORDER BY id")).all()
    finally:
        engine.dispose()
    return [(str(s), c) for s, c in rows]


def service_env(url: str, port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPO_DB=url,
        SPO_SMTP_URL=f"smtp://127.0.0.1:{port}",
        SPO_SERVE_FEEDS="false",
        SPO_DELIVERY_SECONDS="1",
        SPO_SWEEP_MINUTES="60",
        SPO_SCU_EMAIL="scu@force.example",
        SPO_MAILDIR=str(tmp_path / "maildir"),
        **extra,
    )
    return env


def wait_for(condition: Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting for the service")


def load_big_caseload(spo: Spo, tmp_path: Path) -> None:
    """The demo caseload three times over (renamed references): dozens of emails."""
    import json

    doc = json.loads((ROOT / "data" / "demo" / "caseload.json").read_text())
    spo("import", str(ROOT / "data" / "demo" / "caseload.json"))
    for copy in ("B", "C"):
        clone = {**doc, "officers": [], "subjects": renamed_copy(doc, copy)}
        path = tmp_path / f"copy-{copy}.json"
        path.write_text(json.dumps(clone))
        spo("import", str(path))


@pytest.mark.postgresql_only
def test_two_service_instances_on_postgresql_send_every_email_exactly_once(
    spo: Spo, db_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    load_big_caseload(spo, tmp_path)
    port, recorder = smtp.port, smtp
    env = service_env(db_url, port, tmp_path)
    procs = [
        subprocess.Popen(
            [SPO, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    try:
        wait_for(
            lambda: (
                bool(outbox_states(db_url)) and all(s == "sent" for s, _ in outbox_states(db_url))
            )
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    rows = outbox_states(db_url)
    ids = recorder.message_ids()
    assert len(rows) >= 30
    assert len(ids) == len(rows)
    assert len(set(ids)) == len(ids)
    assert {state for state, _ in rows} == {"sent"}
    # each message sent is one disclosure in the access log, to its recipient, and the
    # chain both instances extended at once is whole
    sent = spo("audit", "access", "--operation", "disclosure", "--json").json()
    emails = [e for e in sent["entries"] if e["what"].startswith("email ")]  # type: ignore[index]
    assert sorted(e["detail"]["message_id"] for e in emails) == sorted(ids)
    assert all(e["actor"] == "spo-service" and len(e["recipients"]) == 1 for e in emails)
    spo("audit", "verify")


@pytest.mark.postgresql_only
def test_an_instance_killed_mid_run_leaves_its_work_to_the_other(
    spo: Spo, db_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    load_big_caseload(spo, tmp_path)
    port, recorder = smtp.port, smtp
    doomed = subprocess.run(
        [SPO, "run"],
        env=service_env(db_url, port, tmp_path, SPO_FAULT="crash-after-claim"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert doomed.returncode == 70, doomed.stdout + doomed.stderr
    rows = outbox_states(db_url)
    assert [c for _, c in rows if c is not None], "the killed instance claimed nothing"
    assert recorder.message_ids() == []
    survivor = subprocess.Popen(
        [SPO, "run"],
        env=service_env(db_url, port, tmp_path, SPO_CLAIM_TIMEOUT_SECONDS="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: all(s == "sent" for s, _ in outbox_states(db_url)))
    finally:
        survivor.send_signal(signal.SIGTERM)
        output = survivor.communicate(timeout=30)[0]
    assert survivor.returncode == 0, output
    ids = recorder.message_ids()
    assert len(ids) == len(rows)
    assert len(set(ids)) == len(ids)


@pytest.mark.both_engines
def test_ten_concurrent_writers_on_one_subject_lose_nothing(
    spo: Spo, db_url: str, engine: str
) -> None:
    spo("subject", "add", "S-1", "--name", "A B")
    spo(
        "order",
        "add",
        "S-1",
        "O-1",
        "--type",
        "full",
        "--made",
        "2026-03-03",
        "--expires",
        "2028-03-02",
    )
    env = dict(os.environ, SPO_DB=db_url, SPO_USER="tester")
    procs = [
        subprocess.Popen(
            [SPO, "visit", "add", "S-1", "--date", f"2026-04-{day:02d}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in range(1, 11)
    ]
    results = []
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, err))
    assert [code for code, _ in results] == [0] * 10, results
    assert not any("locked" in err for _, err in results)
    subject = spo("show", "S-1", "--json").json()["subject"]  # type: ignore[index]
    assert sorted(v["date"] for v in subject["visits"]) == [
        f"2026-04-{day:02d}" for day in range(1, 11)
    ]
    # the derived actions saw every visit: recomputing changes nothing
    assert "0 change(s)" in spo("recompute", "--all").out
    # ten writers chained their audit entries one after another: the chain is whole
    assert spo("audit", "verify").out.endswith("the hash chains are whole\n")
    collected = spo("audit", "access", "--operation", "collection", "--json").json()
    visits = [e for e in collected["entries"] if e["what"] == "visit.add"]  # type: ignore[index]
    assert len(visits) == 10
