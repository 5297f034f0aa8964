"""``spo run``, ``spo status``, ``spo outbox`` and ``spo mail preview``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from .common import console, print_json, say, state, store

outbox_app = typer.Typer(
    help="The email outbox: list (spo outbox), retry.", invoke_without_command=True
)
mail_app = typer.Typer(help="Email templates.", no_args_is_help=True)


def _now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    from .deadlines import parse_timestamp

    return parse_timestamp(value, "--now")


def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One sweep and one delivery pass, then exit (cron).")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIMESTAMP",
            help="With --once: act as if it were this moment (replays, acceptance checks).",
        ),
    ] = None,
) -> None:
    """The service: queue and send reminders, escalations, change notices, breach alerts and
    daily digests; serve calendar feeds when configured. Stop with Ctrl-C or SIGTERM.

    Without an SMTP server (SPO_SMTP_URL) mail is written to a local maildir.

    Example: spo run --once
    """
    import asyncio
    import logging

    from ..errors import InvalidInput
    from ..scheduler import build_service

    if now is not None and not once:
        raise InvalidInput("--now only works with --once", field="--now")
    st = state(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = st.settings()
    service = build_service(st.db, settings, st.policy(), _now(now))
    with store(ctx):
        pass  # a missing or outdated database is reported here, before anything starts
    if once:
        asyncio.run(service.once())
        say(f"swept and delivered once; mail via {service.transport.describe()}")
        return
    serve = None
    if settings.serve_feeds:
        serve = _feed_server(st.db, settings, st.policy())
    asyncio.run(service.forever(serve_feeds=serve))


def _feed_server(db: str | None, settings: Any, policy: Any) -> Any:
    """The calendar feed server, run inside ``spo run`` (which owns the signals)."""
    from ..server import build_server

    return build_server(
        db, settings, policy, settings.feed_host, settings.feed_port, handle_signals=False
    )


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """The service's health: last sweep and delivery, queue depth, failures.

    Example: spo status --json
    """
    from ..service import DELIVERY_HEARTBEAT, HEARTBEAT
    from ..store import outbox

    with store(ctx) as s:
        doc = {
            "schema_version": 1,
            "last_sweep": outbox.get_state(s.session, HEARTBEAT),
            "last_delivery": outbox.get_state(s.session, DELIVERY_HEARTBEAT),
            "queue": outbox.counts(s.session),
            "dead": [
                {"id": r.id, "recipient": r.recipient, "kind": r.kind, "error": r.last_error}
                for r in s.dead_messages(include_watchdog=True)
            ],
        }
    if as_json:
        print_json(doc)
        return
    q: dict[str, int] = doc["queue"]  # type: ignore[assignment]
    say(f"last sweep:    {doc['last_sweep'] or 'never'}")
    say(f"last delivery: {doc['last_delivery'] or 'never'}")
    say(
        f"queue:         {q['pending']} pending, {q['failed']} to retry, {q['sent']} sent, "
        f"{q['dead']} undeliverable"
    )


@outbox_app.callback()
def outbox_list(
    ctx: typer.Context,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only messages waiting to retry or undeliverable.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """List queued and sent emails (newest first).

    Example: spo outbox --failed
    """
    if ctx.invoked_subcommand is not None:
        return
    from sqlmodel import col, select

    from ..store.service_models import OutboxRow

    with store(ctx) as s:
        query = select(OutboxRow).order_by(col(OutboxRow.id).desc()).limit(500)
        if failed:
            query = query.where(col(OutboxRow.state).in_(["failed", "dead"]))
        rows = [
            {
                "id": r.id,
                "kind": r.kind,
                "state": r.state,
                "recipient": r.recipient,
                "subject": r.subject_line,
                "action": r.action_id,
                "stage": r.stage,
                "attempts": r.attempts,
                "created_at": r.created_at.isoformat(),
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "next_attempt_at": r.next_attempt_at.isoformat(),
                "error": r.last_error,
                "message_id": r.message_id,
            }
            for r in s.session.exec(query).all()
        ]
    if as_json:
        print_json({"schema_version": 1, "messages": rows})
        return
    from rich.table import Table

    table = Table()
    for heading in ("id", "state", "kind", "to", "subject", "attempts", "error"):
        table.add_column(heading)
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["state"]),
            str(r["kind"]),
            str(r["recipient"]),
            str(r["subject"]),
            str(r["attempts"]),
            str(r["error"] or ""),
        )
    console().print(table)
    if not rows:
        say("no messages")


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID", help="Outbox message id.")],
) -> None:
    """Queue a failed or undeliverable message again, now.

    Example: spo outbox retry 42
    """
    from ..errors import InvalidInput, NotFound
    from ..store.service_models import OutboxRow

    with store(ctx) as s:
        row = s.session.get(OutboxRow, message_id)
        if row is None:
            raise NotFound(f"message {message_id} not found", field="id")
        if row.state not in ("failed", "dead"):
            raise InvalidInput(f"message {message_id} is {row.state}, not failed", field="id")
        row.state = "pending"
        row.next_attempt_at = row.created_at  # due at once, whatever moment the service acts as
        row.claimed_at = None
        row.claimed_by = None
        s.session.add(row)
        s.audit("outbox.retry", row, subject_ref=None, ref=str(message_id))
    say(f"message {message_id} queued again")


@mail_app.command("preview")
def mail_preview(
    ctx: typer.Context,
    template: Annotated[
        str,
        typer.Argument(
            metavar="TEMPLATE", help="reminder, escalation, change, breach, digest or watchdog."
        ),
    ],
    action_id: Annotated[
        str | None, typer.Option("--action", metavar="ID", help="Render for this action.")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="Show the HTML part instead.")] = False,
) -> None:
    """Render an email template to the terminal (the subject, then the text part).

    Example: spo mail preview reminder --action 85992ff6f7
    """
    from ..errors import InvalidInput
    from ..mail.render import TEMPLATES, render
    from ..service import _Sweep
    from ..store.repo import action_from_row

    if template not in TEMPLATES:
        raise InvalidInput(f"unknown template (known: {', '.join(TEMPLATES)})", field="template")
    st = state(ctx)
    with store(ctx) as s:
        if action_id is not None:
            action = action_from_row(s.action_row(action_id, "--action"))
        else:
            rows = s.query_actions(
                officers=None, subject=None, rule=None, due_by=None, open_on=None
            )
            if not rows:
                raise InvalidInput("no actions to preview with: give --action", field="--action")
            action = action_from_row(rows[0])
        sweep = _Sweep(s, st.settings(), st.policy(), s.now)
        sweep.subject_initials([action.subject])
        context = sweep.action_context(action)
    sample: dict[str, Any] = {
        "app_url": st.settings().app_url,
        "action": context,
        "role": "the offender manager",
        "interval": st.policy().escalation_interval_days,
        "change": {
            "label": "due date",
            "old": "2026-01-01",
            "new": context["due"],
            "cause": "order.vary",
            "summary": f"moved to {context['due']}",
        },
        "breach": {
            "date": context["trigger_date"],
            "offence": "breach of the order (s8)",
            "crime_ref": "13/12345/26",
            "arrested": True,
        },
        "officer": context["officer"] or "om@force.example",
        "date": context["due"],
        "overdue": [context],
        "today": [],
        "week": [],
        "problems": ["example problem"],
        "queue": {"pending": 0, "failed": 0, "dead": 1},
    }
    rendered = render(template, sample)
    say(f"Subject: {rendered.subject}\n")
    typer.echo(rendered.html if html else rendered.text)
