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
from typing import Any

from .clock import Clock, FixedClock, SystemClock
from .config import Settings
from .policy import Policy

log = logging.getLogger("spo.run")


@dataclass
class Service:
    db: str | None
    settings: Settings
    policy: Policy
    transport: Any
    clock: Clock

    def sweep_once(self) -> None:
        from . import service
        from .bootstrap import open_store

        now = self.clock.now()
        with open_store(self.db, actor="spo-service", clock=FixedClock(now)) as store:
            # before the sweep refreshes the heartbeat: a cron job that stopped running for a
            # while is noticed on its next run
            service.watchdog(store=store, settings=self.settings, now=now)
            result = service.sweep(store=store, settings=self.settings, policy=self.policy, now=now)
        if result.queued or result.recomputed:
            log.info(
                "sweep: %d email(s) queued, %d subject(s) recomputed",
                result.queued,
                result.recomputed,
            )
        self.write_calendars(now)

    def watchdog_once(self) -> None:
        from . import service
        from .bootstrap import open_store

        now = self.clock.now()
        with open_store(self.db, actor="spo-service", clock=FixedClock(now)) as store:
            service.watchdog(store=store, settings=self.settings, now=now)

    def write_calendars(self, now: dt.datetime) -> None:
        if not self.settings.calendar_folder:
            return
        from . import feeds
        from .bootstrap import local_today, open_store

        today = local_today(FixedClock(now), self.settings.timezone)
        with open_store(self.db, actor="spo-service", clock=FixedClock(now)) as store:
            feeds.write_calendar_folder(store, self.settings, self.policy, today, now)

    async def deliver_once(self) -> None:
        from . import service

        result = await service.deliver(
            db=self.db, settings=self.settings, transport=self.transport, now=self.clock.now()
        )
        if result.sent or result.failed or result.dead:
            log.info(
                "delivery: %d sent, %d to retry, %d undeliverable",
                result.sent,
                result.failed,
                result.dead,
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
            timezone=self.settings.timezone,
        )
        now = dt.datetime.now(dt.UTC)
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
            CronTrigger(hour=clock.hour, minute=clock.minute, timezone=self.settings.timezone),
            id="digest",
            replace_existing=True,
        )
        scheduler.add_job(watch, IntervalTrigger(minutes=1), id="watchdog", replace_existing=True)
        scheduler.start()
        server_task = None
        if serve_feeds is not None:
            server_task = asyncio.create_task(serve_feeds.serve())
        log.info(
            "spo run: sweeping every %d min, digest at %s %s, mail via %s",
            self.settings.sweep_minutes,
            self.settings.digest_time,
            self.settings.timezone,
            self.transport.describe(),
        )
        try:
            await stop.wait()
        finally:
            log.info("spo run: shutting down")
            scheduler.shutdown(wait=False)
            if server_task is not None and serve_feeds is not None:
                serve_feeds.should_exit = True
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(server_task, timeout=10)
            async with busy:  # let a running sweep or delivery finish its transaction
                pass


def build_service(
    db: str | None, settings: Settings, policy: Policy, now: dt.datetime | None
) -> Service:
    from .mail.deliver import transport_from

    transport = transport_from(
        settings.smtp_url,
        settings.smtp_password(),
        settings.smtp_timeout_seconds,
        settings.maildir,
    )
    clock: Clock = FixedClock(now) if now is not None else SystemClock()
    return Service(db=db, settings=settings, policy=policy, transport=transport, clock=clock)
