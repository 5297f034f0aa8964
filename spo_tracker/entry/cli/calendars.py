"""``spo calendar export|token|check`` and ``spo serve``: calendar files and feeds."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import env, optional_date, print_json, say
from .views import print_table

calendar_app = typer.Typer(
    help="Calendar files and token-protected subscription feeds.", no_args_is_help=True
)
token_app = typer.Typer(help="Feed tokens: make, list and revoke.", no_args_is_help=True)
calendar_app.add_typer(token_app, name="token")

Officer = Annotated[
    str | None, typer.Option("--officer", metavar="EMAIL", help="This officer's deadlines.")
]
Team = Annotated[str | None, typer.Option("--team", metavar="TEAM", help="This team's deadlines.")]


@calendar_app.command("export")
def export(
    ctx: typer.Context,
    officer: Officer = None,
    team: Team = None,
    subject: Annotated[
        str | None, typer.Option("--subject", metavar="REF", help="One subject's deadlines.")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every officer's deadlines.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write here (0600), not stdout."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="DATE", help="Evaluate statuses on this date."),
    ] = None,
    include_closed: Annotated[
        bool,
        typer.Option(
            "--include-closed",
            help="Also done and cancelled actions, as STATUS:CANCELLED (for importing over "
            "an earlier import).",
        ),
    ] = False,
) -> None:
    """Export deadlines as an iCalendar (.ics) file: one all-day event per open action.

    Example: spo calendar export --officer om1@force.example -o om1.ics
    """
    from ...app import calendars as feeds

    scope = feeds.scope_from_options(officer=officer, team=team, subject=subject, everyone=everyone)
    if output is not None:
        feeds.writable_file(output, "--output")  # before anything is read or logged
    feed = feeds.build_feed(
        env(ctx), scope, as_of=optional_date(as_of, "--as-of"), include_closed=include_closed
    )
    if output is None:
        sys.stdout.write(feed.body.decode("utf-8"))
        return
    feeds.atomic_write(output, feed.body)
    say(f"exported {feed.events} event(s) for {scope.describe()} to {output}")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    officer: Officer = None,
    team: Team = None,
    label: Annotated[
        str | None,
        typer.Option("--label", metavar="TEXT", help="A note, e.g. which device it is for."),
    ] = None,
) -> None:
    """Make a feed token and print its https and webcal:// URLs, once.

    Only a hash of the token is stored: the URL cannot be shown again. Paste it into the
    calendar, not into an email or a note.

    Example: spo calendar token create --officer om1@force.example --label "work phone"
    """
    from ...app import calendars as feeds

    scope = feeds.scope_from_options(officer=officer, team=team, allowed=feeds.TOKEN_SCOPES)
    new = feeds.create_token(env(ctx), scope=scope, label=label)
    # printed after the commit: a URL shown is a URL that works
    say(f"feed token {new.id} for {scope.describe()} (shown once; spo stores only a hash)")
    say(f"  {'https' if new.url.startswith('https:') else 'url'}:    {new.url}")
    say(f"  webcal: {new.webcal_url}")
    if not new.url.startswith("https://"):
        sys.stderr.write(
            "warning: feed_base_url is not https: serve the feeds behind a TLS proxy and set "
            "feed_base_url (SPO_FEED_BASE_URL) to its https address\n"
        )


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """List feed tokens (never the tokens themselves) with last use and fetch count.

    Example: spo calendar token list --json
    """
    from ...app import calendars as feeds

    tokens = feeds.list_tokens(env(ctx))
    if as_json:
        print_json({"schema_version": 1, "tokens": [t.as_json() for t in tokens]})
        return
    if not tokens:
        say("no feed tokens")
        return
    print_table(
        ("id", "for", "label", "created", "by", "state", "last used", "fetches"),
        [
            (
                str(t.id),
                t.scope.describe(),
                t.label or "",
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                t.created_by,
                "active" if t.revoked_at is None else f"revoked {t.revoked_at:%Y-%m-%d}",
                t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never",
                str(t.fetch_count),
            )
            for t in tokens
        ],
        no_wrap=True,
    )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[
        int, typer.Argument(metavar="TOKEN_ID", help="The id from `spo calendar token list`.")
    ],
) -> None:
    """Revoke a feed token: its URL answers 404 from now on.

    Example: spo calendar token revoke 3
    """
    from ...app import calendars as feeds

    info, changed = feeds.revoke_token(env(ctx), token_id)
    if changed:
        say(f"revoked feed token {info.id} ({info.scope.describe()})")
    else:
        assert info.revoked_at is not None
        say(f"feed token {info.id} was already revoked on {info.revoked_at:%Y-%m-%d}")


@calendar_app.command("check")
def check(
    source: Annotated[str, typer.Argument(metavar="FILE|URL", help="An .ics file or a URL.")],
) -> None:
    """Check a calendar file or feed the way calendar clients read it; exit 2 on problems.

    Parses it with icalendar, ical and recurring-ical-events, and checks what clients trip
    on: UID and DTSTAMP on every event, all-day events one day long, no duplicate UIDs,
    REFRESH-INTERVAL with VALUE=DURATION. An empty calendar is fine.

    Example: spo calendar check om1.ics
    """
    from ...app import calendars as feeds
    from ...app import one_line

    checked = feeds.check_calendar(source)
    for note in checked.notes:  # what a file or feed says is shown escaped, one line each
        typer.echo(f"note: {one_line(note)}", err=True)
    for problem in checked.problems:
        say(f"problem: {one_line(problem)}")
    if checked.problems:
        typer.echo(
            f"{checked.source}: {len(checked.problems)} problem(s), {checked.events} event(s)"
        )
        raise typer.Exit(2)
    say(f"{checked.source}: ok, {checked.events} event(s); parsed by {', '.join(checked.parsers)}")


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on. Default: feed_host (127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port. Default: feed_port (8080)."),
    ] = None,
) -> None:
    """Serve the calendar feeds over HTTP until interrupted.

    GET and HEAD /calendars/TOKEN.ics; put a TLS proxy in front and set feed_base_url to its
    https address. Access logs show token ids, never tokens.

    Example: spo serve --host 127.0.0.1 --port 8080
    """
    import logging

    from ..server import serve as run_server

    e = env(ctx)
    settings = e.settings
    e.actor = settings.service_account  # the server acts, and is logged, as itself
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
        )
    bind_host = host or settings.feed_host
    bind_port = port or settings.feed_port
    run_server(e, bind_host, bind_port)
