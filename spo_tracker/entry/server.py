"""HTTP: token-protected calendar feeds (Starlette on uvicorn).

``GET``/``HEAD /calendars/{token}.ics`` answers with the calendar of the token's officer or
team, a strong ETag computed from the body and a Last-Modified from the data, and ``304`` when
the client's copy is current. An unknown or revoked token gets a plain ``404`` and nothing
else. Database work runs in worker threads, so the event loop never waits on the database.

Nothing is served from memory that the database no longer says: every request first reads
the database's data version (``feeds.DataVersion``: one cheap query that changes whenever
anything is committed, by any process). While it and the day are unchanged, a token checked
before is answered from that check (same feed, same validators); otherwise the request is
checked in full, in one transaction: token, schema, the scope's actions, ETag, Last-Modified.
So a revocation, a deactivated officer or a change to the data shows on the very next
request. Fetches are logged as before, one row each, but a burst is written in batches
(``FetchLog``) rather than with one commit per request.

Tokens are secrets in the path: uvicorn's access log (which prints paths) is off, and our own
log line names the token's id only. Repeated bad tokens from one address are slowed and then
refused for a while; a valid token is always served, so a shared address (a calendar
provider's fetchers, a force proxy) carrying one revoked subscription cannot lock out the rest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..app import InvalidInput
from ..app import calendars as feeds
from ..bootstrap import Env

if TYPE_CHECKING:
    from ..app import Store

log = logging.getLogger("spo_tracker.server")
CONTENT_TYPE = "text/calendar; charset=utf-8"
# Clients re-check each time (a cheap 304 when unchanged); nothing shared may keep a copy.
CACHE_CONTROL = "private, no-cache"


class _NoAccessLog(logging.Filter):
    """uvicorn's access line holds the path, and the path holds the token: drop it at the
    logger, so no handler anyone adds later (a logging set-up, a test harness) can print it.
    Our own line names the token's id instead."""

    def filter(self, _record: logging.LogRecord) -> bool:
        return False


def _silence_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoAccessLog) for f in access.filters):
        access.addFilter(_NoAccessLog())


class BadTokenThrottle:
    """Bad-token failures per client address in a sliding window. After ``free`` failures
    each further one waits a growing delay (at most ``max_delay`` seconds); after ``limit``
    the address is refused (429) until its oldest failure leaves the window. Memory is
    bounded: at most ``max_clients`` addresses are remembered (the least recent go first)."""

    def __init__(
        self,
        *,
        free: int = 3,
        limit: int = 20,
        window: float = 300.0,
        max_delay: float = 2.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.limit = limit
        self.window = window
        self.max_delay = max_delay
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try another bad token; None if it may now."""
        failures = self._recent(client)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self.clock()))

    def fail(self, client: str) -> float:
        """Record a failure; returns the delay to impose before answering it."""
        failures = self._recent(client)
        if client not in self._failures:
            self._failures[client] = failures
        failures.append(self.clock())
        while len(failures) > self.limit:
            failures.popleft()
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
        extra = len(failures) - self.free
        return 0.0 if extra <= 0 else min(self.max_delay, 0.1 * 2 ** (extra - 1))


# Fetches closer together than this (same token, same status) are logged in batches.
FETCH_BATCH_SECONDS = 5.0


@dataclass(frozen=True)
class _Outcome:
    status: int
    token_id: int | None = None
    feed: feeds.Feed | None = None
    last_modified: dt.datetime | None = None


@dataclass(frozen=True)
class _View:
    """What a full check of one token found. It holds while the database's data version
    and the day are the same: a revocation, a deactivation, a served-ETag update and any
    change to the data are commits, and every commit changes the version."""

    version: str
    as_of: dt.date
    token_id: int
    feed: feeds.Feed
    last_modified: dt.datetime


class FetchLog:
    """Which fetches are logged at once and which wait for the next batch.

    A fetch after a quiet spell (no fetch with the same token and status in the last
    ``interval`` seconds) is written in the request's own transaction, as every fetch used
    to be: a new subscription or an hourly poll shows in ``spo calendar token list`` at
    once. Fetches that follow each other more closely (a burst, several devices on one
    token) are queued and written together within ``interval`` seconds, each still its own
    row with its own time and status, and added to the token's count and last use. A crash
    loses at most that many seconds of queued fetches; a clean stop writes them. At most
    ``max_pending`` wait (the oldest beyond that are dropped, counted and logged)."""

    def __init__(
        self,
        *,
        interval: float = FETCH_BATCH_SECONDS,
        max_pending: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.max_pending = max_pending
        self.clock = clock
        self.dropped = 0
        self._last: dict[tuple[int, int], float] = {}
        self._pending: list[feeds.Fetch] = []
        self._lock = threading.Lock()

    def in_burst(self, token_id: int, status: int, *, claim: bool = True) -> bool:
        """True if a fetch with this token and status came within the last ``interval``
        seconds: queue this one. False: write it at once; with ``claim`` that write counts
        as the one that starts a new burst (without, nothing is noted)."""
        key = (token_id, status)
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            burst = last is not None and now - last < self.interval
            if burst or claim:
                self._last[key] = now
        return burst

    def queue(self, fetch: feeds.Fetch) -> None:
        with self._lock:
            self._pending.append(fetch)
            self._bound()

    def take(self) -> list[feeds.Fetch]:
        """The queued fetches, oldest first; the queue is emptied."""
        now = self.clock()
        with self._lock:
            batch, self._pending = self._pending, []
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        return batch

    def put_back(self, batch: list[feeds.Fetch]) -> None:
        """Fetches ``take`` returned that could not be written: first in line next time."""
        with self._lock:
            self._pending[:0] = batch
            self._bound()

    def _bound(self) -> None:
        excess = len(self._pending) - self.max_pending
        if excess > 0:
            del self._pending[:excess]
            self.dropped += excess


def not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    last_modified: dt.datetime,
) -> bool:
    """RFC 9110: If-None-Match (weak comparison) wins; else If-Modified-Since."""
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or etag in {t.removeprefix("W/") for t in tags}
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return last_modified.replace(microsecond=0) <= since


class _Feeds:
    """The server's state: one engine for its whole life, the data version, the feeds and
    token checks it may reuse while that version holds, and the fetch log.

    A request whose token was fully checked at the current data version, on the same day,
    is answered from that check: no transaction, no rendering, no hashing of the body; and
    on SQLite, on the event loop, with no worker thread (``remembered``). Anything else
    takes the full path: verify the token in the database, read the scope's actions (once
    per scope and version, whichever request comes first), render them unless the very
    same inputs were rendered before, and set the served ETag and Last-Modified."""

    def __init__(
        self,
        *,
        env: Env,
        fetch_log: FetchLog,
        max_views: int = 10_000,
    ) -> None:
        self.env = env
        self.settings = env.settings
        self.clock = env.clock
        self.fetch_log = fetch_log
        self.renderer = feeds.FeedRenderer(env.policy)
        self.max_views = max_views
        self.full_checks = 0  # requests that took the full path (for tests and benchmarks)
        self._version: feeds.DataVersion | None = None
        self._views: dict[str, _View] = {}
        self._scopes: dict[feeds.FeedScope, tuple[str | None, dt.date, feeds.Feed]] = {}
        self._scope_locks: dict[feeds.FeedScope, threading.Lock] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life

    def open(self) -> None:
        """Connect, refusing a database that is missing or not at this version's schema."""
        with self.env.reading():
            pass
        self._version = feeds.DataVersion(self.env.engine())

    def close(self) -> None:
        if self._version is not None:
            self._version.close()
        self._version = None
        self.env.close()

    @contextmanager
    def _store(self) -> Iterator[Store]:
        """One transaction on the server's engine; every one checks the schema first (a
        database restored from an older backup is never read)."""
        if self._version is None:
            raise RuntimeError("the feed server is not running")
        with self.env.unit_of_work(
            actor=self.env.settings.service_account, now=self.clock.now()
        ) as store:
            yield store

    def _today(self) -> dt.date:
        return self.env.today()

    # ------------------------------------------------------------------ requests

    def remembered(
        self,
        token: str,
        client: str,
        conditions: tuple[str | None, ...],
        *,
        blocking: bool,
        head: bool = False,
    ) -> _Outcome | None:
        """The answer from the token's last full check, if the data version and the day are
        what they were then; None: check in full (``lookup``). Without ``blocking`` it
        never waits on the database (None if it would: a server version to ask, or a fetch
        that must be written now), so the event loop may call it."""
        if self._version is None or (self._version.blocks and not blocking):
            return None
        if not 0 < len(token) <= feeds.MAX_TOKEN_CHARS:
            return None
        view = self._views.get(feeds.hash_token(token))
        if view is None:
            return None
        today = self._today()
        # the version after the view was made: a commit since then shows as a difference
        if view.as_of != today or view.version != self._version.current(wait=blocking):
            return None
        status = _status(view.feed.etag, view.last_modified, conditions)
        fetch = feeds.Fetch(
            view.token_id, self.clock.now(), status, client, disclosed(status, view.feed, head)
        )
        if self.fetch_log.in_burst(view.token_id, status, claim=blocking):
            self.fetch_log.queue(fetch)
        elif blocking:
            with self._store() as store:
                feeds.log_fetches(store, [fetch])
        else:
            return None
        return _Outcome(status, view.token_id, view.feed, view.last_modified)

    def lookup(
        self,
        token: str,
        client: str,
        log_failure: bool,
        conditions: tuple[str | None, ...],
        head: bool = False,
    ) -> _Outcome:
        """Answer a request, from memory if ``remembered`` may, else after a full check."""
        known = self.remembered(token, client, conditions, blocking=True, head=head)
        if known is not None:
            return known
        today = self._today()
        # the version first: whatever is read after it is at least as new
        version = self._version.current() if self._version is not None else None
        plausible = 0 < len(token) <= feeds.MAX_TOKEN_CHARS
        digest = feeds.hash_token(token) if plausible else None
        return self._check(
            token, digest, version, today, client, log_failure, conditions, head=head
        )

    def _check(
        self,
        token: str,
        digest: str | None,
        version: str | None,
        today: dt.date,
        client: str,
        log_failure: bool,
        conditions: tuple[str | None, ...],
        *,
        head: bool = False,
    ) -> _Outcome:
        self.full_checks += 1
        queued: feeds.Fetch | None = None
        with self._store() as store:
            row = feeds.verify_token(store, token)
            if row is None:
                if digest is not None:
                    with self._lock:
                        self._views.pop(digest, None)  # revoked: forget what it was
                if log_failure:
                    feeds.log_fetches(store, [feeds.Fetch(None, store.now, 404, client)])
                return _Outcome(404)
            assert row.id is not None
            token_id = row.id
            feed = self._feed(store, feeds.token_scope(row), today, version)
            modified = feeds.served_last_modified(store, row, feed)
            status = _status(feed.etag, modified, conditions)
            fetch = feeds.Fetch(token_id, store.now, status, client, disclosed(status, feed, head))
            if self.fetch_log.in_burst(token_id, status):
                queued = fetch  # once the answer is certain (committed)
            else:
                feeds.log_fetches(store, [fetch])
        if queued is not None:
            self.fetch_log.queue(queued)
        if version is not None and digest is not None:
            with self._lock:
                if digest not in self._views and len(self._views) >= self.max_views:
                    del self._views[next(iter(self._views))]
                self._views[digest] = _View(version, today, token_id, feed, modified)
        return _Outcome(status, token_id, feed, modified)

    def _feed(
        self, store: Store, scope: feeds.FeedScope, today: dt.date, version: str | None
    ) -> feeds.Feed:
        """The scope's feed: read once per data version and day, whichever request of the
        scope comes first (the others wait for it rather than read it again)."""
        with self._lock:
            lock = self._scope_locks.setdefault(scope, threading.Lock())
        with lock:
            known = self._scopes.get(scope)
            if known is not None and version is not None and known[:2] == (version, today):
                return known[2]
            source = feeds.read_feed_source(
                store.read,
                scope,
                as_of=today,
                refresh=self.settings.feed_refresh,
                strict=False,
                timezone=self.env.timezone,
            )
            feed = self.renderer.render(source)
            self._scopes[scope] = (version, today, feed)
            return feed

    # ------------------------------------------------------------------ fetch log

    def flush(self) -> int:
        """Write the queued fetches; returns how many. On failure they are kept."""
        dropped, self.fetch_log.dropped = self.fetch_log.dropped, 0
        if dropped:
            log.warning("feed fetch log: %d fetch(es) dropped while the database was busy", dropped)
        batch = self.fetch_log.take()
        if not batch:
            return 0
        try:
            with self._store() as store:
                feeds.log_fetches(store, batch)
        except BaseException:
            self.fetch_log.put_back(batch)
            raise
        return len(batch)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.fetch_log.interval)
            try:
                await run_in_threadpool(self.flush)
            except Exception:
                log.exception("feed fetch log not written; kept for the next try")


def _status(etag: str, modified: dt.datetime, conditions: tuple[str | None, ...]) -> int:
    return 304 if not_modified(conditions[0], conditions[1], etag, modified) else 200


def disclosed(status: int, feed: feeds.Feed, head: bool = False) -> tuple[str, ...]:
    """Whose deadlines an answer gave the token's holder: a full one's subjects; a 304 only
    confirms what the client already holds, and a HEAD sends no calendar."""
    return feed.subjects if status == 200 and not head else ()


def create_app(
    env: Env,
    *,
    throttle: BadTokenThrottle | None = None,
    fetch_log: FetchLog | None = None,
) -> Starlette:
    """The feed application on ``env``'s database, settings, policy and clock."""
    limiter = throttle or BadTokenThrottle()
    service = _Feeds(env=env, fetch_log=fetch_log or FetchLog())

    async def calendar(request: Request) -> Response:
        token = request.path_params["token"]
        client = request.client.host if request.client else "unknown"
        blocked = limiter.retry_after(client)
        conditions = (
            request.headers.get("if-none-match"),
            request.headers.get("if-modified-since"),
        )
        # answered from memory when nothing changed (and the check cannot block), else in
        # full in a worker thread
        head = request.method == "HEAD"
        outcome = service.remembered(token, client, conditions, blocking=False, head=head)
        if outcome is None:
            outcome = await run_in_threadpool(
                service.lookup,
                token,
                client,
                blocked is None,  # a refused flood is not written to the database
                conditions,
                head,
            )
        if outcome.feed is None:
            delay = limiter.fail(client)
            if blocked is not None:
                log.warning("feed fetch token=- status=429 client=%s", client)
                return PlainTextResponse(
                    "Too Many Requests", status_code=429, headers={"Retry-After": str(blocked)}
                )
            if delay:
                await asyncio.sleep(delay)
            log.info("feed fetch token=- status=404 client=%s", client)
            return PlainTextResponse("Not Found", status_code=404)
        feed, modified = outcome.feed, outcome.last_modified
        assert modified is not None
        log.info(
            "feed fetch token=%s status=%s client=%s", outcome.token_id, outcome.status, client
        )
        headers = {
            "ETag": feed.etag,
            "Last-Modified": format_datetime(modified.astimezone(dt.UTC), usegmt=True),
            "Cache-Control": CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if outcome.status == 304:
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = 'inline; filename="spo-deadlines.ics"'
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(feed.body))
            return Response(b"", media_type=CONTENT_TYPE, headers=headers)
        return Response(feed.body, media_type=CONTENT_TYPE, headers=headers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Fail at start-up, not on the first fetch, if the database is missing or behind.
        try:
            await run_in_threadpool(service.open)
        except Exception as exc:
            app.state.startup_error = exc  # FeedServer raises it instead of SystemExit
            raise
        flusher = asyncio.create_task(service.flush_forever())
        log.info("calendar feeds ready")
        try:
            yield
        finally:
            flusher.cancel()
            with suppress(asyncio.CancelledError):
                await flusher
            try:
                await run_in_threadpool(service.flush)
            except Exception:
                log.exception("feed fetch log not written at shutdown")
            await run_in_threadpool(service.close)

    app = Starlette(
        routes=[Route("/calendars/{token}.ics", calendar, methods=["GET", "HEAD"])],
        lifespan=lifespan,
    )
    app.state.startup_error = None
    app.state.feeds = service
    return app


#: A client has this long to send a request's headers, from connecting (or from the first
#: byte of its next request on a kept-alive connection); then the connection is closed.
HEADER_TIMEOUT = 10.0
#: The most a request's line and headers may take: a feed request needs a few hundred bytes.
MAX_HEADER_BYTES = 16 * 1024


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the two limits it lacks (``timeout_keep_alive``
    only covers the wait between requests): a request's headers must arrive within
    ``header_timeout`` seconds, or the connection is closed (with ``408`` if anything
    arrived); and they may not exceed ``max_header_bytes``, or the answer is ``431`` and the
    connection is closed. So slow or oversized clients hold neither a connection nor memory
    for long. A reverse proxy in front usually enforces the same (nginx
    ``client_header_timeout``, ``large_client_header_buffers``)."""

    header_timeout = HEADER_TIMEOUT
    max_header_bytes = MAX_HEADER_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        super().connection_made(transport)
        self._await_head()

    def _await_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _head_done(self) -> None:
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_timer is not None:  # still reading a request's line and headers
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, "Request Header Fields Too Large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._await_head()  # the next request on a kept-alive connection
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_done()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal of ours already answered
            super().send_400_response(msg)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(408, "Request Timeout")
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        self._refused = True
        self._head_done()
        log.info("feed request refused: %s %s (client=%s)", status, reason, self.client)
        body = reason.encode("ascii")
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode("ascii")
            + body
        )
        self.transport.close()


class FeedServer(uvicorn.Server):
    """uvicorn's server; with ``handle_signals=False`` it leaves signal handling to the
    program that embeds it (``spo run``), which stops it by setting ``should_exit``."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool = True) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals
        self.bound: list[socket.socket] | None = None  # sockets bound beforehand (``listen``)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until ``should_exit``; a failed start-up raises its cause (e.g.
        DatabaseNotReady), not uvicorn's SystemExit."""
        try:
            await super().serve(sockets if sockets is not None else self.bound)
        except SystemExit:
            app = self.config.app
            error = getattr(getattr(app, "state", None), "startup_error", None)
            if isinstance(error, BaseException):
                raise error from None
            raise

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            with nullcontext():
                yield


def listen(host: str, port: int, *, setting: str) -> socket.socket:
    """The feed server's socket, bound before anything starts: a port another process holds
    is one line naming the port and what to change (``setting``), and a non-zero exit within
    moments, not uvicorn's traceback and a service left hanging."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port} for calendar feeds ({exc.strerror or exc}): {setting}",
        ) from None
    return sock


def build_server(
    env: Env,
    host: str | None = None,
    port: int | None = None,
    *,
    throttle: BadTokenThrottle | None = None,
    fetch_log: FetchLog | None = None,
    handle_signals: bool = True,
    header_timeout: float = HEADER_TIMEOUT,
) -> FeedServer:
    """A uvicorn server for the feeds (``await server.serve()``); host and port default to
    the settings. The access log is off: it would print the token in the path."""
    settings = env.settings
    app = create_app(env, throttle=throttle, fetch_log=fetch_log)
    _silence_access_log()
    config = uvicorn.Config(
        app,
        host=host or settings.feed_host,
        port=port if port is not None else settings.feed_port,
        access_log=False,
        log_config=None,  # keep the caller's logging set-up
        server_header=False,
        lifespan="on",
        ws="none",  # plain HTTP only
        # httptools, with a header timeout and size limit
        http=type("GuardedHttp", (GuardedHttp,), {"header_timeout": header_timeout}),
    )
    return FeedServer(config, handle_signals=handle_signals)


def serve(env: Env, host: str | None = None, port: int | None = None) -> None:
    """Serve the feeds until interrupted (Ctrl+C or SIGTERM)."""
    import sys

    with env.reading():  # a missing database is a one-line error, not a trace
        pass
    server = build_server(env, host, port)
    sock = listen(
        server.config.host,
        server.config.port,
        setting="choose another with --port (or feed_port, SPO_FEED_PORT)",
    )
    sys.stderr.write(
        f"serving calendar feeds on http://{server.config.host}:{server.config.port}"
        "/calendars/TOKEN.ics (Ctrl+C to stop)\n"
    )
    server.run(sockets=[sock])
