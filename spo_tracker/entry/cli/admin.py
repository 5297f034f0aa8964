"""``spo backup``, ``spo restore``, ``spo retention``, ``spo doctor``."""

from pathlib import Path
from typing import Annotated

import typer

from .common import AsOf, env, optional_date, print_json, say
from .views import print_table

retention_app = typer.Typer(help="Retention of records after orders end.", no_args_is_help=True)


def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """A consistent online copy of the SQLite database (safe while the service runs).

    Example: spo backup /var/backups/spo-2026-11-23.db
    """
    from ...app import admin as use

    pages = use.backup(env(ctx), file, force=force)
    say(f"backed up to {file} ({pages} pages)")


def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A backup made by spo backup.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the existing database.")] = False,
) -> None:
    """Restore the database from a backup; refuses to replace one without --force.

    Example: spo restore /var/backups/spo-2026-11-23.db --force
    """
    from ...app import admin as use

    database, revision = use.restore(env(ctx), file, force=force)
    say(f"restored {database} from {file} (schema {revision})")
    if revision != use.SCHEMA_HEAD:
        say(f"the backup's schema is {revision}: run `spo db upgrade`")


@retention_app.command("review")
def retention_review(
    ctx: typer.Context,
    as_of: AsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """List subjects whose records are past the policy's retention period.

    Example: spo retention review --json
    """
    from ...app import admin as use

    e = env(ctx)
    day = optional_date(as_of, "--as-of") or e.today()
    expired = use.retention_review(e, as_of=day)
    rows = [
        {
            "subject": e.reference,
            "records_end": e.records_end.isoformat(),
            "keep_until": e.keep_until.isoformat(),
        }
        for e in expired
    ]
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "retention_years": e.policy.retention_years,
                "subjects": rows,
            }
        )
        return
    if not rows:
        say(f"no subject is past its retention period on {day}")
        return
    for r in rows:
        say(f"{r['subject']}: last order ended {r['records_end']}, kept until {r['keep_until']}")


@retention_app.command("purge")
def retention_purge(
    ctx: typer.Context,
    confirm: Annotated[bool, typer.Option("--confirm", help="Really remove them.")] = False,
    as_of: AsOf = None,
) -> None:
    """Remove subjects past their retention period (the audit keeps what and why, no
    personal data).

    Example: spo retention purge --confirm
    """
    from ...app import InvalidInput
    from ...app import admin as use

    if not confirm:
        raise InvalidInput("purging removes records for good: add --confirm", field="--confirm")
    expired = use.purge(env(ctx), as_of=optional_date(as_of, "--as-of"))
    say(f"purged {len(expired)} subject(s): {', '.join(e.reference for e in expired) or '-'}")


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Check permissions, migrations and the quality of the record. Exit status 1 when it
    finds problems.

    Example: spo doctor --json
    """
    from ...app import admin as use

    findings = use.doctor(env(ctx))
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "problems": [
                    {"check": f.check, "message": f.message, "subject": f.subject} for f in findings
                ],
            }
        )
    elif not findings:
        say("no problems found")
    else:
        print_table(
            ("check", "subject", "problem"),
            [(f.check, f.subject or "", f.message) for f in findings],
            title=f"{len(findings)} problem(s)",
        )
    if findings:
        raise typer.Exit(1)
