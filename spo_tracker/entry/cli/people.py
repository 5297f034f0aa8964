"""``spo officer``, ``spo subject`` and ``spo allocate``."""

from typing import TYPE_CHECKING, Annotated

import typer

from ...app import Risk, Role
from .common import env, one_format, optional_date, parse_date, print_json, say
from .views import print_table, write_csv

if TYPE_CHECKING:
    from ...app.records import Subject

officer_app = typer.Typer(
    help="Officers: offender managers, supervisors, the SCU.", no_args_is_help=True
)
subject_app = typer.Typer(help="Subjects: the people SPOs are made against.", no_args_is_help=True)


@officer_app.command("add")
def officer_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="Work email: the officer's id.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    role: Annotated[Role, typer.Option("--role", help="What the officer does.")],
    team: Annotated[str | None, typer.Option("--team", help="Team name.")] = None,
    supervisor: Annotated[
        str | None, typer.Option("--supervisor", metavar="EMAIL", help="Their supervisor.")
    ] = None,
) -> None:
    """Add an officer.

    Example: spo officer add om1@force.example --name "Sam Patel" --role offender-manager
    --team "DAOMU North" --supervisor ds1@force.example
    """
    from ...app import records as d
    from ...app import records as services

    officer = d.Officer(email=email, name=name, role=role, team=team, supervisor=supervisor)
    services.add_officer(env(ctx), officer=officer)
    say(f"added officer {officer.email} ({role.value})")


@officer_app.command("deactivate")
def officer_deactivate(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The officer leaving.")],
) -> None:
    """Mark an officer as no longer active: their calendar feeds are revoked and they can no
    longer be allocated subjects (their current allocations stay until reallocated).

    Example: spo officer deactivate om1@force.example
    """
    from ...app import records

    revoked = records.deactivate_officer(env(ctx), email=email)
    say(f"deactivated {email.lower()}; {revoked} calendar feed(s) revoked")


@officer_app.command("list")
def officer_list(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", help="Only this team.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """List officers.

    Example: spo officer list --json
    """
    from ...app import records

    officers = records.officer_list(env(ctx), team=team)
    if as_json:
        print_json({"schema_version": 1, "officers": [records.as_json(o) for o in officers]})
        return
    print_table(
        ("email", "name", "role", "team", "supervisor", "active"),
        [
            (
                o.email,
                o.name,
                str(o.role),
                o.team or "",
                o.supervisor or "",
                "yes" if o.active else "no (left)",
            )
            for o in officers
        ],
    )


@subject_app.command("add")
def subject_add(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="Force reference, e.g. S-001.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    dob: Annotated[str | None, typer.Option("--dob", metavar="DATE", help="Date of birth.")] = None,
    risk: Annotated[Risk | None, typer.Option("--risk", help="Risk level.")] = None,
    officer: Annotated[
        str | None, typer.Option("--officer", metavar="EMAIL", help="Allocated offender manager.")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="Home address.")] = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Another name used (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="Date the details above apply from."),
    ] = None,
    domestic_abuse: Annotated[
        bool, typer.Option("--domestic-abuse", help="The stalking is domestic abuse.")
    ] = False,
    rso: Annotated[
        bool,
        typer.Option("--registered-sex-offender", help="Subject to sex-offender notification."),
    ] = False,
    rso_until: Annotated[
        str | None,
        typer.Option("--rso-exempt-until", metavar="DATE", help="End of the RSO exemption."),
    ] = None,
    pnc: Annotated[str | None, typer.Option("--pnc", help="PNC reference.")] = None,
    niche: Annotated[str | None, typer.Option("--niche", help="Niche reference.")] = None,
) -> None:
    """Add a subject.

    Example: spo subject add S-001 --name "John Smith" --dob 1980-04-02 --risk high
    --officer om1@force.example --address "1 High St, Leeds"
    """
    from ...app import records as services

    services.add_subject(
        env(ctx),
        reference=ref,
        name=name,
        aliases=alias or [],
        date_of_birth=optional_date(dob, "--dob"),
        risk=risk if risk else None,
        officer=officer,
        address=address,
        since=optional_date(since, "--since"),
        domestic_abuse=domestic_abuse,
        registered_sex_offender=rso,
        rso_exempt_until=optional_date(rso_until, "--rso-exempt-until"),
        pnc_ref=pnc,
        niche_ref=niche,
    )
    say(f"added subject {ref}")


@subject_app.command("update")
def subject_update(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="Subject reference.")],
    date: Annotated[
        str, typer.Option("--date", metavar="DATE", help="Date the change applies from.")
    ],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="New alias (repeatable).")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="New home address.")] = None,
    risk: Annotated[Risk | None, typer.Option("--risk", help="New risk level.")] = None,
    dob: Annotated[
        str | None, typer.Option("--dob", metavar="DATE", help="Corrected date of birth.")
    ] = None,
    domestic_abuse: Annotated[
        bool | None,
        typer.Option("--domestic-abuse/--not-domestic-abuse", help="Domestic abuse or not."),
    ] = None,
    rso_until: Annotated[
        str | None,
        typer.Option("--rso-exempt-until", metavar="DATE", help="End of the RSO exemption."),
    ] = None,
    pnc: Annotated[str | None, typer.Option("--pnc", help="PNC reference.")] = None,
    niche: Annotated[str | None, typer.Option("--niche", help="Niche reference.")] = None,
) -> None:
    """Record a change of name, address, risk level or other details.

    Names, addresses and risk levels keep their history: the new value applies from --date.

    Example: spo subject update S-001 --date 2026-06-01 --address "9 Low Rd, Bradford" --risk medium
    """
    from ...app import records as services

    changed = services.update_subject(
        env(ctx),
        reference=ref,
        on=parse_date(date, "--date"),
        name=name,
        aliases=alias,
        address=address,
        risk=risk if risk else None,
        date_of_birth=optional_date(dob, "--dob"),
        domestic_abuse=domestic_abuse,
        rso_exempt_until=optional_date(rso_until, "--rso-exempt-until"),
        pnc_ref=pnc,
        niche_ref=niche,
    )
    say(f"updated {ref}: {', '.join(changed)}")


@subject_app.command("list")
def subject_list(
    ctx: typer.Context,
    officer: Annotated[
        str | None, typer.Option("--officer", metavar="EMAIL", help="Only this officer's caseload.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout (spreadsheets).")] = False,
) -> None:
    """List subjects with their current risk level, officer and orders.

    Example: spo subject list --officer om1@force.example
    """
    one_format(as_json, as_csv)
    from ...app import records

    e = env(ctx)
    subjects = records.subject_list(e, officer=officer)
    today = e.today()
    if as_json:
        print_json({"schema_version": 1, "subjects": [_summary(x) for x in subjects]})
        return
    rows = [
        (
            x.reference,
            x.current_name(),
            str(x.current_risk() or "-"),
            x.current_officer() or "unallocated",
            ", ".join(f"{o.reference} ({o.type}, {o.standing(today)})" for o in x.orders) or "-",
            ", ".join(f.reference for f in x.flags if f.removed_on() is None) or "-",
        )
        for x in subjects
    ]
    headings = ("ref", "name", "risk", "officer", "orders", "flags")
    if as_csv:
        write_csv(headings, rows)
        return
    print_table(headings, rows)
    if not subjects:
        say("no subjects")


def _summary(x: "Subject") -> dict[str, object]:
    return {
        "reference": x.reference,
        "name": x.current_name(),
        "risk": str(x.current_risk()) if x.current_risk() else None,
        "officer": x.current_officer(),
        "orders": [
            {
                "reference": o.reference,
                "type": str(o.type),
                "status": str(o.status),
                "made": o.made.isoformat(),
                "expires": o.expires.isoformat() if o.expires else None,
                "until_further_order": o.until_further_order,
            }
            for o in x.orders
        ],
        "flags": [
            {"reference": f.reference, "expires": f.current_expiry().isoformat()}
            for f in x.flags
            if f.removed_on() is None
        ],
    }


def allocate(
    ctx: typer.Context,
    subject_ref: Annotated[str, typer.Argument(metavar="SUBJECT_REF", help="Subject reference.")],
    officer: Annotated[str, typer.Option("--officer", metavar="EMAIL", help="Offender manager.")],
    date: Annotated[str, typer.Option("--date", metavar="DATE", help="Date allocated.")],
) -> None:
    """Allocate a subject to an offender manager from a date (the history is kept).

    Example: spo allocate S-001 --officer om2@force.example --date 2026-04-01
    """
    from ...app import records as services

    on = parse_date(date, "--date")
    services.allocate(env(ctx), subject_ref=subject_ref, officer=officer, on=on)
    say(f"allocated {subject_ref} to {officer.lower()} from {on}")
