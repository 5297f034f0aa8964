"""``spo calendar export|token|check`` and ``spo serve``: calendar files and feeds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import as_of_date, console, print_json, say, state, store

calendar_app = typer.Typer(
    help="Calendar files and token-protected subscription feeds.", no_args_is_help=True
)
token_app = typer.Typer(help="Feed tokens: make, list and revoke.", no_args_is_help=True)
calendar_app.add_typer(token_app, name="token")

Officer = Annotated[
    str | None, typer.Option("--officer", metavar="EMAIL", help="This officer's deadlines.")
]
Team = Annotated[str | None, typer.Option("--team", metavar="TEAM", help="This team's deadlines.")]
# Fetching a URL to check: enough for a large feed, bounded so a hostile server cannot fill
# memory.
MAX_FETCH_BYTES = 50 * 1024 * 1024


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
    from .. import feeds

    scope = feeds.scope_from_options(officer=officer, team=team, subject=subject, everyone=everyone)
    day = as_of_date(ctx, as_of)
    st = state(ctx)
    settings, policy = st.settings(), st.policy()
    with store(ctx) as s:
        feed = feeds.build_feed(
            s,
            policy,
            scope,
            as_of=day,
            refresh=settings.feed_refresh,
            include_closed=include_closed,
            timezone=settings.timezone,
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
    from .. import feeds

    scope = feeds.scope_from_options(officer=officer, team=team, allowed=feeds.TOKEN_SCOPES)
    settings = state(ctx).settings()
    with store(ctx) as s:
        new = feeds.create_token(s, scope=scope, label=label, base_url=settings.feed_base_url)
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
    from .. import feeds

    with store(ctx) as s:
        tokens = feeds.list_tokens(s)
    if as_json:
        print_json({"schema_version": 1, "tokens": [t.as_json() for t in tokens]})
        return
    if not tokens:
        say("no feed tokens")
        return
    from rich.table import Table

    table = Table()
    for heading in ("id", "for", "label", "created", "by", "state", "last used", "fetches"):
        table.add_column(heading, no_wrap=True)
    for t in tokens:
        table.add_row(
            str(t.id),
            t.scope.describe(),
            t.label or "",
            t.created_at.strftime("%Y-%m-%d %H:%M"),
            t.created_by,
            "active" if t.revoked_at is None else f"revoked {t.revoked_at:%Y-%m-%d}",
            t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never",
            str(t.fetch_count),
        )
    console().print(table)


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
    from .. import feeds

    with store(ctx) as s:
        info, changed = feeds.revoke_token(s, token_id)
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
    from .. import ical

    data, problems = _read_source(source)
    result = ical.lint(data)
    problems += result.problems
    parsers = ["icalendar"]
    if result.parsed:
        for name, outcome in _other_parsers(data):
            if outcome is None:
                parsers.append(name)
            else:
                problems.append(outcome)
    for problem in problems:
        typer.echo(f"problem: {problem}")
    shown = _redact(source)
    if problems:
        typer.echo(f"{shown}: {len(problems)} problem(s), {result.events} event(s)")
        raise typer.Exit(2)
    say(f"{shown}: ok, {result.events} event(s); parsed by {', '.join(parsers)}")


def _redact(source: str) -> str:
    """A feed URL without its token (it is a secret)."""
    import re

    return re.sub(r"/calendars/[^/?#]+\.ics", "/calendars/<token>.ics", source)


def _read_source(source: str) -> tuple[bytes, list[str]]:
    from ..errors import InvalidInput

    if "://" not in source:
        try:
            return Path(source).read_bytes(), []
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc.strerror}", field="source") from None
    import urllib.error
    import urllib.request

    url = source
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput("only file paths and http(s) or webcal URLs", field="source")
    request = urllib.request.Request(url, headers={"User-Agent": "spo-tracker calendar check"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read(MAX_FETCH_BYTES + 1)
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise InvalidInput(f"{_redact(source)} answered {exc.code}", field="source") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidInput(f"cannot fetch {_redact(source)}: {reason}", field="source") from None
    problems = []
    if len(data) > MAX_FETCH_BYTES:
        raise InvalidInput(f"{_redact(source)} is larger than 50 MB", field="source")
    if not content_type.lower().startswith("text/calendar"):
        problems.append(f"Content-Type is {content_type or 'missing'}, not text/calendar")
    return data, problems


def _other_parsers(data: bytes) -> list[tuple[str, str | None]]:
    """(parser, None if it read the calendar, else the problem) for the independent
    parsers, when installed (they come with the test extras)."""
    results: list[tuple[str, str | None]] = []
    text = data.decode("utf-8", errors="replace")
    try:
        from ical.calendar_stream import IcsCalendarStream
        from ical.exceptions import CalendarParseError
    except ImportError:
        typer.echo("note: the ical package is not installed: strict parse skipped", err=True)
    else:
        try:
            IcsCalendarStream.calendar_from_ics(text)
            results.append(("ical", None))
        except (CalendarParseError, ValueError) as exc:
            results.append(("ical", f"the strict ical parser refuses it: {_short(exc)}"))
    try:
        import icalendar
        import recurring_ical_events
    except ImportError:
        typer.echo("note: recurring-ical-events is not installed: expansion skipped", err=True)
    else:
        try:
            cal = icalendar.Calendar.from_ical(data)
            recurring_ical_events.of(cal).between((2000, 1, 1), (2040, 1, 1))
            results.append(("recurring-ical-events", None))
        except Exception as exc:  # any failure to expand is the finding itself
            results.append(("recurring-ical-events", f"recurring-ical-events fails: {_short(exc)}"))
    return results


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


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

    from ..server import check_database
    from ..server import serve as run_server

    st = state(ctx)
    settings, policy = st.settings(), st.policy()
    check_database(st.db)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
        )
    bind_host = host or settings.feed_host
    bind_port = port or settings.feed_port
    sys.stderr.write(
        f"serving calendar feeds on http://{bind_host}:{bind_port}/calendars/TOKEN.ics "
        "(Ctrl+C to stop)\n"
    )
    run_server(st.db, settings, policy, bind_host, bind_port)
