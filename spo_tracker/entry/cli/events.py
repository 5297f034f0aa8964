"""Dated events: visits, breaches, notifications, flags, transfers, reviews, plans."""

import datetime as dt
from typing import Annotated, Any

import typer

from ...app import FlagOutcome, InvalidInput, Offence, VisitKind
from .common import env, optional_date, parse_date, print_json, say
from .views import print_table

visit_app = typer.Typer(help="Visits to subjects.", no_args_is_help=True)
breach_app = typer.Typer(help="Breaches (s8) and failures to notify (s11).", no_args_is_help=True)
notification_app = typer.Typer(
    help="Notifications of names and address by the subject (s9).", no_args_is_help=True
)
flag_app = typer.Typer(help="'Notify if' flags and their reviews.", no_args_is_help=True)
transfer_app = typer.Typer(help="Moves into and out of the force area.", no_args_is_help=True)
review_app = typer.Typer(
    help="Supervisor reviews of the Subject Management Pack.", no_args_is_help=True
)
smp_app = typer.Typer(help="Subject Management Plans.", no_args_is_help=True)

SubjectArg = Annotated[str, typer.Argument(metavar="SUBJECT_REF", help="Subject reference.")]
SentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sent",
        metavar="ITEM=DATE",
        help="A document sent to the new force and the day (statement-of-service, smp, "
        "risk-information; repeatable).",
    ),
]
DateOpt = Annotated[str, typer.Option("--date", metavar="DATE", help="Date (YYYY-MM-DD).")]


@visit_app.command("add")
def visit_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    kind: Annotated[VisitKind, typer.Option("--kind", help="Kind of visit.")] = (VisitKind.ROUTINE),
    officer: Annotated[
        str | None, typer.Option("--officer", metavar="EMAIL", help="Visiting officer.")
    ] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="What happened.")] = None,
) -> None:
    """Record a completed visit (a back-dated visit counts from the date it states).

    Example: spo visit add S-001 --date 2026-03-06 --kind initial --officer om1@force.example
    """
    from ...app import records as d
    from ...app import records as services

    visit = d.Visit(
        date=parse_date(date, "--date"),
        kind=kind,
        officer=officer,
        outcome=outcome,
    )
    vid = services.add_visit(env(ctx), subject_ref=subject_ref, visit=visit)
    say(f"recorded visit {vid} to {subject_ref} on {visit.date}")


@visit_app.command("plan")
def visit_plan(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    kind: Annotated[VisitKind, typer.Option("--kind", help="Kind of visit.")] = (VisitKind.ROUTINE),
    officer: Annotated[
        str | None, typer.Option("--officer", metavar="EMAIL", help="Who will visit.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, or what to cover.")] = None,
) -> None:
    """Plan a visit for today or a day to come. A plan completes nothing: record the visit
    with spo visit add once it has happened; spo visit plans shows whether it was made.

    Example: spo visit plan S-001 --date 2026-12-10 --officer om1@force.example
    """
    from ...app import records as services

    plan = services.PlannedVisit(
        date=parse_date(date, "--date"), kind=kind, officer=officer, note=note
    )
    services.plan_visit(env(ctx), subject_ref=subject_ref, plan=plan)
    say(f"planned a visit to {subject_ref} on {plan.date} ({kind})")


@visit_app.command("plans")
def visit_plans(
    ctx: typer.Context,
    subject_ref: Annotated[
        str | None, typer.Option("--subject", metavar="REF", help="Only this subject.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Visits planned from two weeks ago on, for your team (or one subject): planned,
    visited (with the day of the visit recorded) or missed.

    Example: spo visit plans --subject S-001
    """
    from ...app import records as services

    lines = services.planned_visits(env(ctx), subject_ref=subject_ref)
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "plans": [
                    {
                        "id": x.id,
                        "subject": x.subject,
                        "date": x.plan.date.isoformat(),
                        "kind": str(x.plan.kind),
                        "officer": x.plan.officer,
                        "note": x.plan.note,
                        "status": x.status,
                        "visited": x.visited.isoformat() if x.visited else None,
                    }
                    for x in lines
                ],
            }
        )
        return
    if not lines:
        say("no visits planned")
        return
    print_table(
        ("date", "subject", "kind", "officer", "status", "note"),
        [
            (
                x.plan.date.isoformat(),
                x.subject,
                str(x.plan.kind),
                x.plan.officer or "",
                f"visited {x.visited}" if x.visited else x.status,
                x.plan.note or "",
            )
            for x in lines
        ],
    )


@breach_app.command("add")
def breach_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    offence: Annotated[
        Offence, typer.Option("--offence", help="s8 breach or s11 failure to notify.")
    ] = Offence.BREACH,
    crime_ref: Annotated[
        str | None, typer.Option("--crime-ref", metavar="REF", help="Crime reference.")
    ] = None,
    arrested: Annotated[bool, typer.Option("--arrested", help="An arrest was made.")] = False,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Outcome, once known.")] = None,
) -> None:
    """Record a breach of an order or a failure to notify.

    Example: spo breach add S-001 --date 2026-05-02 --crime-ref 13/12345/26 --arrested
    """
    from ...app import records as d
    from ...app import records as services

    breach = d.Breach(
        date=parse_date(date, "--date"),
        offence=offence,
        crime_ref=crime_ref,
        arrested=arrested,
        outcome=outcome,
    )
    bid = services.add_breach(env(ctx), subject_ref=subject_ref, breach=breach)
    say(f"recorded {offence.value} {bid} by {subject_ref} on {breach.date}")


@breach_app.command("update")
def breach_update(
    ctx: typer.Context,
    record_id: Annotated[
        str, typer.Argument(metavar="BREACH_ID", help="The breach's record id (spo show).")
    ],
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="The outcome: completes the breach response.")
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--date", metavar="DATE", help="Day the outcome was recorded (today)."),
    ] = None,
    arrested: Annotated[
        bool | None, typer.Option("--arrested/--not-arrested", help="An arrest was made.")
    ] = None,
    charged: Annotated[
        bool | None, typer.Option("--charged/--not-charged", help="The subject was charged.")
    ] = None,
    crime_ref: Annotated[
        str | None, typer.Option("--crime-ref", metavar="REF", help="Crime reference.")
    ] = None,
) -> None:
    """Record what became known after a breach: the arrest, the charge, the crime reference,
    and its outcome, which completes the breach response.

    Example: spo breach update S-001/breach-1 --outcome "charged, remanded" --charged
    """
    from ...app import records as services

    breach = services.update_breach(
        env(ctx),
        record_id=record_id,
        on=optional_date(on, "--date"),
        outcome=outcome,
        arrested=arrested,
        charged=charged,
        crime_ref=crime_ref,
    )
    done = f"; outcome recorded on {breach.outcome_on}" if outcome is not None else ""
    say(f"updated breach {record_id}{done}")


@notification_app.command("add")
def notification_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    name: Annotated[
        list[str] | None, typer.Option("--name", help="A name notified (repeatable).")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="Home address notified.")] = None,
    ack_ref: Annotated[
        str | None,
        typer.Option(
            "--ack-ref",
            metavar="REF",
            help="The acknowledgement reference the police station gave (required).",
        ),
    ] = None,
) -> None:
    """Record the subject notifying their names and home address at a police station.

    Example: spo notification add S-001 --date 2026-03-05 --name "John Smith" --ack-ref ACK-77
    """
    from ...app import records as d
    from ...app import records as services

    note = d.Notification(
        date=parse_date(date, "--date"), names=name or [], address=address, ack_ref=ack_ref
    )
    nid = services.add_notification(env(ctx), subject_ref=subject_ref, notification=note)
    say(f"recorded notification {nid} by {subject_ref} on {note.date}")


@flag_app.command("add")
def flag_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    flag_ref: Annotated[str, typer.Argument(metavar="FLAG_REF", help="Flag reference.")],
    expires: Annotated[str, typer.Option("--expires", metavar="DATE", help="Flag expiry.")],
) -> None:
    """Record a 'notify if' flag on the subject.

    Example: spo flag add S-001 F-001 --expires 2027-03-31
    """
    from ...app import records as d
    from ...app import records as services

    flag = d.Flag(reference=flag_ref, expires=parse_date(expires, "--expires"))
    services.add_flag(env(ctx), subject_ref=subject_ref, flag=flag)
    say(f"added flag {flag_ref} to {subject_ref} (expires {flag.expires})")


@flag_app.command("review")
def flag_review(
    ctx: typer.Context,
    flag_ref: Annotated[str, typer.Argument(metavar="FLAG_REF", help="Flag reference.")],
    date: DateOpt,
    outcome: Annotated[FlagOutcome, typer.Option("--outcome", help="Removed or extended.")],
    until: Annotated[
        str | None, typer.Option("--until", metavar="DATE", help="New expiry (with extended).")
    ] = None,
) -> None:
    """Record a flag review: removed, or extended to a later expiry.

    Example: spo flag review F-001 --date 2027-03-10 --outcome extended --until 2028-03-31
    """
    from ...app import records as d
    from ...app import records as services

    review = d.FlagReview(
        date=parse_date(date, "--date"),
        outcome=outcome,
        until=parse_date(until, "--until") if until is not None else None,
    )
    flag = services.review_flag(env(ctx), flag_ref=flag_ref, review=review)
    result = f"now expires {flag.current_expiry()}" if review.until else "removed"
    say(f"reviewed flag {flag_ref}: {result}")


@transfer_app.command("in")
def transfer_in(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    from_force: Annotated[
        str, typer.Option("--from-force", metavar="NAME", help="Force moved from.")
    ],
) -> None:
    """Record the subject moving into the force area.

    Example: spo transfer in S-002 --date 2026-04-01 --from-force "Lancashire Constabulary"
    """
    _transfer(ctx, subject_ref, date, "in", from_force, documents_sent=False)


@transfer_app.command("out")
def transfer_out(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    to_force: Annotated[str, typer.Option("--to-force", metavar="NAME", help="Force moved to.")],
    sent: SentOpt = None,
    documents_sent: Annotated[
        bool,
        typer.Option(
            "--documents-sent",
            help="All three documents sent to the new force on the day of the move.",
        ),
    ] = False,
) -> None:
    """Record the subject moving out of the force area, and the documents sent to the new
    force (statement-of-service, smp, risk-information: each with the day it went).

    Example: spo transfer out S-002 --date 2026-09-01 --to-force "Humberside Police"
    --sent statement-of-service=2026-09-01 --sent smp=2026-09-01
    """
    _transfer(
        ctx, subject_ref, date, "out", to_force, documents_sent=documents_sent, sent=sent or []
    )


@transfer_app.command("documents")
def transfer_documents(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    sent: SentOpt = None,
) -> None:
    """Record documents sent to the new force after the subject's latest move out; the
    notification is done when all three are.

    Example: spo transfer documents S-002 --sent risk-information=2026-09-03
    """
    from ...app import records as services

    transfer = services.record_documents(env(ctx), subject_ref=subject_ref, sent=_sent(sent or []))
    todo = [item for item, day in transfer.documents().items() if day is None]
    left = f"; still to send: {', '.join(todo)}" if todo else "; all three sent"
    say(f"recorded documents of {transfer.id}{left}")


def _sent(values: list[str]) -> dict[str, dt.date]:
    """``ITEM=DATE`` options, each item once."""
    from ...app import records as services

    sent: dict[str, dt.date] = {}
    for value in values:
        item, equals, day = value.partition("=")
        if not equals or item not in services.MOVE_OUT_DOCUMENTS:
            known = ", ".join(services.MOVE_OUT_DOCUMENTS)
            raise InvalidInput(f"{value!r} is not ITEM=DATE with ITEM one of {known}", field="sent")
        if item in sent:
            raise InvalidInput(f"{item} is given twice", field="sent")
        sent[item] = parse_date(day, "--sent")
    return sent


def _transfer(
    ctx: typer.Context,
    subject_ref: str,
    date: str,
    direction: str,
    force: str,
    *,
    documents_sent: bool,
    sent: list[str] | None = None,
) -> None:
    from ...app import records as d
    from ...app import records as services

    documents: dict[str, Any] = {
        d.MOVE_OUT_DOCUMENTS[item]: day for item, day in _sent(sent or []).items()
    }
    transfer = d.Transfer(
        direction=d.Direction(direction),
        date=parse_date(date, "--date"),
        force=force,
        documents_sent=documents_sent,
        **documents,
    )
    services.add_transfer(env(ctx), subject_ref=subject_ref, transfer=transfer)
    way = "into the area from" if direction == "in" else "out of the area to"
    say(f"recorded {subject_ref} moving {way} {force} on {transfer.date}")


@review_app.command("add")
def review_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    by: Annotated[str, typer.Option("--by", metavar="EMAIL", help="Reviewing supervisor.")],
    notes: Annotated[str | None, typer.Option("--notes", help="Review notes.")] = None,
) -> None:
    """Record a supervisor's review of the Subject Management Pack.

    Example: spo review add S-001 --date 2026-04-03 --by ds1@force.example --notes "Plan current"
    """
    from ...app import records as d
    from ...app import records as services

    review = d.Review(date=parse_date(date, "--date"), by=by, notes=notes)
    rid = services.add_review(env(ctx), subject_ref=subject_ref, review=review)
    say(f"recorded review {rid} of {subject_ref} on {review.date}")


@smp_app.command("add")
def smp_add(
    ctx: typer.Context,
    subject_ref: SubjectArg,
    date: DateOpt,
    notes: Annotated[str | None, typer.Option("--notes", help="Notes on the plan.")] = None,
    visit_every_days: Annotated[
        int | None,
        typer.Option(
            "--visit-every-days", metavar="DAYS", help="Routine visit cadence set by the plan."
        ),
    ] = None,
) -> None:
    """Record a Subject Management Plan written (or re-issued) for the subject.

    Example: spo smp add S-001 --date 2026-03-09 --visit-every-days 28
    """
    from ...app import records as d
    from ...app import records as services

    plan = d.ManagementPlan(
        date=parse_date(date, "--date"), notes=notes, visit_every_days=visit_every_days
    )
    pid = services.add_plan(env(ctx), subject_ref=subject_ref, plan=plan)
    say(f"recorded management plan {pid} for {subject_ref} on {plan.date}")
