"""``spo run``, ``spo status``, ``spo outbox`` and ``spo mail preview``."""

from typing import Annotated, Any

import typer

from .common import env, parse_timestamp, print_json, say
from .views import print_table

outbox_app = typer.Typer(
    help="The email outbox: list (spo outbox), retry.", invoke_without_command=True
)
mail_app = typer.Typer(help="Email templates.", no_args_is_help=True)


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

    from ...app import InvalidInput
    from ..scheduler import Service

    if now is not None and not once:
        raise InvalidInput("--now only works with --once", field="--now")
    e = env(ctx)
    e.actor = e.settings.service_account  # the service acts, and is logged, as itself
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    service = Service.build(e, parse_timestamp(now, "--now") if now is not None else None)
    service.check()  # a missing or outdated database is reported here, before anything starts
    if once:
        asyncio.run(service.once())
        say(f"swept and delivered once; mail via {service.transport.describe()}")
        return
    serve = None
    if e.settings.serve_feeds:
        serve = _feed_server(e)
    asyncio.run(service.forever(serve_feeds=serve))


def _feed_server(e: Any) -> Any:
    """The calendar feed server, run inside ``spo run`` (which owns the signals), on a socket
    bound now: a port already taken stops ``spo run`` here, before anything starts."""
    from ..server import build_server, listen

    server = build_server(e, handle_signals=False)
    server.bound = [
        listen(
            server.config.host,
            server.config.port,
            setting="give each instance on a host its own feed_port (SPO_FEED_PORT), or "
            "turn its feeds off with serve_feeds = false (SPO_SERVE_FEEDS=false)",
        )
    ]
    return server


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIMESTAMP",
            help="Judge staleness as if it were this moment (after spo run --once --now).",
        ),
    ] = None,
) -> None:
    """The service's health: last sweep and delivery, queue depth, failures. Exit status 1
    when something needs attention (a stale or missing sweep or delivery, undeliverable
    mail or mail whose delivery is uncertain), so monitoring can run it.

    Example: spo status --json
    """
    from ...app import notify

    health = notify.status(env(ctx), parse_timestamp(now, "--now") if now is not None else None)
    doc = {
        "schema_version": 1,
        "ok": not health.problems,
        "problems": health.problems,
        "last_sweep": health.last_sweep,
        "last_delivery": health.last_delivery,
        "queue": health.queue,
        "dead": [
            {"id": r.id, "recipient": r.recipient, "kind": r.kind, "error": r.last_error}
            for r in health.dead
        ],
        "uncertain": [
            {"id": r.id, "recipient": r.recipient, "kind": r.kind, "error": r.last_error}
            for r in health.uncertain
        ],
    }
    if as_json:
        print_json(doc)
    else:
        q = health.queue
        say(f"last sweep:    {health.last_sweep or 'never'}")
        say(f"last delivery: {health.last_delivery or 'never'}")
        say(
            f"queue:         {q['pending']} pending, {q['failed']} to retry, {q['sent']} sent, "
            f"{q['dead']} undeliverable, {q['uncertain']} delivery uncertain, "
            f"{q['dropped']} dropped (no longer true when due to go)"
        )
        for problem in health.problems:
            say(f"problem:       {problem}")
    if health.problems:
        raise typer.Exit(1)


@outbox_app.callback()
def outbox_list(
    ctx: typer.Context,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="Only messages waiting to retry, undeliverable or uncertain."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """List queued and sent emails (newest first).

    Example: spo outbox --failed
    """
    if ctx.invoked_subcommand is not None:
        return
    from ...app import notify

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
            "interrupted_at": r.interrupted_at.isoformat() if r.interrupted_at else None,
        }
        for r in notify.outbox_list(env(ctx), failed=failed)
    ]
    if as_json:
        print_json({"schema_version": 1, "messages": rows})
        return
    print_table(
        ("id", "state", "kind", "to", "subject", "attempts", "error"),
        [
            (
                str(r["id"]),
                str(r["state"]),
                str(r["kind"]),
                str(r["recipient"]),
                str(r["subject"]),
                str(r["attempts"]),
                str(r["error"] or ""),
            )
            for r in rows
        ],
    )
    if not rows:
        say("no messages")


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID", help="Outbox message id.")],
) -> None:
    """Queue a failed, undeliverable or uncertain message again, now.

    Example: spo outbox retry 42
    """
    from ...app import notify

    notify.retry(env(ctx), message_id)
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
    from ...app import notify

    rendered = notify.preview(env(ctx), template, action_id=action_id)
    say(f"Subject: {rendered.subject}\n")
    say(rendered.html if html else rendered.text)
