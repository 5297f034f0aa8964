"""``spo order``, ``spo condition`` and ``spo renewal``."""

from typing import Annotated

import typer

from ...app import ConditionKind, DischargeOutcome, OrderType
from .common import env, optional_date, parse_date, say

order_app = typer.Typer(help="Orders: interim and full SPOs.", no_args_is_help=True)
condition_app = typer.Typer(help="An order's prohibitions and requirements.", no_args_is_help=True)
renewal_app = typer.Typer(
    help="Renewal submissions and decisions not to renew.", no_args_is_help=True
)

DateOpt = Annotated[str, typer.Option("--date", metavar="DATE", help="Date (YYYY-MM-DD).")]


@order_app.command("add")
def order_add(
    ctx: typer.Context,
    subject_ref: Annotated[str, typer.Argument(metavar="SUBJECT_REF", help="Subject reference.")],
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    type_: Annotated[OrderType, typer.Option("--type", help="Interim or full order.")],
    made: Annotated[str, typer.Option("--made", metavar="DATE", help="Date made (granted).")],
    served: Annotated[
        str | None, typer.Option("--served", metavar="DATE", help="Date served.")
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", metavar="DATE", help="Last day the order is in force."),
    ] = None,
    until_further_order: Annotated[
        bool, typer.Option("--until-further-order", help="No fixed end.")
    ] = False,
    court: Annotated[str | None, typer.Option("--court", help="Court that made it.")] = None,
    replaces: Annotated[
        str | None,
        typer.Option("--replaces", metavar="ORDER_REF", help="Interim order it replaces."),
    ] = None,
) -> None:
    """Record an order made against a subject.

    A full order runs at least 2 years beginning with the day it is made.

    Example: spo order add S-001 O-001 --type full --made 2026-03-03 --served 2026-03-04
    --expires 2028-03-02 --court "Leeds Magistrates"
    """
    from ...app import records as d
    from ...app import records as services

    order = d.Order(
        reference=order_ref,
        type=type_,
        made=parse_date(made, "--made"),
        served=optional_date(served, "--served"),
        expires=optional_date(expires, "--expires"),
        until_further_order=until_further_order,
        court=court,
        replaces=replaces,
    )
    services.add_order(env(ctx), subject_ref=subject_ref, order=order)
    ends = "until further order" if until_further_order else f"expires {order.expires}"
    say(f"added {type_.value} order {order_ref} for {subject_ref} (made {order.made}, {ends})")


@order_app.command("vary")
def order_vary(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    date: DateOpt,
    expires: Annotated[
        str | None, typer.Option("--expires", metavar="DATE", help="New expiry.")
    ] = None,
    until_further_order: Annotated[
        bool, typer.Option("--until-further-order", help="Now runs until further order.")
    ] = False,
    notes: Annotated[str | None, typer.Option("--notes", help="What the court varied.")] = None,
) -> None:
    """Record a variation of an order's end (the previous end is kept in the history).

    Example: spo order vary O-001 --date 2027-01-10 --expires 2029-03-02
    """
    from ...app import records as services

    services.vary_order(
        env(ctx),
        order_ref=order_ref,
        on=parse_date(date, "--date"),
        expires=optional_date(expires, "--expires"),
        until_further_order=until_further_order,
        notes=notes,
    )
    say(f"varied order {order_ref}")


@order_app.command("discharge")
def order_discharge(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    date: DateOpt,
    subject_consents: Annotated[
        bool, typer.Option("--subject-consents", help="The subject consents.")
    ] = False,
    police_consents: Annotated[
        bool, typer.Option("--police-consents", help="The chief officer consents.")
    ] = False,
    outcome: Annotated[
        DischargeOutcome, typer.Option("--outcome", help="Outcome of the application.")
    ] = DischargeOutcome.GRANTED,
) -> None:
    """Record a discharge application (granted by default).

    Within 2 years of the order being made, a discharge needs both consents.

    Example: spo order discharge O-001 --date 2028-06-01
    """
    from ...app import records as services

    services.discharge_order(
        env(ctx),
        order_ref=order_ref,
        on=parse_date(date, "--date"),
        subject_consents=subject_consents,
        police_consents=police_consents,
        outcome=outcome,
    )
    verb = "discharged" if outcome is DischargeOutcome.GRANTED else "recorded refused discharge of"
    say(f"{verb} order {order_ref}")


@condition_app.command("add")
def condition_add(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    kind: Annotated[ConditionKind, typer.Option("--kind", help="Prohibition or requirement.")],
    text: Annotated[str, typer.Option("--text", help="The condition's wording.")],
    ends: Annotated[
        str | None, typer.Option("--ends", metavar="DATE", help="Its own end date, if any.")
    ] = None,
) -> None:
    """Add a prohibition or requirement to an order.

    Example: spo condition add O-001 --kind prohibition --text "Not to contact the victim"
    --ends 2027-03-02
    """
    from ...app import records as d
    from ...app import records as services

    condition = d.Condition(kind=kind, text=text, ends=optional_date(ends, "--ends"))
    cid = services.add_condition(env(ctx), order_ref=order_ref, condition=condition)
    say(f"added {kind.value} {cid} to {order_ref}")


@renewal_app.command("submit")
def renewal_submit(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    date: DateOpt,
) -> None:
    """Record a written renewal submission to the Stalking Coordination Unit.

    Example: spo renewal submit O-001 --date 2027-11-20
    """
    _renewal(ctx, order_ref, date, "submitted", None)


@renewal_app.command("decline")
def renewal_decline(
    ctx: typer.Context,
    order_ref: Annotated[str, typer.Argument(metavar="ORDER_REF", help="Order reference.")],
    date: DateOpt,
    reason: Annotated[str, typer.Option("--reason", help="The operational reason not to renew.")],
) -> None:
    """Record a decision not to seek renewal, with its reason.

    Example: spo renewal decline O-001 --date 2027-11-20 --reason "Subject deceased"
    """
    _renewal(ctx, order_ref, date, "declined", reason)


def _renewal(
    ctx: typer.Context, order_ref: str, date: str, decision: str, reason: str | None
) -> None:
    from ...app import records as d
    from ...app import records as services

    renewal = d.Renewal(
        date=parse_date(date, "--date"), decision=d.RenewalDecision(decision), reason=reason
    )
    services.record_renewal(env(ctx), order_ref=order_ref, renewal=renewal)
    say(f"recorded renewal {decision} for {order_ref} on {renewal.date}")
