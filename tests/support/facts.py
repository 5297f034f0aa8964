"""Small builders of one subject's facts for the pure rules tests, and the shipped policy."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from spo_tracker.core import record as d
from spo_tracker.core.policy import Policy, parse_policy
from spo_tracker.core.rules import Action, Facts, derive_actions

REPO = Path(__file__).resolve().parents[2]
POLICY_TEXT = (REPO / "data" / "policy" / "west-yorkshire.toml").read_text()
OM = "om@force.example"
DS = "ds@force.example"

day = date.fromisoformat
# England & Wales bank holidays in 2026 (Boxing Day falls on a Saturday: 28 December)
BANK_HOLIDAYS_2026 = frozenset(
    day(x)
    for x in (
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
    )
)


def shipped_policy() -> Policy:
    """The shipped West Yorkshire policy, parsed afresh (so its loading is under test too)."""
    return parse_policy(POLICY_TEXT)


def subject(**kw: Any) -> d.Subject:
    kw.setdefault("reference", "S-1")
    kw.setdefault("names", [d.NameEntry("Alex Brown")])
    return d.Subject(**kw)


def full(made: str, expires: str | None = None, *, ref: str = "O-1", **kw: Any) -> d.Order:
    return d.Order(
        ref,
        d.OrderType.FULL,
        made=day(made),
        expires=day(expires) if expires else None,
        until_further_order=expires is None,
        **kw,
    )


def interim(made: str, expires: str, *, ref: str = "I-1", **kw: Any) -> d.Order:
    return d.Order(ref, d.OrderType.INTERIM, made=day(made), expires=day(expires), **kw)


def derive(facts: d.Subject, policy: Policy | None = None, **kw: Any) -> list[Action]:
    return derive_actions(Facts(facts, **kw), policy or shipped_policy())


def only(actions: list[Action], rule: str) -> list[Action]:
    return [a for a in actions if a.rule == rule]


def one(actions: list[Action], rule: str) -> Action:
    matches = only(actions, rule)
    assert len(matches) == 1, f"expected one {rule} action, got {matches}"
    return matches[0]
