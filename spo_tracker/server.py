"""HTTP: token-protected calendar feeds (Starlette on uvicorn).

``GET``/``HEAD /calendars/{token}.ics`` answers with the calendar of the token's officer or
team, a strong ETag computed from the body and a Last-Modified from the data, and ``304`` when
the client's copy is current. An unknown or revoked token gets a plain ``404`` and nothing
else. Each request is one short transaction of its own, run in a worker thread so the event
loop never waits on the database.

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
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from . import feeds
from .bootstrap import local_today, open_store
from .clock import Clock, SystemClock

if TYPE_CHECKING:
    from .config import Settings
    from .policy import Policy

log = logging.getLogger("spo_tracker.server")
ACTOR = "feed-server"
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


@dataclass(frozen=True)
class _Outcome:
    status: int
    token_id: int | None = None
    feed: feeds.Feed | None = None
    last_modified: dt.datetime | None = None


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


def create_app(
    *,
    db: str | None,
    settings: Settings,
    policy: Policy,
    clock: Clock | None = None,
    throttle: BadTokenThrottle | None = None,
) -> Starlette:
    """The feed application; ``db`` as ``--db`` (None: ``SPO_DB`` or the default)."""
    the_clock: Clock = clock or SystemClock()
    limiter = throttle or BadTokenThrottle()

    def lookup(
        token: str, client: str, log_failure: bool, conditions: tuple[str | None, ...]
    ) -> _Outcome:
        with open_store(db, actor=ACTOR, clock=the_clock) as store:
            row = feeds.verify_token(store, token)
            if row is None:
                if log_failure:
                    feeds.record_fetch(store, token_id=None, status=404, client=client)
                return _Outcome(404)
            assert row.id is not None
            feed = feeds.build_feed(
                store,
                policy,
                feeds.token_scope(row),
                as_of=local_today(the_clock, settings.timezone),
                refresh=settings.feed_refresh,
                strict=False,
                timezone=settings.timezone,
            )
            modified = feeds.served_last_modified(store, row, feed)
            status = 304 if not_modified(conditions[0], conditions[1], feed.etag, modified) else 200
            feeds.record_fetch(store, token_id=row.id, status=status, client=client)
            return _Outcome(status, row.id, feed, modified)

    async def calendar(request: Request) -> Response:
        token = request.path_params["token"]
        client = request.client.host if request.client else "unknown"
        blocked = limiter.retry_after(client)
        outcome = await run_in_threadpool(
            lookup,
            token,
            client,
            blocked is None,  # a refused flood is not written to the database
            (request.headers.get("if-none-match"), request.headers.get("if-modified-since")),
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
            await run_in_threadpool(check_database, db, the_clock)
        except Exception as exc:
            app.state.startup_error = exc  # FeedServer raises it instead of SystemExit
            raise
        log.info("calendar feeds ready")
        yield

    app = Starlette(
        routes=[Route("/calendars/{token}.ics", calendar, methods=["GET", "HEAD"])],
        lifespan=lifespan,
    )
    app.state.startup_error = None
    return app


def check_database(db: str | None, clock: Clock | None = None) -> None:
    """Raise DatabaseNotReady unless the database exists at this version's schema."""
    with open_store(db, actor=ACTOR, clock=clock):
        pass


class FeedServer(uvicorn.Server):
    """uvicorn's server; with ``handle_signals=False`` it leaves signal handling to the
    program that embeds it (``spo run``), which stops it by setting ``should_exit``."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool = True) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until ``should_exit``; a failed start-up raises its cause (e.g.
        DatabaseNotReady), not uvicorn's SystemExit."""
        try:
            await super().serve(sockets)
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


def build_server(
    db: str | None,
    settings: Settings,
    policy: Policy,
    host: str | None = None,
    port: int | None = None,
    *,
    clock: Clock | None = None,
    throttle: BadTokenThrottle | None = None,
    handle_signals: bool = True,
) -> FeedServer:
    """A uvicorn server for the feeds (``await server.serve()``); host and port default to
    the settings. The access log is off: it would print the token in the path."""
    app = create_app(db=db, settings=settings, policy=policy, clock=clock, throttle=throttle)
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
    )
    return FeedServer(config, handle_signals=handle_signals)


def serve(
    db: str | None,
    settings: Settings,
    policy: Policy,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Serve the feeds until interrupted (Ctrl+C or SIGTERM)."""
    check_database(db, SystemClock())  # a missing database is a one-line error, not a trace
    build_server(db, settings, policy, host, port).run()
