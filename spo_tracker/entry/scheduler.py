"""APScheduler wiring for ``spo run``: jobs only call the service's use cases.

Jobs live in memory with fixed ids; the truth is in the database, so a restart, a second
instance or a missed run loses nothing. Every job coalesces, runs one at a time and has no
misfire limit (the default 1 s grace would silently skip the 07:00 digest after downtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..app import SpoError, notify
from ..app.calendars import write_calendar_folder
from ..bootstrap import Env, FixedClock

if TYPE_CHECKING:
    from ..app.notify import Transport

log = logging.getLogger("spo.run")


class FeedServerStopped(SpoError):
    """The feed server inside ``spo run`` ended without being asked to."""


@dataclass
class Service:
    env: Env
    transport: Transport

    @classmethod
    def build(cls, env: Env, now: dt.datetime | None = None) -> Service:
        if now is not None:
            env.clock = FixedClock(now)
        return cls(env=env, transport=env.transport())

    @property
    def settings(self) -> Any:
        return self.env.settings

    def check(self) -> None:
        """Refuse to start on a database that is missing or not at this version's schema."""
        with self.env.reading():
            pass

    def sweep_once(self) -> None:
        now = self.env.now()
        result = notify.sweep_once(self.env, now=now)
        if result.queued or result.recomputed:
            log.info(
                "sweep: %d email(s) queued, %d subject(s) recomputed",
                result.queued,
                result.recomputed,
            )
        self.write_calendars(now)

    def watchdog_once(self) -> None:
        notify.watchdog_once(self.env, now=self.env.now())

    def write_calendars(self, now: dt.datetime) -> None:
        if self.settings.calendar_folder:
            write_calendar_folder(self.env, now=now)

    async def deliver_once(self) -> None:
        result = await notify.deliver(self.env, transport=self.transport, now=self.env.now())
        if result.sent or result.failed or result.dead or result.uncertain or result.dropped:
            log.info(
                "delivery: %d sent, %d to retry, %d undeliverable, %d uncertain, "
                "%d dropped (no longer true)",
                result.sent,
                result.failed,
                result.dead,
                result.uncertain,
                result.dropped,
            )

    async def once(self) -> None:
        await asyncio.to_thread(self.sweep_once)
        await self.deliver_once()
        # an email that went dead in this pass is reported now, not a sweep later
        await asyncio.to_thread(self.watchdog_once)
        await self.deliver_once()

    async def forever(self, *, serve_feeds: Any | None = None) -> None:
        """Run until SIGINT/SIGTERM; ``serve_feeds`` is a feed server to run alongside."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        self.env.load_write_side()  # before any worker thread or the feed server starts
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        busy = asyncio.Lock()

        async def sweep_and_deliver() -> None:
            async with busy:
                try:
                    await asyncio.to_thread(self.sweep_once)
                except Exception:
                    log.exception("sweep failed")
                try:
                    await self.deliver_once()
                except Exception:
                    log.exception("delivery failed")

        async def deliver() -> None:
            async with busy:
                try:
                    await self.deliver_once()
                except Exception:
                    log.exception("delivery failed")

        async def watch() -> None:
            try:
                await asyncio.to_thread(self.watchdog_once)
            except Exception:
                log.exception("watchdog failed")

        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=self.env.timezone,
        )
        now = self.env.now()
        scheduler.add_job(
            sweep_and_deliver,
            IntervalTrigger(minutes=self.settings.sweep_minutes),
            id="sweep",
            replace_existing=True,
            next_run_time=now,
        )
        scheduler.add_job(
            deliver,
            IntervalTrigger(seconds=self.settings.delivery_seconds),
            id="deliver",
            replace_existing=True,
        )
        clock = self.settings.digest_clock()
        # cron on wall-clock time in the force's zone: 07:00 stays 07:00 across clock changes
        scheduler.add_job(
            sweep_and_deliver,
            CronTrigger(hour=clock.hour, minute=clock.minute, timezone=self.env.timezone),
            id="digest",
            replace_existing=True,
        )
        scheduler.add_job(watch, IntervalTrigger(minutes=1), id="watchdog", replace_existing=True)
        scheduler.start()
        server_task = None
        if serve_feeds is not None:
            server_task = asyncio.create_task(serve_feeds.serve())
            # a feed server that stops on its own stops the service: exit, and let the
            # service manager see it, rather than run on half-working or hang
            server_task.add_done_callback(lambda _task: stop.set())
        log.info(
            "spo run: sweeping every %d min, digest at %s %s, mail via %s",
            self.settings.sweep_minutes,
            self.settings.digest_time,
            self.env.timezone,
            self.transport.describe(),
        )
        server_ended = False
        try:
            await stop.wait()
            server_ended = server_task is not None and server_task.done()
        finally:
            log.info("spo run: shutting down")
            scheduler.shutdown(wait=False)
            if server_task is not None and serve_feeds is not None:
                serve_feeds.should_exit = True
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(server_task, timeout=10)
            async with busy:  # let a running sweep or delivery finish its transaction
                pass
        if server_ended and server_task is not None:
            failure = None if server_task.cancelled() else server_task.exception()
            if isinstance(failure, Exception):
                raise failure
            raise FeedServerStopped("the calendar feed server stopped: spo run stops too")
