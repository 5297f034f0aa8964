"""``spo due``, ``explain``, ``plan``, ``recompute``, ``action``, ``policy``, ``report``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import as_of_date, console, parse_date, print_json, say, state, store
from .views import STATUS_STYLE, action_json, print_actions

if TYPE_CHECKING:
    from ..rules import Action, Status
    from ..store.repo import Store

action_app = typer.Typer(help="Complete, re-date or waive a derived action.", no_args_is_help=True)
policy_app = typer.Typer(help="The deadline policy in force.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for supervisors and the SCU.", no_args_is_help=True)

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", metavar="DATE", help="Evaluate on this date (default: today)."),
]
KnownAt = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        metavar="TIMESTAMP",
        help="Replay what the system said at this moment (ISO date or date-time, UTC unless "
        "an offset is given): only facts entered by then, the policy then in force.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def parse_timestamp(value: str, option: str = "--known-at") -> dt.datetime:
    """An ISO date or date-time; a date means the end of that day in UTC."""
    from ..errors import InvalidInput

    try:
        if len(value) == 10:
            day = parse_date(value, option)
            return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not an ISO date or date-time (2026-11-23T09:30:00+00:00)", field=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _scope_officers(
    s: Store,
    ctx: typer.Context,
    officer: str | None,
    team: str | None,
    everyone: bool,
    subject: str | None,
) -> frozenset[str] | None:
    from .. import deadlines
    from ..errors import InvalidInput, NotFound

    if (officer is not None) + (team is not None) + everyone > 1:
        raise InvalidInput("give only one of --officer, --team and --all", field="--all")
    if officer is not None:
        if officer.lower() not in s.officer_emails():
            raise NotFound(f"officer {officer} not found", field="officer")
        return frozenset({officer.lower()})
    if team is not None:
        members = frozenset(o.email for o in s.list_officers(team))
        if not members:
            raise InvalidInput(f"no officers in team {team!r}", field="team")
        return members
    if everyone or subject is not None:
        return None
    return deadlines.default_scope(s, state(ctx).actor)


def due(
    ctx: typer.Context,
    officer: Annotated[
        str | None, typer.Option("--officer", metavar="EMAIL", help="This officer's actions.")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="This team's actions.")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", metavar="REF", help="One subject.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", metavar="RULE", help="One rule.")] = None,
    within: Annotated[
        int, typer.Option("--within", metavar="DAYS", min=0, help="Due within this many days.")
    ] = 14,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue actions.")] = False,
    everyone: Annotated[bool, typer.Option("--all", help="Every officer's actions.")] = False,
    include_done: Annotated[
        bool, typer.Option("--include-done", help="Done and cancelled actions too.")
    ] = False,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: Json = False,
) -> None:
    """What is due: overdue actions and those due within 14 days, most urgent first.

    By default the acting user's caseload (--as / SPO_USER): an offender manager's own, a
    supervisor's team, everything for the SCU.

    Example: spo due --officer om1@force.example --within 30 --as-of 2026-11-23
    """
    from .. import deadlines

    day = as_of_date(ctx, as_of)
    deadlines.check_rule(rule)
    with store(ctx) as s:
        officers = _scope_officers(s, ctx, officer, team, everyone, subject)
        if known_at is not None:
            pairs = _replayed(
                s,
                ctx,
                parse_timestamp(known_at),
                subject,
                rule,
                officers,
                day,
                within,
                overdue,
                include_done,
            )
        else:
            scope = deadlines.Scope(officers=officers, subject=subject, rule=rule)
            pairs = deadlines.due(
                store=s,
                scope=scope,
                as_of=day,
                within=None if include_done else within,
                overdue_only=overdue,
                include_closed=include_done,
            )
            _warn_if_policy_changed(s, ctx)
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "known_at": parse_timestamp(known_at).isoformat() if known_at else None,
                "actions": [action_json(a, st, day) for a, st in pairs],
            }
        )
        return
    who = (
        officer
        or (f"team {team}" if team else None)
        or (subject and f"subject {subject}")
        or ("everyone" if everyone else state(ctx).actor)
    )
    what = "overdue" if overdue else f"overdue and due within {within} days"
    replay = f", as known at {known_at}" if known_at else ""
    print_actions(pairs, day, f"Due for {who} as of {day} ({what}{replay})")


def _warn_if_policy_changed(s: Store, ctx: typer.Context) -> None:
    import sys

    digest = s.last_policy_digest()
    if digest is not None and digest != state(ctx).policy().digest:
        sys.stderr.write(
            "warning: the policy has changed since deadlines were last computed: "
            "run `spo recompute --all`\n"
        )


def _replayed(
    s: Store,
    ctx: typer.Context,
    at: dt.datetime,
    subject: str | None,
    rule: str | None,
    officers: frozenset[str] | None,
    day: dt.date,
    within: int,
    overdue: bool,
    include_done: bool,
) -> list[tuple[Action, Status]]:
    from .. import deadlines
    from ..store.replay import actions_known_at

    actions = actions_known_at(s, at, fallback=state(ctx).policy(), subject=subject)
    selected = [
        a
        for a in actions
        if (rule is None or a.rule == rule) and (officers is None or a.officer in officers)
    ]
    return deadlines.evaluate(
        selected,
        as_of=day,
        within=None if include_done else within,
        include_closed=include_done,
        overdue_only=overdue,
    )


def explain(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="From spo due.")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
    as_json: Json = False,
) -> None:
    """Why an action is due: the trigger, the arithmetic, the policy clause, and its history.

    Example: spo explain 3f9c0e1a2b
    """
    from ..errors import InvalidInput, NotFound
    from ..store.repo import MIN_ACTION_PREFIX, action_from_row

    day = as_of_date(ctx, as_of)
    with store(ctx) as s:
        if known_at is not None:
            from ..store.replay import actions_known_at

            at = parse_timestamp(known_at)
            found = [
                a
                for a in actions_known_at(s, at, fallback=state(ctx).policy())
                if a.id == action_id
                or (len(action_id) >= MIN_ACTION_PREFIX and a.id.startswith(action_id))
            ]
            if not found:
                raise NotFound(
                    f"action {action_id} was not known at {at.isoformat()}", field="action_id"
                )
            if len(found) > 1:
                raise InvalidInput(
                    f"{action_id} is the start of more than one action id: give more of it",
                    field="action_id",
                )
            action = found[0]
            history = [h for h in s.action_history(action.id) if h.at <= at]
        else:
            action = action_from_row(s.action_row(action_id))
            history = s.action_history(action.id)
        entries = [
            {"at": h.at.isoformat(), "field": h.field, "old": h.old, "new": h.new, "cause": h.cause}
            for h in history
        ]
    status = action.status(day)
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "action": action_json(action, status, day),
                "history": entries,
            }
        )
        return
    out = console()
    out.print(
        f"[bold]{action.id}[/bold]  {action.subject}  {action.explanation.title}"
        f"  [{STATUS_STYLE.get(str(status), '')}]{status or 'not yet triggered'}[/]"
    )
    out.print(action.explanation.text(action.due), markup=False)
    facts = [
        ("rule", action.rule),
        ("order", action.order or "-"),
        ("officer", action.officer or "unallocated"),
        ("triggered", str(action.trigger_date)),
        ("window opens", str(action.window_opens)),
        ("due", str(action.due)),
        ("completed", str(action.completed or "-")),
        ("late", {None: "-", True: "yes", False: "no"}[action.late]),
    ]
    for label, value in facts:
        out.print(f"  {label:<14}{value}", markup=False)
    if entries:
        out.print("History:")
        for e in entries:
            old = e["old"] or "-"
            out.print(
                f"  {str(e['at'])[:19].replace('T', ' ')}  {e['field']}: {old} -> {e['new']}"
                f"  ({e['cause']})",
                markup=False,
            )


def plan(
    ctx: typer.Context,
    subject_ref: Annotated[str, typer.Argument(metavar="SUBJECT_REF", help="Subject reference.")],
    include_done: Annotated[
        bool, typer.Option("--include-done", help="Past done and cancelled actions too.")
    ] = False,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """A subject's whole timeline of deadlines, from overdue to the order's end.

    Example: spo plan S-001 --include-done
    """
    from .. import deadlines

    day = as_of_date(ctx, as_of)
    with store(ctx) as s:
        s.load_subject(subject_ref)
        pairs = deadlines.due(
            store=s,
            scope=deadlines.Scope(subject=subject_ref),
            as_of=day,
            within=None,
            include_closed=True,
            include_future=True,
        )
    if not include_done:
        pairs = [(a, st) for a, st in pairs if str(st) not in ("done", "cancelled")]
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "subject": subject_ref,
                "actions": [action_json(a, st, day) for a, st in pairs],
            }
        )
        return
    print_actions(pairs, day, f"Plan for {subject_ref} as of {day}")


def recompute(
    ctx: typer.Context,
    refs: Annotated[
        list[str] | None, typer.Argument(metavar="[SUBJECT_REF...]", help="Subjects to recompute.")
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every subject.")] = False,
) -> None:
    """Recompute and store deadlines (after a policy change, or to repair).

    Example: spo recompute --all
    """
    from ..errors import InvalidInput
    from .common import recompute as run_recompute

    if bool(refs) == everything:
        raise InvalidInput("give subject references or --all", field="--all")
    with store(ctx) as s:
        targets = s.subject_refs() if everything else sorted(set(refs or []))
        if not everything:
            for ref in targets:
                s.load_subject(ref)  # an unknown reference is an error, not a no-op
        changes = run_recompute(s, state(ctx), targets, cause="recompute")
    say(f"recomputed {len(targets)} subject(s): {changes} change(s)")


@action_app.command("done")
def action_done(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="From spo due.")],
    date: Annotated[str, typer.Option("--date", metavar="DATE", help="Date it was done.")],
    note: Annotated[str | None, typer.Option("--note", help="References, what was done.")] = None,
) -> None:
    """Mark an action done that has no fact of its own (e.g. the grant checklist).

    Example: spo action done 3f9c0e1a2b --date 2026-03-04 --note "Niche OCC 123, PNC updated"
    """
    from .. import deadlines

    with store(ctx) as s:
        action = deadlines.mark_done(
            store=s, action_id=action_id, on=parse_date(date, "--date"), note=note
        )
    say(f"marked {action.explanation.title} ({action_id}) for {action.subject} done on {date}")


@action_app.command("override")
def action_override(
    ctx: typer.Context,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="From spo due.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit).")],
    due_date: Annotated[
        str | None, typer.Option("--due", metavar="DATE", help="The new due date.")
    ] = None,
    waive: Annotated[bool, typer.Option("--waive", help="The action is not needed.")] = False,
) -> None:
    """Move an action's due date, or waive it, with a reason (shown in its explanation).

    Example: spo action override 3f9c0e1a2b --due 2026-12-01 --reason "Subject in hospital"
    """
    from .. import deadlines, maintenance

    with store(ctx) as s:
        maintenance.require_role(s, state(ctx).settings(), "override")
        action = deadlines.override(
            store=s,
            action_id=action_id,
            due=parse_date(due_date, "--due") if due_date is not None else None,
            waive=waive,
            reason=reason,
            today=state(ctx).today(),
        )
    what = "waived" if waive else f"now due {due_date}"
    say(f"{action.explanation.title} ({action_id}) for {action.subject}: {what}")


@policy_app.command("show")
def policy_show(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the policy in force: every rule, its deadline and its reminders.

    Example: spo policy show --json
    """
    policy = state(ctx).policy()
    rules = [
        {
            "id": r.id,
            "title": r.title,
            "enabled": r.enabled,
            "action": r.action,
            "anchor": r.anchor,
            "deadline": r.deadline.describe() if r.deadline else "cadence",
            "window": r.window.describe() if r.window else None,
            "done_when": r.done_when,
            "reminders_days_before": list(r.reminders),
            "due_day_reminder": r.due_day_reminder,
            "escalate": r.escalate,
            "cadence_months": dict(r.cadence_months) or None,
            "source": r.source,
            "clause": r.clause,
        }
        for r in policy.rules.values()
    ]
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "name": policy.name,
                "version": policy.version,
                "digest": policy.digest,
                "due_soon_days": policy.due_soon_days,
                "escalation_interval_days": policy.escalation_interval_days,
                "rules": rules,
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"{policy.label()} ({policy.digest})", title_justify="left")
    for heading in ("rule", "deadline", "anchor", "reminders", "done when", "source"):
        table.add_column(heading)
    for rule in policy.rules.values():
        if rule.cadence_months:
            deadline = ", ".join(f"{k} {v}m" for k, v in rule.cadence_months.items())
        else:
            deadline = rule.deadline.describe() if rule.deadline else "plan cadence"
        table.add_row(
            rule.id + ("" if rule.enabled else " (off)"),
            deadline,
            rule.anchor,
            ", ".join(f"{d}d" for d in rule.reminders) or "-",
            rule.done_when,
            rule.source,
        )
    console().print(table)


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A policy TOML file.")],
) -> None:
    """Validate a policy file; errors name the key.

    Example: spo policy check data/policy/west-yorkshire.toml
    """
    from ..bootstrap import load_policy

    policy = load_policy(path=file)
    enabled = sum(r.enabled for r in policy.rules.values())
    say(f"{file}: valid ({policy.label()}, {enabled} of {len(policy.rules)} rules enabled)")


@report_app.command("compliance")
def report_compliance(
    ctx: typer.Context,
    date_from: Annotated[str, typer.Option("--from", metavar="DATE", help="First due date.")],
    date_to: Annotated[str, typer.Option("--to", metavar="DATE", help="Last due date.")],
    team: Annotated[str | None, typer.Option("--team", help="Only this team.")] = None,
    as_of: AsOf = None,
    as_json: Json = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """Compliance for actions due in a period: on time, late, open, missed, % on time;
    per rule, per team and per officer.

    Example: spo report compliance --from 2026-01-01 --to 2026-06-30 --csv
    """
    from .. import deadlines

    day = as_of_date(ctx, as_of)
    with store(ctx) as s:
        report = deadlines.compliance(
            store=s,
            date_from=parse_date(date_from, "--from"),
            date_to=parse_date(date_to, "--to"),
            as_of=day,
            team=team,
        )
    rows = []
    for group, tallies in (
        ("rule", report.by_rule),
        ("team", report.by_team),
        ("officer", report.by_officer),
        ("total", {"all": report.total}),
    ):
        for name in sorted(tallies):
            t = tallies[name]
            rows.append(
                {
                    "group": group,
                    "name": name,
                    "on_time": t.on_time,
                    "late": t.late,
                    "overdue": t.overdue,
                    "open": t.open,
                    "missed": t.missed,
                    "percent_on_time": t.percent_on_time,
                }
            )
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "from": report.date_from.isoformat(),
                "to": report.date_to.isoformat(),
                "as_of": day.isoformat(),
                "team": team,
                "rows": rows,
            }
        )
        return
    if as_csv:
        import csv
        import sys

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["group"])
        writer.writeheader()
        writer.writerows(rows)
        return
    from rich.table import Table

    table = Table(
        title=f"Compliance, actions due {report.date_from} to {report.date_to} "
        f"(as of {day}{', team ' + team if team else ''})",
        title_justify="left",
    )
    for heading in ("group", "name", "on time", "late", "overdue", "open", "missed", "% on time"):
        table.add_column(heading)
    for r in rows:
        pct = "-" if r["percent_on_time"] is None else f"{r['percent_on_time']}%"
        table.add_row(
            str(r["group"]),
            str(r["name"]),
            str(r["on_time"]),
            str(r["late"]),
            str(r["overdue"]),
            str(r["open"]),
            str(r["missed"]),
            pct,
        )
    console().print(table)
