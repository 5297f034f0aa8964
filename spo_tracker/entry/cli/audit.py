"""``spo audit``: the change audit, the access log (who saw, changed and sent what) and
the check of their hash chains."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import ShowByDefault, env, one_format, optional_date, print_json, say
from .views import print_table

audit_app = typer.Typer(
    cls=ShowByDefault,
    help="Accountability: spo audit [REF] shows the change audit; spo audit access the "
    "access log (Data Protection Act 2018 s62); spo audit verify checks both are unaltered.",
    no_args_is_help=False,
)


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="[REF]", help="Subject, order or flag reference, or officer email."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """The change audit: who changed what and when, with before and after (the SCU).

    Example: spo audit S-001
    """
    from ...app import records

    entries = records.audit(env(ctx), ref)
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "entity": e.entity,
            "entity_id": e.entity_id,
            "subject": e.subject_ref,
            "ref": e.ref,
            "before": e.before,
            "after": e.after,
        }
        for e in entries
    ]
    if as_json:
        print_json({"schema_version": 1, "entries": rows})
        return
    print_table(
        ("at (UTC)", "actor", "action", "ref", "change"),
        [
            (
                str(row["at"])[:19].replace("T", " "),
                str(row["actor"]),
                str(row["action"]),
                str(row["ref"] or ""),
                _change(row["before"], row["after"]),
            )
            for row in rows
        ],
    )


def _change(before: object, after: object) -> str:
    if not isinstance(after, dict):
        return ""
    if not isinstance(before, dict):
        return ", ".join(
            f"{k}={v}" for k, v in after.items() if k != "id" and v not in (None, False, [])
        )
    return ", ".join(f"{k}: {before.get(k)} -> {v}" for k, v in after.items() if before.get(k) != v)


@audit_app.command("access")
def audit_access(
    ctx: typer.Context,
    subject: Annotated[
        str | None, typer.Option("--subject", metavar="REF", help="Only rows naming this subject.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="EMAIL", help="Only this acting user.")
    ] = None,
    operation: Annotated[
        str | None,
        typer.Option(
            "--operation",
            metavar="OP",
            help="collection, alteration, consultation, disclosure, combination or erasure.",
        ),
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="From this day (force time zone).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="Up to and including this day.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """The access log: each operation on personal data (collection, alteration,
    consultation, disclosure, combination, erasure) with who, when, which subjects, to
    whom and why. Who looked at S-001 last month; what om1 exported.

    Example: spo audit access --subject S-001 --from 2026-11-01 --to 2026-11-30
    """
    one_format(as_json, as_csv)
    from ...app import accountability

    entries = accountability.access_log(
        env(ctx),
        subject=subject,
        actor=actor,
        operation=operation,
        date_from=optional_date(date_from, "--from"),
        date_to=optional_date(date_to, "--to"),
    )
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "operation": e.operation,
            "what": e.what,
            "purpose": e.purpose,
            "subjects": e.subjects,
            "recipients": e.recipients,
            "detail": e.detail,
        }
        for e in entries
    ]
    if as_json:
        print_json({"schema_version": 1, "entries": rows})
        return
    if as_csv:
        import csv
        import json
        import sys

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **row,
                    "subjects": " ".join(row["subjects"]),  # type: ignore[arg-type]
                    "recipients": " ".join(row["recipients"]),  # type: ignore[arg-type]
                    "detail": json.dumps(row["detail"], sort_keys=True),
                }
            )
        return
    print_table(
        ("at (UTC)", "actor", "operation", "what", "subjects", "to", "purpose"),
        [
            (
                str(row["at"])[:19].replace("T", " "),
                str(row["actor"]),
                str(row["operation"]),
                str(row["what"]),
                _few(row["subjects"]),  # type: ignore[arg-type]
                _few(row["recipients"]),  # type: ignore[arg-type]
                str(row["purpose"]),
            )
            for row in rows
        ],
    )


def _few(items: list[str], shown: int = 3) -> str:
    if len(items) <= shown:
        return " ".join(items)
    return " ".join(items[:shown]) + f" (+{len(items) - shown} more)"


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check that the change audit and the access log are unaltered: each row's hash chains
    to the one before. Exits 1 naming the first row altered, inserted or removed.

    Example: spo audit verify
    """
    from ...app import accountability

    breaks = accountability.verify_chains(env(ctx))
    if breaks:
        for found in breaks:
            typer.echo(f"error: {found}", err=True)
        raise typer.Exit(1)
    say("audit_log and access_log: the hash chains are whole")
