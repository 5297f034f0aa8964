"""Calendar feeds over a real uvicorn server on loopback: validators, 304s, HEAD, tokens,
fetch logging, bad-token slowing, and logs that never print a token."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import text
from sqlmodel import col, select

from spo_tracker.adapters import ical
from spo_tracker.app import calendars as feeds
from spo_tracker.bootstrap import load_policy
from spo_tracker.config import Settings
from spo_tracker.core.clock import FixedClock
from spo_tracker.core.errors import DatabaseNotReady
from spo_tracker.entry.server import (
    HEADER_TIMEOUT,
    MAX_HEADER_BYTES,
    BadTokenThrottle,
    FeedServer,
    FetchLog,
    build_server,
    not_modified,
)
from spo_tracker.store import tokens
from spo_tracker.store.calendar_models import FeedFetchRow
from tests.conftest import Spo, invoke
from tests.support.env import make_env, open_store

NOW = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)
SPO = str(Path(sys.executable).with_name("spo"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    base: str
    server: FeedServer
    thread: threading.Thread
    db_path: Path | str

    def url(self, token: str) -> str:
        return f"{self.base}/calendars/{token}.ics"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive()


def start(
    db_path: Path | str,
    throttle: BadTokenThrottle | None = None,
    *,
    clock: FixedClock | None = None,
    fetch_log: FetchLog | None = None,
    header_timeout: float | None = None,
) -> Running:
    """A real server on a free loopback port, in a thread, ready for requests."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = make_env(
        str(db_path), clock=clock or FixedClock(NOW), settings=Settings(feed_base_url=base)
    )
    server = build_server(
        env,
        "127.0.0.1",
        port,
        throttle=throttle or BadTokenThrottle(free=1, limit=3, window=60, max_delay=0.05),
        fetch_log=fetch_log,
        handle_signals=False,
        **({"header_timeout": header_timeout} if header_timeout is not None else {}),
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server took too long to start"
        time.sleep(0.02)
    return Running(base, server, thread, db_path)


@pytest.fixture
def running(caseload: Spo, db_path: Path) -> Iterator[Running]:
    server = start(db_path)
    try:
        yield server
    finally:
        server.stop()


def make_token(spo: Spo, *args: str) -> tuple[int, str]:
    out = spo("calendar", "token", "create", *(args or ("--officer", "om1@force.example"))).out
    token_id = int(re.search(r"feed token (\d+)", out).group(1))  # type: ignore[union-attr]
    token = re.search(r"/calendars/([A-Za-z0-9_-]+)\.ics", out).group(1)  # type: ignore[union-attr]
    return token_id, token


def fetches(db_path: Path | str) -> list[tuple[int | None, int]]:
    with open_store(str(db_path), actor="test") as s:
        rows = s.session.exec(select(FeedFetchRow).order_by(col(FeedFetchRow.id))).all()
        return [(r.token_id, r.status) for r in rows]


# ------------------------------------------------------------------------------ serving


def test_a_feed_is_a_calendar_with_validators(caseload: Spo, running: Running) -> None:
    _, token = make_token(caseload)
    response = httpx.get(running.url(token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    body = response.content
    assert response.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None
    assert "no-cache" in response.headers["cache-control"]
    assert "private" in response.headers["cache-control"]
    cal = icalendar.Calendar.from_ical(body)
    events = cal.walk("VEVENT")
    assert events
    assert len(IcsCalendarStream.calendar_from_ics(body.decode()).events) == len(events)
    assert len(recurring_ical_events.of(cal).between((2000, 1, 1), (2040, 1, 1))) == len(events)
    assert ical.lint(body).problems == []
    for event in events:
        assert event["DTEND"].dt == event["DTSTART"].dt + dt.timedelta(days=1)
    again = httpx.get(running.url(token))
    assert again.content == body  # identical bytes for unchanged data
    assert again.headers["etag"] == response.headers["etag"]
    assert again.headers["last-modified"] == response.headers["last-modified"]


def test_if_none_match_and_if_modified_since_give_304(caseload: Spo, running: Running) -> None:
    _, token = make_token(caseload)
    first = httpx.get(running.url(token))
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
    ):
        cached = httpx.get(running.url(token), headers=headers)
        assert cached.status_code == 304, headers
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    earlier = parsedate_to_datetime(modified) - dt.timedelta(seconds=1)
    for headers in (
        {"If-None-Match": '"something-else"'},
        {"If-Modified-Since": format_datetime(earlier, usegmt=True)},
        {"If-Modified-Since": "not a date"},
        # If-None-Match wins over If-Modified-Since (RFC 9110)
        {"If-None-Match": '"something-else"', "If-Modified-Since": modified},
    ):
        assert httpx.get(running.url(token), headers=headers).status_code == 200, headers


def test_head_answers_like_get_without_a_body(caseload: Spo, running: Running) -> None:
    _, token = make_token(caseload)
    got = httpx.get(running.url(token))
    head = httpx.head(running.url(token))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == "text/calendar; charset=utf-8"
    assert (
        httpx.head(running.url(token), headers={"If-None-Match": got.headers["etag"]}).status_code
        == 304
    )
    assert httpx.head(running.url("nope")).status_code == 404


def test_a_change_moves_the_etag_and_last_modified(caseload: Spo, running: Running) -> None:
    _, token = make_token(caseload)
    first = httpx.get(running.url(token))
    caseload("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial")
    for headers in (
        {"If-None-Match": first.headers["etag"]},
        {"If-Modified-Since": first.headers["last-modified"]},
    ):
        changed = httpx.get(running.url(token), headers=headers)
        assert changed.status_code == 200, headers
    assert changed.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )
    assert b"initial visit" not in changed.content  # done: it left the feed


def test_a_reallocation_that_empties_a_feed_is_not_answered_304(
    caseload: Spo, running: Running
) -> None:
    # The subject moves to another officer: no row in om1's scope changes any more, yet om1's
    # feed did. Last-Modified must move anyway.
    caseload(
        "officer", "add", "om2@force.example", "--name", "Alex Other", "--role", "offender-manager"
    )
    _, token = make_token(caseload)
    first = httpx.get(running.url(token))
    assert b"BEGIN:VEVENT" in first.content
    caseload("allocate", "S-001", "--officer", "om2@force.example", "--date", "2026-03-05")
    after = httpx.get(
        running.url(token), headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert after.status_code == 200
    assert b"BEGIN:VEVENT" not in after.content
    assert (
        httpx.get(
            running.url(token), headers={"If-Modified-Since": after.headers["last-modified"]}
        ).status_code
        == 304
    )


# ------------------------------------------------------------------------------ tokens


def test_unknown_and_revoked_tokens_get_a_plain_404(caseload: Spo, running: Running) -> None:
    token_id, token = make_token(caseload)
    assert httpx.get(running.url(token)).status_code == 200
    caseload("calendar", "token", "revoke", str(token_id))
    for path in (running.url(token), running.url("x" * 43), f"{running.base}/calendars/"):
        response = httpx.get(path)
        assert response.status_code == 404
        assert response.text == "Not Found"
        assert "etag" not in response.headers
    assert httpx.post(running.url(token)).status_code == 405


def test_each_fetch_is_logged_with_token_id_time_and_status(
    caseload: Spo, running: Running
) -> None:
    token_id, token = make_token(caseload, "--team", "North")
    etag = httpx.get(running.url(token)).headers["etag"]
    httpx.get(running.url(token), headers={"If-None-Match": etag})
    httpx.get(running.url("unknown-token"))
    assert fetches(running.db_path) == [(token_id, 200), (token_id, 304), (None, 404)]
    listed = caseload("calendar", "token", "list", "--json").json()
    assert isinstance(listed, dict)
    (entry,) = listed["tokens"]
    assert entry["fetch_count"] == 2
    assert entry["last_used_at"] == NOW.isoformat()


def test_logs_name_the_token_id_never_the_token(
    caseload: Spo, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    token_id, token = make_token(caseload)
    with caplog.at_level(logging.DEBUG):
        httpx.get(running.url(token))
        httpx.get(running.url("wrong-" + token))
        time.sleep(0.1)
    # what the server side logged (httpx, the test's client, logs its own URLs)
    server = "\n".join(
        f"{r.name} {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith(("uvicorn", "starlette", "spo_tracker"))
    )
    assert token not in server
    assert f"token={token_id} status=200" in server
    assert "token=- status=404" in server
    assert "/calendars/" not in server  # no access log line with the path
    assert running.server.config.access_log is False


def test_a_deactivated_officers_feed_is_refused(caseload: Spo, running: Running) -> None:

    _, token = make_token(caseload)
    assert httpx.get(running.url(token)).status_code == 200
    with open_store(str(running.db_path), actor="test") as s:
        tokens.revoke_officer_tokens(s, "om1@force.example")
    assert httpx.get(running.url(token)).status_code == 404


# ------------------------------------------------------------------------------ slowing


def test_repeated_bad_tokens_are_slowed_then_refused_but_good_ones_pass(
    caseload: Spo, running: Running
) -> None:
    _, token = make_token(caseload)
    statuses = [httpx.get(running.url(f"guess{n}")).status_code for n in range(5)]
    assert statuses[:3] == [404, 404, 404]
    assert statuses[3:] == [429, 429]
    refused = httpx.get(running.url("guess-again"))
    assert int(refused.headers["retry-after"]) >= 1
    assert httpx.get(running.url(token)).status_code == 200  # a valid token still works
    # refused floods are not written to the database
    assert [s for _, s in fetches(running.db_path)].count(404) == 3


def test_the_throttle_grows_its_delay_within_bounds_and_forgets() -> None:
    now = [0.0]
    throttle = BadTokenThrottle(
        free=2, limit=5, window=60, max_delay=0.5, max_clients=2, clock=lambda: now[0]
    )
    delays = [throttle.fail("a") for _ in range(5)]
    assert delays[:2] == [0.0, 0.0]
    assert delays[2] < delays[3] <= delays[4] <= 0.5
    assert throttle.retry_after("a") == 60
    assert throttle.retry_after("b") is None
    now[0] = 30.0
    assert throttle.retry_after("a") == 30
    now[0] = 61.0
    assert throttle.retry_after("a") is None  # the window passed
    for client in ("c", "d", "e"):
        throttle.fail(client)
    assert len(throttle._failures) <= 2  # bounded memory


def test_not_modified_follows_rfc_9110() -> None:
    modified = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)
    stamp = format_datetime(modified, usegmt=True)
    assert not_modified('"a"', None, '"a"', modified)
    assert not_modified('"b", "a"', None, '"a"', modified)
    assert not not_modified('"b"', stamp, '"a"', modified)
    assert not_modified(None, stamp, '"a"', modified)
    assert not not_modified(None, stamp, '"a"', modified + dt.timedelta(seconds=1))
    assert not not_modified(None, "garbage", '"a"', modified)
    assert not not_modified(None, None, '"a"', modified)


def test_the_server_refuses_to_start_on_a_database_that_is_not_ready(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    server = build_server(
        make_env(str(missing), settings=Settings()), "127.0.0.1", free_port(), handle_signals=False
    )
    with pytest.raises(DatabaseNotReady, match="spo init"):
        asyncio.run(server.serve())
    assert not server.started
    assert not missing.exists()


def test_spo_serve_on_a_missing_database_is_a_one_line_error(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("serve", "--port", str(free_port()))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "spo init" in result.err


def test_spo_calendar_check_reads_a_live_feed_without_printing_the_token(
    caseload: Spo, running: Running
) -> None:
    _, token = make_token(caseload)
    result = caseload("calendar", "check", running.url(token))
    assert "ok" in result.out
    assert token not in result.out + result.err
    missing = caseload("calendar", "check", running.url("nope"), code=2)
    assert "404" in missing.err


# ------------------------------------------------------------------------------ remembering


def spo_process(*args: str) -> None:
    """``spo`` in a process of its own: a writer that is neither the server nor the test."""
    done = subprocess.run(
        [SPO, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert done.returncode == 0, done.stderr


def full_checks(running: Running) -> int:
    checks: int = running.server.config.app.state.feeds.full_checks
    return checks


def warm(running: Running, url: str, headers: dict[str, str]) -> httpx.Response:
    """Fetch until an answer comes from memory. The first few are full checks: each one
    logs a new kind of fetch or sets the served ETag, and that write is itself a change."""
    for _ in range(6):
        before = full_checks(running)
        response = httpx.get(url, headers=headers)
        if full_checks(running) == before:
            return response
    raise AssertionError("no answer came from memory")


@pytest.mark.both_engines
def test_a_remembered_feed_follows_other_processes_writes_and_revocations(
    caseload: Spo, db_url: str
) -> None:
    token_id, token = make_token(caseload)
    server = start(db_url)
    try:
        url = server.url(token)
        etag = httpx.get(url).headers["etag"]
        assert warm(server, url, {"If-None-Match": etag}).status_code == 304
        checks = full_checks(server)
        for _ in range(3):
            assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
            assert httpx.get(url).content  # a 200 from memory has the whole body
        assert full_checks(server) == checks  # no transaction, no rendering

        spo_process("visit", "add", "S-001", "--date", "2026-03-05", "--kind", "initial")
        changed = httpx.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200  # the very next fetch
        assert changed.headers["etag"] != etag
        assert changed.headers["etag"] == f'"{hashlib.sha256(changed.content).hexdigest()}"'
        assert b"initial visit" not in changed.content

        etag = changed.headers["etag"]
        assert warm(server, url, {"If-None-Match": etag}).status_code == 304
        spo_process("calendar", "token", "revoke", str(token_id))
        assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 404
        assert httpx.get(url).status_code == 404
    finally:
        server.stop()


def test_a_new_day_changes_the_etag_with_no_write_at_all(caseload: Spo, db_path: Path) -> None:
    clock = FixedClock(NOW)
    _, token = make_token(caseload)
    server = start(db_path, clock=clock)
    try:
        url = server.url(token)
        cal = icalendar.Calendar.from_ical(httpx.get(url).content)
        due = min(
            e["DTSTART"].dt for e in cal.walk("VEVENT") if not str(e["SUMMARY"]).startswith("OVER")
        )
        clock.at = dt.datetime.combine(due, dt.time(12), tzinfo=dt.UTC)
        on_the_day = httpx.get(url)
        etag = on_the_day.headers["etag"]
        assert warm(server, url, {"If-None-Match": etag}).status_code == 304
        clock.at += dt.timedelta(days=1)  # nothing written: only the day moves on
        next_day = httpx.get(url, headers={"If-None-Match": etag})
        assert next_day.status_code == 200
        assert next_day.headers["etag"] != etag
        assert next_day.content.count(b"OVERDUE") > on_the_day.content.count(b"OVERDUE")
        assert parsedate_to_datetime(next_day.headers["last-modified"]) > parsedate_to_datetime(
            on_the_day.headers["last-modified"]
        )
        assert (
            httpx.get(
                url, headers={"If-Modified-Since": on_the_day.headers["last-modified"]}
            ).status_code
            == 200
        )
    finally:
        server.stop()


def test_a_burst_of_fetches_is_logged_in_a_batch_and_none_is_lost(
    caseload: Spo, db_path: Path
) -> None:
    token_id, token = make_token(caseload)
    server = start(db_path, fetch_log=FetchLog(interval=60))
    try:
        url = server.url(token)
        etag = httpx.get(url).headers["etag"]
        for _ in range(5):
            assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
        # the first of each kind is written at once; the rest wait for the batch
        assert fetches(db_path) == [(token_id, 200), (token_id, 304)]
        listed = caseload("calendar", "token", "list", "--json").json()
        assert isinstance(listed, dict)
        assert listed["tokens"][0]["fetch_count"] == 2
    finally:
        server.stop()  # a clean stop writes the batch
    assert fetches(db_path) == [(token_id, 200)] + [(token_id, 304)] * 5
    listed = caseload("calendar", "token", "list", "--json").json()
    assert isinstance(listed, dict)
    (entry,) = listed["tokens"]
    assert entry["fetch_count"] == 6
    assert entry["last_used_at"] == NOW.isoformat()


def test_the_fetch_log_writes_after_a_quiet_spell_and_batches_bursts() -> None:
    now = [0.0]
    log = FetchLog(interval=5, max_pending=3, clock=lambda: now[0])
    assert not log.in_burst(1, 200)  # the first: written at once
    assert log.in_burst(1, 200)  # close behind it: queued
    assert not log.in_burst(1, 304)  # another status is another kind
    assert not log.in_burst(2, 200, claim=False)
    assert not log.in_burst(2, 200)  # the unclaimed one was not noted
    now[0] = 4.0
    assert log.in_burst(1, 200)
    now[0] = 9.0
    assert not log.in_burst(1, 200)  # five quiet seconds: a new spell
    batch = [feeds.Fetch(1, NOW + dt.timedelta(seconds=n), 304) for n in range(5)]
    for fetch in batch:
        log.queue(fetch)
    assert log.dropped == 2  # bounded: the oldest go first
    kept = log.take()
    assert kept == batch[2:]
    assert log.take() == []
    log.put_back(kept)  # a failed write keeps them for the next try
    assert log.take() == kept


@pytest.mark.both_engines
def test_the_data_version_changes_with_every_commit_and_only_then(spo: Spo, db_url: str) -> None:
    from spo_tracker.store.db import make_engine
    from spo_tracker.store.schema import resolve_url

    engine = make_engine(resolve_url(db_url))
    version = feeds.DataVersion(engine)
    try:
        first = version.current()
        assert first is not None
        assert version.current() == first
        with open_store(db_url, actor="test") as s:  # a transaction that writes nothing
            s.read.officers()
        assert version.current() == first

        spo_process("officer", "add", "x@force.example", "--name", "X", "--role", "scu")
        moved = version.current()
        assert moved not in (None, first)  # another process's commit

        with engine.connect() as other:
            other.execute(text("UPDATE officer SET name = 'Y' WHERE email = 'x@force.example'"))
            pending = version.current()
            other.commit()
        assert version.current() != pending  # this process, another connection

        before = version.current()
        version.close()  # a new connection numbers afresh: never an earlier value again
        assert version.current() not in (None, before, first, moved, pending)
    finally:
        version.close()
        engine.dispose()


def test_the_renderer_reuses_a_body_only_for_the_very_same_inputs(
    caseload: Spo, db_path: Path
) -> None:
    policy = load_policy()
    renderer = feeds.FeedRenderer(policy)
    scope = feeds.FeedScope("officer", "om1@force.example")
    with open_store(str(db_path), actor="test") as s:
        source = feeds.read_feed_source(s.read, scope, as_of=NOW.date())
        again = feeds.read_feed_source(s.read, scope, as_of=NOW.date())
    first = renderer.render(source)
    assert renderer.render(again) == first
    assert renderer.rendered == 1
    assert first == feeds.render_feed(source, policy)

    tomorrow = dataclasses.replace(source, as_of=source.as_of + dt.timedelta(days=1))
    assert renderer.render(tomorrow) == feeds.render_feed(tomorrow, policy)
    entry = source.entries[0]
    bumped = (dataclasses.replace(entry, sequence=entry.sequence + 1), *source.entries[1:])
    changed = renderer.render(dataclasses.replace(source, entries=bumped))
    assert changed.etag != first.etag
    assert renderer.rendered == 3


# --------------------------------------------------------------------------- slow clients


def _port(running: Running) -> int:
    return int(running.base.rsplit(":", 1)[1])


def test_by_default_headers_must_arrive_within_10_seconds_and_16_kib() -> None:
    assert HEADER_TIMEOUT == 10
    assert MAX_HEADER_BYTES == 16 * 1024


def test_slow_clients_are_cut_off_and_a_good_client_is_served_meanwhile(
    caseload: Spo, db_path: Path
) -> None:
    """200 connections on loopback: half send nothing, half a request line and a header they
    never finish. A good client is served promptly all the while, and every slow one is
    closed once the header timeout (here 1 s, 10 s by default) has passed."""
    _, token = make_token(caseload)
    running = start(db_path, header_timeout=1.0)
    slow: list[socket.socket] = []
    try:
        url = running.url(token)
        with httpx.Client() as client:
            assert client.get(url).status_code == 200  # the feed read once
            opened = time.monotonic()
            for n in range(200):
                sock = socket.create_connection(("127.0.0.1", _port(running)), timeout=10)
                if n % 2:
                    sock.sendall(b"GET /calendars/x.ics HTTP/1.1\r\nHost: a\r\nX-Slow: ")
                slow.append(sock)
            took = []
            for _ in range(5):
                began = time.perf_counter()
                response = client.get(url)
                took.append(time.perf_counter() - began)
                assert response.status_code == 200
                assert response.content.startswith(b"BEGIN:VCALENDAR")
        assert sorted(took)[2] < 0.1, took  # the median
        for n, sock in enumerate(slow):
            data = b""
            while chunk := sock.recv(4096):  # until the server closes it
                data += chunk
            if n % 2:
                assert data.startswith(b"HTTP/1.1 408 "), data
            else:
                assert data == b""
        waited = time.monotonic() - opened
        assert 1.0 <= waited < 8, waited
    finally:
        for sock in slow:
            sock.close()
        running.stop()


def test_oversized_headers_are_refused_with_431(caseload: Spo, running: Running) -> None:
    _, token = make_token(caseload)
    head = b"GET /calendars/x.ics HTTP/1.1\r\nHost: a\r\nX-Big: "
    with socket.create_connection(("127.0.0.1", _port(running)), timeout=10) as sock:
        sock.sendall(head + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 431 "), data
    assert b"connection: close" in data
    # a megabyte: refused at the first 16 KiB, the connection closed (the client may see the
    # 431 or, with its megabyte still unread, a reset)
    with socket.create_connection(("127.0.0.1", _port(running)), timeout=10) as sock:
        data = b""
        try:
            sock.sendall(head + b"a" * 1_000_000 + b"\r\n\r\n")
            while chunk := sock.recv(4096):
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert data == b"" or data.startswith(b"HTTP/1.1 431 "), data[:100]
    # the server goes on
    response = httpx.get(running.url(token), headers={"X-Fine": "a" * 1000})
    assert response.status_code == 200


def test_a_feed_answer_is_logged_as_a_disclosure_of_the_subjects_it_showed(
    caseload: Spo, running: Running
) -> None:
    caseload("officer", "add", "om2@force.example", "--name", "Other Officer", "--role",
             "offender-manager", "--team", "South")  # fmt: skip
    caseload("subject", "add", "S-002", "--name", "Another Person", "--officer",
             "om2@force.example", "--address", "2 Low Street, Leeds")  # fmt: skip
    caseload("order", "add", "S-002", "O-002", "--type", "full", "--made", "2026-03-01",
             "--expires", "2028-03-01")  # fmt: skip
    token_id, token = make_token(caseload)  # om1's feed: S-001's deadlines, not S-002's
    first = httpx.get(running.url(token))
    shown = sorted(
        {
            re.search(r"SPO (S-\d+)", str(e["SUMMARY"])).group(1)  # type: ignore[union-attr]
            for e in icalendar.Calendar.from_ical(first.content).walk("VEVENT")
        }
    )
    assert shown == ["S-001"]
    httpx.get(running.url(token), headers={"If-None-Match": first.headers["etag"]})  # a 304
    assert httpx.head(running.url(token)).status_code == 200  # no calendar sent

    def disclosures() -> list[dict[str, Any]]:
        doc: Any = caseload("audit", "access", "--operation", "disclosure", "--json").json()
        return [e for e in doc["entries"] if e["what"] == "calendar feed"]

    deadline = time.monotonic() + 10  # the fetch log may write a burst a moment later
    while len(fetches(running.db_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [status for _, status in fetches(running.db_path)] == [200, 304, 200]
    [logged] = disclosures()  # the 304 disclosed nothing new, the HEAD nothing at all
    assert logged["subjects"] == shown
    assert logged["recipients"] == ["om1@force.example"]
    assert logged["detail"]["token"] == token_id
