"""``spo due``, ``explain``, ``plan``, ``recompute``, ``action``, ``policy``, ``report``."""

from pathlib import Path
from typing import Annotated

import typer

from .common import (
    AsOf,
    env,
    one_format,
    optional_date,
    parse_date,
    parse_timestamp,
    print_json,
    say,
)
from .views import (
    CSV_HEADINGS,
    action_csv_row,
    action_json,
    lateness,
    print_actions,
    print_table,
    write_csv,
    write_json_stream,
)

action_app = typer.Typer(help="Complete, re-date or waive a derived action.", no_args_is_help=True)
policy_app = typer.Typer(help="The deadline policy in force.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for supervisors and the SCU.", no_args_is_help=True)

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
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout (spreadsheets).")] = False,
) -> None:
    """What is due: overdue actions and those due within 14 days, most urgent first.

    By default the acting user's caseload (--as / SPO_USER): an offender manager's own, a
    supervisor's team, everything for the SCU.

    Statuses: upcoming (not due soon yet), due-soon (within the policy's due_soon_days,
    or inside a rule's window), due-today, overdue, done, cancelled. On a terminal the
    "when" column says it in short: "in 5d", "today", "3d late", "done", "done late",
    "cancelled". Ids are the shortest start every command accepts.

    Example: spo due --officer om1@force.example --within 30 --as-of 2026-11-23
    """
    one_format(as_json, as_csv)
    import sys

    from ...app import deadlines

    with deadlines.due(
        env(ctx),
        officer=officer,
        team=team,
        everyone=everyone,
        subject=subject,
        rule=rule,
        within=within,
        overdue_only=overdue,
        include_done=include_done,
        as_of=optional_date(as_of, "--as-of"),
        known_at=parse_timestamp(known_at) if known_at is not None else None,
        explained=as_json or as_csv,
    ) as listing:
        if listing.policy_changed:
            sys.stderr.write(
                "warning: the policy has changed since deadlines were last computed: "
                "run `spo recompute --all`\n"
            )
        day = listing.as_of
        if as_csv:
            write_csv(CSV_HEADINGS, (action_csv_row(a, s, day) for a, s in listing.actions))
            return
        if as_json:
            head = {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "known_at": listing.known_at.isoformat() if listing.known_at else None,
            }
            write_json_stream(head, "actions", (action_json(a, s, day) for a, s in listing.actions))
            return
        if overdue:
            what = "overdue"
        elif include_done:
            what = "every action so far, done and cancelled too"
        else:
            what = f"overdue and due within {within} days"
        replay = f", as known at {known_at}" if known_at else ""
        pairs = list(listing.actions)
    ids = deadlines.short_ids(env(ctx), [a.id for a, _ in pairs])
    print_actions(pairs, day, f"Due for {listing.who} as of {day} ({what}{replay})", short_ids=ids)


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
    from ...app import deadlines

    explained = deadlines.explain(
        env(ctx),
        action_id,
        as_of=optional_date(as_of, "--as-of"),
        known_at=parse_timestamp(known_at) if known_at is not None else None,
    )
    action, day = explained.action, explained.as_of
    entries = [
        {"at": h.at.isoformat(), "field": h.field, "old": h.old, "new": h.new, "cause": h.cause}
        for h in explained.history
    ]
    status = explained.status
    if as_json:
        print_json(
            {
                "schema_version": 1,
                "as_of": day.isoformat(),
                "action": action_json(action, status, day),
                "to_do": explained.todo,
                "who": explained.who,
                "record_it": explained.record,
                "history": entries,
            }
        )
        return
    if not action.applies:
        shown = "does not apply"
    elif (lapsed := action.lapsed_on(day)) is not None:
        shown = f"lapsed on {lapsed}: the order ended with it still open"
    else:
        shown = str(status) if status else f"not triggered yet (on {action.trigger_date})"
    say(f"{action.id}  {action.subject}  {action.explanation.title}  {shown}")
    say(action.explanation.text(action.due))
    facts = [
        ("rule", action.rule),
        ("order", action.order or "-"),
        ("to do", explained.todo),
        ("who", explained.who),
        ("triggered", str(action.trigger_date)),
        ("window opens", str(action.window_opens)),
        ("due", str(action.due)),
        ("completed", str(action.completed or "-")),
        ("late", lateness(action, status, day)),
        ("record it", explained.record),
    ]
    for label, value in facts:
        say(f"  {label:<14}{value}")
    if entries:
        say("History:")
        for e in entries:
            old, new = e["old"] or "-", e["new"] or "-"  # none: the field was empty
            say(
                f"  {str(e['at'])[:19].replace('T', ' ')}  {e['field']}: {old} -> {new}"
                f"  ({e['cause']})"
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
    from ...app import deadlines

    day, pairs = deadlines.plan(
        env(ctx), subject_ref, as_of=optional_date(as_of, "--as-of"), include_done=include_done
    )
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
    ids = deadlines.short_ids(env(ctx), [a.id for a, _ in pairs])
    print_actions(pairs, day, f"Plan for {subject_ref} as of {day}", short_ids=ids)


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
    from ...app import InvalidInput, deadlines
    from .common import progress_bar

    if bool(refs) == everything:
        raise InvalidInput("give subject references or --all", field="--all")
    e = env(ctx)
    total = deadlines.subjects_to_recompute(e) if everything else len(set(refs or []))
    with progress_bar("recomputing deadlines", total) as advance:
        count, changes = deadlines.recompute_subjects(
            e, None if everything else list(refs or []), progress=advance
        )
    say(f"recomputed {count} subject(s): {changes} change(s)")


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
    from ...app import deadlines

    action = deadlines.mark_done(
        env(ctx), action_id=action_id, on=parse_date(date, "--date"), note=note
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
    from ...app import deadlines

    action = deadlines.override(
        env(ctx),
        action_id=action_id,
        due=parse_date(due_date, "--due") if due_date is not None else None,
        waive=waive,
        reason=reason,
    )
    what = "waived" if waive else f"now due {due_date}"
    say(f"{action.explanation.title} ({action_id}) for {action.subject}: {what}")


@policy_app.command("show")
def policy_show(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the policy in force: every rule, its deadline and its reminders.

    Example: spo policy show --json
    """
    policy = env(ctx).policy
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
    rows = []
    for rule in policy.rules.values():
        if rule.cadence_months:
            deadline = ", ".join(f"{k} {v}m" for k, v in rule.cadence_months.items())
        else:
            deadline = rule.deadline.describe() if rule.deadline else "plan cadence"
        rows.append(
            (
                rule.id + ("" if rule.enabled else " (off)"),
                deadline,
                rule.anchor,
                ", ".join(f"{d}d" for d in rule.reminders) or "-",
                rule.done_when,
                rule.source,
            )
        )
    print_table(
        ("rule", "deadline", "anchor", "reminders", "done when", "source"),
        rows,
        title=f"{policy.label()} ({policy.digest})",
    )


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A policy TOML file.")],
) -> None:
    """Validate a policy file; errors name the key.

    Example: spo policy check data/policy/west-yorkshire.toml
    """
    from ...bootstrap import load_policy

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
    one_format(as_json, as_csv)
    from ...app import deadlines

    report = deadlines.compliance(
        env(ctx),
        date_from=parse_date(date_from, "--from"),
        date_to=parse_date(date_to, "--to"),
        as_of=optional_date(as_of, "--as-of"),
        team=team,
    )
    day, team = report.as_of, report.team
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
                    "corrected": t.corrected,
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
    print_table(
        ("group", "name", "on time", "late", "overdue", "open", "missed", "% on time", "corrected"),
        [
            (
                str(r["group"]),
                str(r["name"]),
                str(r["on_time"]),
                str(r["late"]),
                str(r["overdue"]),
                str(r["open"]),
                str(r["missed"]),
                "-" if r["percent_on_time"] is None else f"{r['percent_on_time']}%",
                str(r["corrected"]),
            )
            for r in rows
        ],
        title=f"Compliance, actions due {report.date_from} to {report.date_to} "
        f"(as of {day}{', team ' + team if team else ''})",
    )
