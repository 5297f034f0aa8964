"""A force's policy file (TOML) -> a validated ``Policy``. Pure: text in, policy out.

Finding the file (configuration, the installed wheel) and looking up bank holidays are the
shell's job (``bootstrap``); this module only parses and checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput
from .text import quote

RULE_IDS = (
    "initial-visit",
    "grant-checklist",
    "smp-created",
    "transfer-in-allocation",
    "transfer-in-visit",
    "transfer-out-notify",
    "renewal-submission",
    "flag-review",
    "smp-review",
    "routine-visit",
    "notification-check",
    "change-notification",
    "interim-expiry",
    "condition-expiry",
    "breach-response",
    "order-expiry",
    "order-close-down",
)
# Rules whose deadline is a cadence, not an offset from an anchor.
CADENCE_RULES = {"smp-review", "routine-visit"}
RISK_KEYS = ("high", "medium", "low", "ungraded")
# Who does a rule's action: the subject's offender manager, that officer's supervisor, or
# the Stalking Coordination Unit (which also takes the work of unallocated subjects).
OWNERS = ("offender-manager", "supervisor", "scu")
# What a rule's ``record`` command may name; DATE and other capitals are for the officer.
RECORD_FIELDS = ("subject", "order", "flag", "id", "officer", "record")
# What completes each rule's action: a recorded fact (a visit, a plan, a renewal decision...),
# the items of its checklist (``spo checklist done``), or an officer marking it done
# (``spo action done``). It follows from the rules themselves: the policy file says it, and a
# file that says otherwise is refused.
COMPLETIONS = ("fact", "checklist", "manual")
COMPLETED_BY: Mapping[str, str] = {
    **dict.fromkeys(RULE_IDS, "fact"),
    "grant-checklist": "checklist",
    "order-close-down": "checklist",
    "condition-expiry": "manual",
    "order-expiry": "manual",
}
CHECKLIST_ITEM = r"[a-z][a-z0-9-]{0,39}"


class PolicyError(InvalidInput):
    """A policy file that cannot be used; ``field`` is the offending key."""


@dataclass(frozen=True)
class Offset:
    """A signed distance from an anchor date: months then days (calendar or working)."""

    years: int = 0
    months: int = 0
    days: int = 0
    working_days: bool = False

    def describe(self) -> str:
        parts = []
        for amount, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day")):
            if amount:
                word = f"working {unit}" if unit == "day" and self.working_days else unit
                parts.append(f"{abs(amount)} {word}{'s' if abs(amount) != 1 else ''}")
        if not parts:
            return "on the day"
        direction = "before" if (self.years, self.months, self.days) < (0, 0, 0) else "after"
        return f"{' '.join(parts)} {direction}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    action: str
    anchor: str
    done_when: str
    clause: str
    source: str
    deadline: Offset | None
    window: Offset | None = None
    reminders: tuple[int, ...] = ()
    due_day_reminder: bool = True
    escalate: bool = True
    enabled: bool = True
    cadence_months: Mapping[str, int] = field(default_factory=dict)
    after_event: Offset | None = None
    owner: str = "offender-manager"
    # the command that records the fact completing the action, with {subject}, {order},
    # {flag}, {id}, {officer} or {record} (the fact's record id) filled in for the action:
    # what emails and calendars tell
    record: str = "spo action done {id} --date DATE"
    completed_by: str = "fact"
    # a checklist rule's items, in the order they are shown
    items: tuple[ChecklistItem, ...] = ()

    def item(self, item_id: str) -> ChecklistItem | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True)
class ChecklistItem:
    """One thing a checklist rule needs done: its short id (``pnc-updated``), what it is,
    and whether recording it needs a reference (the Niche occurrence, the PNC update)."""

    id: str
    text: str
    needs_ref: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    source: str
    timezone: str
    due_soon_days: int
    escalation_interval_days: int
    rules: Mapping[str, Rule]
    retention_years: int
    digest: str
    text: str
    # England & Wales bank holidays, filled in by the shell when a rule counts working days.
    holidays: frozenset[dt.date] = frozenset()
    # how long the access log keeps a row ([retention] log_years; default: ``years``)
    log_retention_years: int = 6

    @property
    def uses_working_days(self) -> bool:
        offsets = [o for r in self.rules.values() for o in (r.deadline, r.window, r.after_event)]
        return any(o is not None and o.working_days for o in offsets)

    def label(self) -> str:
        return f"{self.name} policy {self.version}"


# ------------------------------------------------------------------------------ parsing


def _check_keys(table: Mapping[str, Any], path: str, allowed: set[str], required: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise PolicyError(
                f"unknown key (expected one of {', '.join(sorted(allowed))})",
                field=f"{path}.{key}" if path else key,
            )
    for key in sorted(required):
        if key not in table:
            raise PolicyError("is required", field=f"{path}.{key}" if path else key)


def _typed(table: Mapping[str, Any], key: str, path: str, kind: type, default: Any = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    # bool is an int in Python: a number where a flag is wanted (or the reverse) is an error.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PolicyError(
            f"must be {_KIND_NAMES.get(kind, kind.__name__)}, not {quote(value)}",
            field=f"{path}.{key}",
        )
    if isinstance(value, str) and not value.strip():
        raise PolicyError("must not be empty", field=f"{path}.{key}")
    return value


_KIND_NAMES = {
    int: "a whole number",
    str: "text",
    bool: "true or false",
    dict: "a table",
    list: "a list",
}


def _offset(value: Any, path: str, working: bool) -> Offset:
    if not isinstance(value, dict):
        raise PolicyError("must be a table such as { days = 7 } or { months = -3 }", field=path)
    _check_keys(value, path, {"years", "months", "days"}, set())
    amounts = {k: _typed(value, k, path, int, 0) for k in ("years", "months", "days")}
    for key, amount in amounts.items():
        if abs(amount) > 3660:
            raise PolicyError(f"{amount} is not a plausible number of {key}", field=f"{path}.{key}")
    signs = {amount > 0 for amount in amounts.values() if amount}
    if len(signs) > 1:
        raise PolicyError("mixes positive and negative amounts", field=path)
    return Offset(**amounts, working_days=working)


_RULE_KEYS = {
    "title",
    "action",
    "anchor",
    "done_when",
    "clause",
    "source",
    "deadline",
    "window",
    "reminders",
    "due_day_reminder",
    "escalate",
    "enabled",
    "working_days",
    "cadence_months",
    "after_event",
    "owner",
    "record",
    "completed_by",
    "items",
}
_TEXT_KEYS = ("title", "action", "anchor", "done_when", "clause", "source")


def _rule(rule_id: str, table: Any) -> Rule:
    path = f"rules.{rule_id}"
    if not isinstance(table, dict):
        raise PolicyError("must be a table", field=path)
    required = set(_TEXT_KEYS)
    if rule_id == "smp-review":
        required |= {"cadence_months", "after_event"}
    elif rule_id not in CADENCE_RULES:
        required.add("deadline")
    allowed = set(_RULE_KEYS)
    if rule_id != "smp-review":
        allowed -= {"cadence_months", "after_event"}
    if rule_id in CADENCE_RULES:
        allowed -= {"deadline", "window"}
    _check_keys(table, path, allowed, required)
    working = _typed(table, "working_days", path, bool, False)
    reminders = _typed(table, "reminders", path, list, [])
    for i, days in enumerate(reminders):
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 366:
            raise PolicyError(
                f"{quote(days)} is not a number of days between 1 and 366",
                field=f"{path}.reminders[{i}]",
            )
    cadence: dict[str, int] = {}
    if rule_id == "smp-review":
        raw = _typed(table, "cadence_months", path, dict)
        _check_keys(raw, f"{path}.cadence_months", set(RISK_KEYS), set(RISK_KEYS))
        for key in RISK_KEYS:
            months = _typed(raw, key, f"{path}.cadence_months", int)
            if not 1 <= months <= 24:
                raise PolicyError(
                    "must be between 1 and 24 months", field=f"{path}.cadence_months.{key}"
                )
            cadence[key] = months
    owner = _typed(table, "owner", path, str, "offender-manager")
    if owner not in OWNERS:
        raise PolicyError(
            f"{quote(owner)} is not one of {', '.join(OWNERS)}", field=f"{path}.owner"
        )
    record = _typed(table, "record", path, str, Rule.record)
    _check_record(record, f"{path}.record")
    completed_by = _typed(table, "completed_by", path, str, COMPLETED_BY[rule_id])
    if completed_by != COMPLETED_BY[rule_id]:
        raise PolicyError(
            f"{completed_by!r}: this rule's action is completed by "
            f"{_COMPLETION_WORDS[COMPLETED_BY[rule_id]]}",
            field=f"{path}.completed_by",
        )
    items = _items(table, path) if completed_by == "checklist" else ()
    if completed_by != "checklist" and "items" in table:
        raise PolicyError("only a checklist rule has items", field=f"{path}.items")
    return Rule(
        id=rule_id,
        owner=owner,
        record=record,
        completed_by=completed_by,
        items=items,
        **{key: _typed(table, key, path, str) for key in _TEXT_KEYS},
        deadline=_offset(table["deadline"], f"{path}.deadline", working)
        if "deadline" in table
        else None,
        window=_offset(table["window"], f"{path}.window", working) if "window" in table else None,
        reminders=tuple(sorted(set(reminders), reverse=True)),
        due_day_reminder=_typed(table, "due_day_reminder", path, bool, True),
        escalate=_typed(table, "escalate", path, bool, True),
        enabled=_typed(table, "enabled", path, bool, True),
        cadence_months=cadence,
        after_event=_offset(table["after_event"], f"{path}.after_event", working)
        if "after_event" in table
        else None,
    )


_COMPLETION_WORDS = {
    "fact": "'fact' (the fact it names, when recorded)",
    "checklist": "'checklist' (its items)",
    "manual": "'manual' (spo action done)",
}


def _items(table: Mapping[str, Any], path: str) -> tuple[ChecklistItem, ...]:
    import re

    raw = _typed(table, "items", path, list, None)
    if not raw:
        raise PolicyError("a checklist rule lists its items", field=f"{path}.items")
    items: list[ChecklistItem] = []
    for i, entry in enumerate(raw):
        where = f"{path}.items[{i}]"
        if not isinstance(entry, dict):
            raise PolicyError(
                'must be a table such as { id = "pnc-updated", text = ... }', field=where
            )
        _check_keys(entry, where, {"id", "text", "needs_ref"}, {"id", "text"})
        item_id = _typed(entry, "id", where, str)
        if not re.fullmatch(CHECKLIST_ITEM, item_id):
            raise PolicyError(
                f"{item_id!r} must be lower-case letters, digits and dashes", field=f"{where}.id"
            )
        if any(x.id == item_id for x in items):
            raise PolicyError(f"{item_id!r} is repeated", field=f"{where}.id")
        items.append(
            ChecklistItem(
                item_id,
                _typed(entry, "text", where, str),
                _typed(entry, "needs_ref", where, bool, False),
            )
        )
    return tuple(items)


def _check_record(template: str, field: str) -> None:
    """A command line starting ``spo``, naming only the fields an action can fill."""
    import string

    if not template.startswith("spo "):
        raise PolicyError(
            "must be an spo command, such as 'spo visit add {subject} ...'", field=field
        )
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise PolicyError(f"is not a command template: {exc}", field=field) from None
    unknown = names - set(RECORD_FIELDS)
    if unknown:
        raise PolicyError(
            f"names {', '.join(sorted(unknown))}: only {', '.join(RECORD_FIELDS)} can be filled in",
            field=field,
        )


def check_timezone(name: str, field: str, error: type[InvalidInput] = InvalidInput) -> str:
    """An IANA time zone name (``Europe/London``), or an error naming ``field``."""
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        message = f"{quote(name)} is not a time zone name such as Europe/London"
        raise error(message, field=field) from None
    return name


def text_digest(text: str) -> str:
    """The short digest that names a policy text (stored with every recompute)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def parse_policy(text: str) -> Policy:
    """Parse and validate policy TOML; errors name the key (``rules.flag-review.window``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}", field="policy file") from None
    _check_keys(
        data, "", {"policy", "escalation", "rules", "retention"}, {"policy", "escalation", "rules"}
    )
    retention = _typed(data, "retention", "", dict, {"years": 6})
    _check_keys(retention, "retention", {"years", "log_years"}, {"years"})
    years = _typed(retention, "years", "retention", int)
    if not 1 <= years <= 100:
        raise PolicyError("must be between 1 and 100", field="retention.years")
    log_years = _typed(retention, "log_years", "retention", int, years)
    if not 1 <= log_years <= 100:
        raise PolicyError("must be between 1 and 100", field="retention.log_years")
    head = _typed(data, "policy", "", dict)
    _check_keys(
        head,
        "policy",
        {"name", "version", "source", "timezone", "due_soon_days"},
        {"name", "version", "source", "timezone", "due_soon_days"},
    )
    check_timezone(_typed(head, "timezone", "policy", str), "policy.timezone", PolicyError)
    due_soon = _typed(head, "due_soon_days", "policy", int)
    if not 0 <= due_soon <= 90:
        raise PolicyError("must be between 0 and 90", field="policy.due_soon_days")
    escalation = _typed(data, "escalation", "", dict)
    _check_keys(escalation, "escalation", {"interval_days"}, {"interval_days"})
    interval = _typed(escalation, "interval_days", "escalation", int)
    if not 1 <= interval <= 90:
        raise PolicyError("must be between 1 and 90", field="escalation.interval_days")
    rules_table = _typed(data, "rules", "", dict)
    _check_keys(rules_table, "rules", set(RULE_IDS), set(RULE_IDS))
    return Policy(
        name=_typed(head, "name", "policy", str),
        version=_typed(head, "version", "policy", str),
        source=_typed(head, "source", "policy", str),
        timezone=head["timezone"],
        due_soon_days=due_soon,
        escalation_interval_days=interval,
        rules={rule_id: _rule(rule_id, rules_table[rule_id]) for rule_id in RULE_IDS},
        retention_years=years,
        log_retention_years=log_years,
        digest=text_digest(text),
        text=text,
    )
