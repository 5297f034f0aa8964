"""Actions: what the engine decides, how one stands on a given day, and its identity. Pure.

Identity: an action's id is a hash of (subject, rule, order, key), where the key names the
occurrence with exported data only (an order reference, a flag period, a breach's date), so it
survives corrections of dates, variations and export/import: a refresh updates, never
duplicates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    UPCOMING = "upcoming"
    DUE_SOON = "due-soon"
    DUE_TODAY = "due-today"
    OVERDUE = "overdue"
    DONE = "done"
    CANCELLED = "cancelled"


class State(StrEnum):
    """What the facts alone say, whatever the date: the persisted part of a status."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Explanation:
    rule: str
    title: str
    trigger: str
    trigger_date: dt.date
    arithmetic: str
    clause: str
    policy: str
    completion: str | None = None
    cancellation: str | None = None
    override: str | None = None
    lapse: str | None = None
    # the record id of the fact the action answers (the breach, the move out), if one
    record: str | None = None
    # a checklist's or a document list's items still to do, in words
    missing: str | None = None

    def text(self, due: dt.date) -> str:
        parts = [
            f"{self.title[0].upper()}{self.title[1:]} due {due}: {self.trigger} on "
            f"{self.trigger_date}; {self.arithmetic}.",
            f"Policy: {self.clause} ({self.policy}).",
        ]
        parts += [
            p
            for p in (self.missing, self.override, self.completion, self.cancellation, self.lapse)
            if p
        ]
        return " ".join(parts)

    def as_dict(self, due: dt.date) -> dict[str, str | None]:
        return {
            "text": self.text(due),
            "title": self.title,
            "trigger": self.trigger,
            "trigger_date": self.trigger_date.isoformat(),
            "arithmetic": self.arithmetic,
            "clause": self.clause,
            "policy": self.policy,
            "completion": self.completion,
            "cancellation": self.cancellation,
            "override": self.override,
            "lapse": self.lapse,
            "record": self.record,
            "missing": self.missing,
        }


@dataclass(frozen=True)
class Action:
    id: str
    rule: str
    subject: str
    order: str | None
    key: str
    officer: str | None
    trigger_date: dt.date
    window_opens: dt.date
    due: dt.date
    completed: dt.date | None
    cancelled_on: dt.date | None
    # An order's known end: if the action is still open then, it lapses (status cancelled).
    lapses_on: dt.date | None
    # From this day an open action is "due-soon": its window, or the policy's due-soon days.
    soon_from: dt.date
    explanation: Explanation
    # False for an action the facts never called for (an earlier force's grant actions, an
    # exemption, or one that stopped being derived once a fact was corrected): it is kept,
    # with its history, but appears in no view of any day.
    applies: bool = True
    # who does it: "offender-manager", "supervisor" or "scu" (``officer`` is then None: the
    # SCU mailbox); the rule's owner, or the SCU for work nobody else is there to do
    owner: str = "offender-manager"

    @classmethod
    def from_stored(cls, values: Mapping[str, Any]) -> Action:
        """Rebuild an action from its stored columns (``action`` table) and explanation."""
        parts = dict(values["explanation"] or {})
        return cls(
            id=values["id"],
            rule=values["rule"],
            subject=values["subject_ref"],
            order=values["order_ref"],
            key=values["key"],
            officer=values["officer"],
            trigger_date=values["trigger_date"],
            window_opens=values["window_opens"],
            due=values["due"],
            completed=values["completed"],
            cancelled_on=values["cancelled_on"],
            lapses_on=values["lapses_on"],
            soon_from=values["soon_from"],
            explanation=Explanation(
                rule=values["rule"],
                title=str(parts.get("title") or values["rule"]),
                trigger=str(parts.get("trigger") or ""),
                trigger_date=values["trigger_date"],
                arithmetic=str(parts.get("arithmetic") or ""),
                clause=str(parts.get("clause") or ""),
                policy=str(parts.get("policy") or ""),
                completion=parts.get("completion"),
                cancellation=parts.get("cancellation"),
                override=parts.get("override"),
                lapse=parts.get("lapse"),
                record=parts.get("record"),
                missing=parts.get("missing"),
            ),
            applies=not (values.get("state") == "cancelled" and values["cancelled_on"] is None),
            owner=values.get("owner") or "offender-manager",
        )

    @property
    def state(self) -> State:
        if not self.applies:
            return State.CANCELLED
        if self.cancelled_on is not None and (
            self.completed is None or self.completed > self.cancelled_on
        ):
            return State.CANCELLED
        return State.DONE if self.completed is not None else State.OPEN

    @property
    def late(self) -> bool | None:
        """Done after its due date (None while not done)."""
        if self.state is not State.DONE or self.completed is None:
            return None
        return self.completed > self.due

    def lapsed_on(self, as_of: dt.date) -> dt.date | None:
        """The day it lapsed, if by ``as_of`` it is cancelled because its order ended with it
        still open (not by a move, a waiver or the record changing): what the compliance
        report counts as missed when after its due date. None otherwise."""
        if self.status(as_of) is not Status.CANCELLED or self.cancelled_on is not None:
            return None
        return self.lapses_on if self.applies else None

    def status(self, as_of: dt.date) -> Status | None:
        """Where the action stands on ``as_of``; None before it was triggered, and on every
        day for one that never applied."""
        return status_on(
            as_of,
            trigger_date=self.trigger_date,
            due=self.due,
            completed=self.completed,
            cancelled_on=self.cancelled_on,
            lapses_on=self.lapses_on,
            soon_from=self.soon_from,
            applies=self.applies,
        )


def status_on(
    as_of: dt.date,
    *,
    trigger_date: dt.date,
    due: dt.date,
    completed: dt.date | None,
    cancelled_on: dt.date | None,
    lapses_on: dt.date | None,
    soon_from: dt.date,
    applies: bool = True,
) -> Status | None:
    """The one definition of an action's status on a day, from its dates (``Action.status``,
    and lists that read the dates alone)."""
    if trigger_date > as_of or not applies:
        return None
    cancelled = cancelled_on is not None and (completed is None or completed > cancelled_on)
    if cancelled:
        assert cancelled_on is not None
        if cancelled_on <= as_of:
            return Status.CANCELLED
    elif completed is not None and completed <= as_of:
        return Status.DONE
    if lapses_on is not None and lapses_on <= as_of:
        return Status.CANCELLED
    if as_of > due:
        return Status.OVERDUE
    if as_of == due:
        return Status.DUE_TODAY
    if as_of >= soon_from:
        return Status.DUE_SOON
    return Status.UPCOMING


# An action's id: the start of a SHA-256 of what identifies it. 16 hex digits (64 bits) since
# schema 0004: the 10 used before gave even odds of two actions sharing an id at about a
# million actions, which a national caseload with years of history reaches (the stress
# benchmark's import failed on one). An old id is the start of the new one.
ACTION_ID_LENGTH = 16
LEGACY_ACTION_ID_LENGTH = 10


def action_id(subject: str, rule: str, order: str | None, key: str) -> str:
    digest = hashlib.sha256(f"{subject}|{rule}|{order or ''}|{key}".encode()).hexdigest()
    return digest[:ACTION_ID_LENGTH]


def names_action(ref: str, action_id: str) -> bool:
    """Whether an override's action reference names this action: by its id, or by the
    10-digit id it had before schema 0004 (overrides in older exports and audit images)."""
    return ref == action_id or (len(ref) == LEGACY_ACTION_ID_LENGTH and action_id.startswith(ref))
