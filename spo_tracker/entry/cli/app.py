"""The root ``spo`` app, its global options and the record-wide commands."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click as click
from typer.core import TyperGroup

from ... import __version__
from . import admin, audit, calendars, corrections, deadlines, events, orders, people, service
from .common import env, print_json, say
from .views import print_table

# `spo --help` lists the commands by what they are for, in this order.
GROUPS = {
    "Recording the facts": (
        "officer", "subject", "allocate", "order", "condition", "renewal", "visit", "breach",
        "notification", "flag", "transfer", "review", "smp", "checklist", "correct", "void",
        "show", "import", "export", "audit",
    ),
    "Deadlines and reports": ("due", "plan", "explain", "action", "recompute", "policy", "report"),
    "The email service": ("run", "status", "outbox", "mail"),
    "Calendars": ("calendar", "serve"),
    "Administration": ("init", "db", "doctor", "backup", "restore", "retention"),
}  # fmt: skip


class GroupedHelp(TyperGroup):
    """The root command, listing its commands in the sections of GROUPS."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:  # noqa: ARG002
        width = formatter.width or 80
        limit = width - 6 - max(len(name) for name in self.commands)
        placed = [name for names in GROUPS.values() for name in names]
        others = [n for n in self.commands if n not in placed]
        for title, names in [*GROUPS.items(), ("Other commands", tuple(others))]:
            rows = []
            for name in names:
                command = self.commands.get(name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


app = typer.Typer(
    name="spo",
    cls=GroupedHelp,
    help="Keep on top of every Stalking Protection Order you manage.\n\n"
    "Example: spo --db caseload.db subject list",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # plain help output: the rich formatter costs ~80 ms of imports on every start-up
    rich_markup_mode=None,
)
app.add_typer(people.officer_app, name="officer")
app.add_typer(people.subject_app, name="subject")
app.add_typer(orders.order_app, name="order")
app.add_typer(orders.condition_app, name="condition")
app.add_typer(orders.renewal_app, name="renewal")
app.add_typer(events.visit_app, name="visit")
app.add_typer(events.breach_app, name="breach")
app.add_typer(events.notification_app, name="notification")
app.add_typer(events.flag_app, name="flag")
app.add_typer(events.transfer_app, name="transfer")
app.add_typer(events.review_app, name="review")
app.add_typer(events.smp_app, name="smp")
app.add_typer(corrections.checklist_app, name="checklist")
app.add_typer(audit.audit_app, name="audit")
app.command("correct")(corrections.correct)
app.command("void")(corrections.void)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("allocate")(people.allocate)
app.command("due")(deadlines.due)
app.command("explain")(deadlines.explain)
app.command("plan")(deadlines.plan)
app.command("recompute")(deadlines.recompute)
app.add_typer(deadlines.action_app, name="action")
app.add_typer(deadlines.policy_app, name="policy")
app.add_typer(deadlines.report_app, name="report")
app.command("backup")(admin.backup)
app.command("restore")(admin.restore)
app.command("doctor")(admin.doctor)
app.add_typer(admin.retention_app, name="retention")
app.command("run")(service.run)
app.command("status")(service.status)
app.add_typer(service.outbox_app, name="outbox")
app.add_typer(service.mail_app, name="mail")
app.add_typer(calendars.calendar_app, name="calendar")
app.command("serve")(calendars.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spo-tracker {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH|URL",
            help="SQLite file or SQLAlchemy URL. Default: $SPO_DB, else "
            "~/.local/share/spo-tracker/spo.db.",
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USER",
            help="Acting user for the audit trail. Default: $SPO_USER, else the OS user.",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            metavar="FILE|NAME",
            help="Policy file, or the name of a shipped one. Default: $SPO_POLICY, else "
            "west-yorkshire.",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", metavar="FILE", help="Settings file (TOML). Default: $SPO_CONFIG."
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose",
            metavar="TEXT",
            help="Why you are doing this, for the access log (Data Protection Act 2018 "
            "s62). Default: the command's own (case management, supervision, compliance "
            "reporting...).",
        ),
    ] = None,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Never page long output on a terminal. Default: page it with $SPO_PAGER, "
            "else $PAGER, else less.",
        ),
    ] = False,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    from ...bootstrap import Env
    from . import views

    views.PAGING[0] = not no_pager
    ctx.obj = Env(db=db, actor=as_, policy=policy, config=config)
    if purpose is not None:
        from ...app import accountability

        ctx.obj.purpose = accountability.purpose(purpose)
    ctx.call_on_close(ctx.obj.close)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the database, or bring its schema up to date.

    Example: spo --db caseload.db init
    """
    _upgrade(ctx, created_verb=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Run the schema migrations up to this version's head.

    Example: spo db upgrade
    """
    _upgrade(ctx, created_verb=False)


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show which database is used and its schema revision.

    Example: spo db current
    """
    from ...app import admin as use

    database, revision = use.current(env(ctx))
    status = "up to date" if revision == use.SCHEMA_HEAD else f"needs upgrade to {use.SCHEMA_HEAD}"
    say(f"{database}: revision {revision or 'none'} ({status})")


def _upgrade(ctx: typer.Context, *, created_verb: bool) -> None:
    from ...app import admin as use

    done = use.upgrade(env(ctx), create=created_verb)
    if done.before is None:
        say(f"initialised {done.database} (schema {done.after})")
    elif done.before == done.after:
        say(f"{done.database} is up to date (schema {done.after})")
    else:
        say(f"upgraded {done.database} from schema {done.before} to {done.after}")


@app.command("show")
def show(
    ctx: typer.Context,
    subject_ref: Annotated[str, typer.Argument(metavar="REF", help="Subject reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history", help="Also every correction and void, with the earlier versions."
        ),
    ] = False,
) -> None:
    """Show a subject's details and whole timeline, each fact with its record id (what
    spo correct and spo void take).

    Example: spo show S-001 --history
    """
    from ...app import records

    e = env(ctx)
    subject, entries, changes = records.show(e, subject_ref, with_history=history)
    if as_json:
        doc: dict[str, object] = {
            "schema_version": 1,
            "subject": records.as_json(subject),
            "timeline": [
                {
                    "date": x.date.isoformat() if x.date else None,
                    "kind": x.kind,
                    "text": x.text,
                    "record": x.record,
                }
                for x in entries
            ],
        }
        if changes is not None:
            doc["history"] = records.as_json(changes.revisions)
        print_json(doc)
        return
    risk = subject.current_risk() or "not graded"
    aliases = [n.name for n in subject.names if n.kind.value == "alias"]
    details = [
        ("aliases", ", ".join(aliases) or "-"),
        ("date of birth", str(subject.date_of_birth or "-")),
        ("risk", str(risk)),
        ("offender manager", subject.current_officer() or "unallocated"),
        ("address", subject.current_address() or "-"),
        ("domestic abuse", "yes" if subject.domestic_abuse else "no"),
        (
            "registered sex offender",
            (
                "yes"
                + (f", exempt until {subject.rso_exempt_until}" if subject.rso_exempt_until else "")
            )
            if subject.registered_sex_offender
            else "no",
        ),
        ("PNC / Niche", f"{subject.pnc_ref or '-'} / {subject.niche_ref or '-'}"),
    ]
    say(f"{subject.reference}  {subject.current_name()}")
    for label, value in details:
        say(f"  {label:<24}{value}")
    print_table(
        ("date", "kind", "what", "record"),
        [(str(x.date or ""), x.kind, x.text, x.record or "") for x in entries],
        title="Timeline",
        keep=("record",),
    )
    if changes is None:
        return
    print_table(
        ("when", "by", "record", "change", "reason", "before", "after"),
        [
            (
                f"{r.at:%Y-%m-%d %H:%M}",
                r.by,
                r.record,
                str(r.change),
                r.reason,
                _image(r.before),
                _image(r.after) if r.after is not None else "-",
            )
            for r in changes.revisions
        ],
        title="Corrections and voids",
        keep=("record",),
    )


def _image(values: dict[str, object]) -> str:
    return ", ".join(
        f"{k}={v}" for k, v in values.items() if k != "id" and v not in (None, [], False)
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.json", help="An export document.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; change nothing.")
    ] = False,
) -> None:
    """Import a whole record (officers and subjects) from JSON: all or nothing.

    Every error is listed with its path, e.g. subjects[3].orders[0].expires.

    Example: spo import data/demo/caseload.json --dry-run
    """
    import sys

    from ...app import ImportRejected, one_line, records

    try:
        with _import_progress() as progress:
            officers, subjects = records.import_file(
                env(ctx), file, dry_run=dry_run, progress=progress
            )
    except ImportRejected as exc:
        for path, message in exc.errors:
            sys.stderr.write(f"error: {one_line(path)}: {one_line(message)}\n")
        if exc.stopped:
            sys.stderr.write(
                f"error: import rejected: stopped after {len(exc.errors)} errors (the rest of "
                "the file was not checked), nothing imported\n"
            )
        else:
            sys.stderr.write(
                f"error: import rejected: {len(exc.errors)} error(s), nothing imported\n"
            )
        raise typer.Exit(2) from None
    if dry_run:
        say(f"{file}: valid ({officers} officers, {subjects} subjects); nothing imported")
        return
    say(f"imported {officers} officers and {subjects} subjects from {file}")


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Export the whole record as one JSON document (format spo-tracker, schema_version 1).

    Example: spo export -o backup.json
    """
    import sys

    from ...app import records

    if output is None:
        sys.stdout.write(records.export_text(env(ctx)))
        return
    records.export_file(env(ctx), output)
    say(f"exported to {output}")


@contextmanager
def _import_progress() -> Iterator[Callable[[int, int], None]]:
    """``progress(done, total)`` drawing a bar on stderr once the import is large."""
    from .common import err_console

    bar: Any = None
    task: Any = None
    try:

        def progress(done: int, total: int) -> None:
            nonlocal bar, task
            if total < 2_000_000:  # bytes: about 200 subjects
                return
            if bar is None:
                from rich.progress import Progress

                bar = Progress(console=err_console(), transient=True)
                bar.start()
                task = bar.add_task("importing subjects", total=total)
            bar.update(task, completed=done)

        yield progress
    finally:
        if bar is not None:
            bar.stop()
