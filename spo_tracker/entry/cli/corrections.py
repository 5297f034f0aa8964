"""``spo correct``, ``spo void`` and ``spo checklist``: mending the record, and the items of
the grant and close-down checklists."""

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from .common import AsOf, ShowByDefault, env, parse_date, print_json, say
from .views import print_table

if TYPE_CHECKING:
    from ...app.records import ChecklistLine

RecordArg = Annotated[
    str, typer.Argument(metavar="RECORD_ID", help="The fact's record id, from spo show.")
]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why: kept with the change in the record's history.")
]


def _text(flag: str, help_: str, metavar: str | None = None) -> object:
    return typer.Option(flag, metavar=metavar, help=help_)


def correct(
    ctx: typer.Context,
    record_id: RecordArg,
    reason: ReasonOpt,
    date: Annotated[str | None, _text("--date", "The day it happened.", "DATE")] = None,
    since: Annotated[str | None, _text("--since", "The day it applies from.", "DATE")] = None,
    kind: Annotated[str | None, _text("--kind", "Its kind (visit, name, condition).")] = None,
    officer: Annotated[str | None, _text("--officer", "The officer.", "EMAIL")] = None,
    by: Annotated[str | None, _text("--by", "The reviewing supervisor.", "EMAIL")] = None,
    outcome: Annotated[str | None, _text("--outcome", "The outcome.")] = None,
    outcome_on: Annotated[
        str | None, _text("--outcome-date", "The day a breach's outcome was recorded.", "DATE")
    ] = None,
    offence: Annotated[str | None, _text("--offence", "breach or failure-to-notify.")] = None,
    crime_ref: Annotated[str | None, _text("--crime-ref", "Crime reference.", "REF")] = None,
    arrested: Annotated[bool | None, _text("--arrested/--not-arrested", "An arrest.")] = None,
    charged: Annotated[bool | None, _text("--charged/--not-charged", "A charge.")] = None,
    name: Annotated[
        list[str] | None, _text("--name", "A name (repeatable for a notification).")
    ] = None,
    address: Annotated[str | None, _text("--address", "An address.")] = None,
    ack_ref: Annotated[str | None, _text("--ack-ref", "Acknowledgement reference.", "REF")] = None,
    force: Annotated[str | None, _text("--force", "The other force of a move.", "NAME")] = None,
    sent: Annotated[
        list[str] | None,
        _text("--sent", "A move-out document and the day it went (repeatable).", "ITEM=DATE"),
    ] = None,
    notes: Annotated[str | None, _text("--notes", "Notes.")] = None,
    visit_every_days: Annotated[
        str | None, _text("--visit-every-days", "A plan's visit cadence.", "DAYS")
    ] = None,
    text: Annotated[str | None, _text("--text", "A condition's wording.")] = None,
    ends: Annotated[str | None, _text("--ends", "A condition's end.", "DATE")] = None,
    expires: Annotated[str | None, _text("--expires", "A variation's new end.", "DATE")] = None,
    until_further_order: Annotated[
        bool | None,
        _text("--until-further-order/--fixed-end", "A variation's end: no fixed end."),
    ] = None,
    until: Annotated[str | None, _text("--until", "A flag extension's new expiry.", "DATE")] = None,
    level: Annotated[str | None, _text("--risk", "A risk level.")] = None,
    decision: Annotated[str | None, _text("--decision", "submitted or declined.")] = None,
    decline_reason: Annotated[
        str | None, _text("--decline-reason", "A decision not to renew: its reason.")
    ] = None,
    subject_consents: Annotated[
        bool | None, _text("--subject-consents/--no-subject-consents", "Discharge consent.")
    ] = None,
    police_consents: Annotated[
        bool | None, _text("--police-consents/--no-police-consents", "Discharge consent.")
    ] = None,
    ref: Annotated[str | None, _text("--ref", "A checklist item's reference.", "REF")] = None,
) -> None:
    """Correct a fact recorded wrongly: give its record id, the reason, and the values as
    the command that recorded it takes them. It keeps its id; the earlier version stays in
    the history (spo show --history, spo audit); deadlines are recomputed and the officers
    told of any that moved.

    Example: spo correct S-001/visit-2 --date 2026-03-06 --reason "typed the wrong day"
    """
    from ...app import InvalidInput
    from ...app import records as services

    given: dict[str, object] = {
        "date": date,
        "since": since,
        "kind": kind,
        "officer": officer,
        "by": by,
        "outcome": outcome,
        "outcome_on": outcome_on,
        "offence": offence,
        "crime_ref": crime_ref,
        "arrested": arrested,
        "charged": charged,
        "name": name[0] if name and len(name) == 1 else name,
        "address": address,
        "ack_ref": ack_ref,
        "force": force,
        "notes": notes,
        "visit_every_days": visit_every_days,
        "text": text,
        "ends": ends,
        "expires": expires,
        "until_further_order": until_further_order,
        "until": until,
        "level": level,
        "decision": decision,
        "reason": decline_reason,
        "subject_consents": subject_consents,
        "police_consents": police_consents,
        "ref": ref,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    for value in sent or []:
        item, equals, day = value.partition("=")
        if not equals or item not in services.MOVE_OUT_DOCUMENTS:
            known = ", ".join(services.MOVE_OUT_DOCUMENTS)
            raise InvalidInput(f"{value!r} is not ITEM=DATE with ITEM one of {known}", field="sent")
        changes[services.MOVE_OUT_DOCUMENTS[item]] = day
    if not changes:
        raise InvalidInput("nothing to correct: give the values to put right", field="options")
    services.correct(env(ctx), record_id=record_id, reason=reason, changes=changes)
    say(f"corrected {record_id}; the earlier version is in its history (spo show --history)")


def void(ctx: typer.Context, record_id: RecordArg, reason: ReasonOpt) -> None:
    """Withdraw a fact recorded by mistake: no deadline counts it again, it stays in the
    history with the reason (spo show --history), and its record id is never reused.

    Example: spo void S-001/visit-3 --reason "recorded against the wrong subject"
    """
    from ...app import records as services

    stored = services.void(env(ctx), record_id=record_id, reason=reason)
    say(f"voided {record_id} ({stored.kind} of {stored.subject_ref}); deadlines recomputed")


checklist_app = typer.Typer(
    cls=ShowByDefault,
    help="An order's checklists (the grant, the close-down): spo checklist ORDER_REF shows "
    "them; spo checklist done records an item.",
    no_args_is_help=True,
)


def checklist_state(line: "ChecklistLine", day: dt.date) -> str:
    state = line.state(day)
    if state == "not-yet":
        return f"from {line.begins}"
    if state == "too-early":
        return f"before {line.begins}: not counted"
    return "to do" if state == "to-do" else state


@checklist_app.command("show")
def checklist_show(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    as_of: AsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Each item of the order's checklists: done (when, with its reference), still to do, or
    not yet (a close-down begins when the order ends).

    Example: spo checklist O-001 --json
    """
    from ...app import records as services

    ctx_env = env(ctx)
    day = parse_date(as_of, "--as-of") if as_of else ctx_env.today()
    lines = services.checklist(ctx_env, order_ref)
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "order": order_ref,
                "as_of": day.isoformat(),
                "items": [
                    {
                        "checklist": x.rule,
                        "item": x.item,
                        "text": x.text,
                        "needs_ref": x.needs_ref,
                        "state": x.state(day),
                        "begins": x.begins.isoformat(),
                        "done": x.done.isoformat() if x.done else None,
                        "ref": x.ref,
                        "record": x.record_id,
                    }
                    for x in lines
                ],
            }
        )
        return
    if not lines:
        say(f"order {order_ref} has no checklist yet")
        return
    print_table(
        ("checklist", "item", "what", "state", "done", "ref", "record"),
        [
            (
                x.title,
                x.item,
                x.text,
                checklist_state(x, day),
                str(x.done or ""),
                x.ref or "",
                x.record_id or "",
            )
            for x in lines
        ],
        keep=("item", "record"),
    )


@checklist_app.command("done")
def checklist_done(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    item: Annotated[
        str, typer.Argument(metavar="ITEM", help="The item, as spo checklist lists it.")
    ],
    on: Annotated[str, typer.Option("--date", metavar="DATE", help="Day it was done.")],
    ref: Annotated[
        str | None, typer.Option("--ref", metavar="REF", help="Its reference (PNC, Niche...).")
    ] = None,
) -> None:
    """Record one checklist item done; the checklist's action is done with its last item.

    Example: spo checklist done O-001 pnc-updated --date 2026-03-04 --ref PNC/26/1234
    """
    from ...app import records as services

    line = services.checklist_done(
        env(ctx), order_ref=order_ref, item=item, on=parse_date(on, "--date"), ref=ref
    )
    say(f"recorded {line.item} for {order_ref} on {line.done} ({line.record_id})")
