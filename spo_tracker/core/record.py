"""The SPO record as plain dataclasses, and the invariants every write must keep.

Pure: no I/O, no clock, no third-party imports beyond dateutil (through ``dates``). The field
names here are the field names of the export format
(``adapters/schemas/export-v1.schema.json``), so an error path such as
``subjects[3].orders[0].expires`` names the same thing in the CLI, the import file and the
code.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from .dates import anniversary, check_range, last_day_of_period
from .errors import InvalidInput
from .text import quote

# ---------------------------------------------------------------------------------------------
# Vocabularies


class Role(StrEnum):
    OFFENDER_MANAGER = "offender-manager"
    SUPERVISOR = "supervisor"
    SCU = "scu"


class Risk(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class OrderType(StrEnum):
    INTERIM = "interim"
    FULL = "full"


class OrderStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"  # an interim order superseded by a full order
    DISCHARGED = "discharged"


class ConditionKind(StrEnum):
    PROHIBITION = "prohibition"
    REQUIREMENT = "requirement"


class VisitKind(StrEnum):
    INITIAL = "initial"
    ROUTINE = "routine"
    UNANNOUNCED = "unannounced"


class Offence(StrEnum):
    BREACH = "breach"  # s8: breach of an order
    FAILURE_TO_NOTIFY = "failure-to-notify"  # s11: failing to notify names or address


class FlagOutcome(StrEnum):
    REMOVED = "removed"
    EXTENDED = "extended"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class NameKind(StrEnum):
    NAME = "name"
    ALIAS = "alias"


class RenewalDecision(StrEnum):
    SUBMITTED = "submitted"
    DECLINED = "declined"


class DischargeOutcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"


class RevisionKind(StrEnum):
    CORRECTED = "corrected"
    VOIDED = "voided"


class OverrideKind(StrEnum):
    DONE = "done"  # an action with no fact of its own completed on ``date``
    DUE = "due"  # the due date moved to ``date``
    WAIVE = "waive"  # the action no longer needed, from ``date``


# ---------------------------------------------------------------------------------------------
# The record. Every fact has an ``id``, its record id (``S-001/visit-3``: the subject, order or
# flag it belongs to, what it is, and its number there), given when it is first stored and
# kept through corrections, export and import, the same on every engine. Officers name a fact
# by it (``spo correct S-001/visit-3``).


@dataclass
class Officer:
    email: str
    name: str
    role: Role
    team: str | None = None
    supervisor: str | None = None
    active: bool = True


@dataclass
class NameEntry:
    name: str
    kind: NameKind = NameKind.NAME
    since: dt.date | None = None
    id: str | None = None


@dataclass
class AddressEntry:
    address: str
    since: dt.date | None = None
    id: str | None = None


@dataclass
class RiskEntry:
    level: Risk
    since: dt.date | None = None
    id: str | None = None


@dataclass
class Allocation:
    officer: str
    since: dt.date | None = None
    id: str | None = None


@dataclass
class Condition:
    kind: ConditionKind
    text: str
    ends: dt.date | None = None
    id: str | None = None


@dataclass
class Variation:
    date: dt.date
    expires: dt.date | None
    until_further_order: bool
    previous_expires: dt.date | None
    previous_until_further_order: bool
    notes: str | None = None
    id: str | None = None


@dataclass
class Renewal:
    date: dt.date
    decision: RenewalDecision
    reason: str | None = None
    id: str | None = None


@dataclass
class DischargeApplication:
    date: dt.date
    subject_consents: bool
    police_consents: bool
    outcome: DischargeOutcome
    id: str | None = None


@dataclass
class ChecklistEntry:
    """One item of a checklist rule (the grant checklist, the close-down) recorded as done
    for an order: which item (the policy names them), when, and its reference."""

    item: str
    date: dt.date
    ref: str | None = None
    id: str | None = None


@dataclass
class Order:
    reference: str
    type: OrderType
    made: dt.date
    served: dt.date | None = None
    expires: dt.date | None = None
    until_further_order: bool = False
    court: str | None = None
    replaces: str | None = None
    status: OrderStatus = OrderStatus.ACTIVE
    conditions: list[Condition] = field(default_factory=list)
    variations: list[Variation] = field(default_factory=list)
    renewals: list[Renewal] = field(default_factory=list)
    discharge_applications: list[DischargeApplication] = field(default_factory=list)
    checklist: list[ChecklistEntry] = field(default_factory=list)

    def standing(self, on: dt.date) -> str:
        """How the order stands on ``on``, as people say it: its recorded status, but
        ``expired`` for an active one whose expiry has passed (it runs to the end of its
        expiry date)."""
        if (
            self.status is OrderStatus.ACTIVE
            and not self.until_further_order
            and self.expires is not None
            and self.expires < on
        ):
            return "expired"
        return str(self.status)


@dataclass
class Visit:
    date: dt.date
    kind: VisitKind = VisitKind.ROUTINE
    officer: str | None = None
    outcome: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class PlannedVisit:
    """A visit an officer means to make: not a fact (nothing has happened), so it completes
    no deadline and is not part of the record's export. It shows as planned, visited (a
    visit recorded on or after its day) or missed (its day passed with none)."""

    date: dt.date
    kind: VisitKind = VisitKind.ROUTINE
    officer: str | None = None
    note: str | None = None

    def status(self, visits: Sequence[Visit], today: dt.date) -> tuple[str, dt.date | None]:
        """("visited", the visit's day) for the first visit on or after the planned day,
        else ("planned", None) until that day has passed, then ("missed", None)."""
        done = sorted(v.date for v in visits if v.date >= self.date)
        if done:
            return "visited", done[0]
        return ("planned", None) if self.date >= today else ("missed", None)


@dataclass
class Breach:
    date: dt.date
    offence: Offence = Offence.BREACH
    crime_ref: str | None = None
    arrested: bool = False
    outcome: str | None = None
    charged: bool = False
    outcome_on: dt.date | None = None  # the day the outcome was recorded (completes the response)
    id: str | None = None


@dataclass
class Notification:
    date: dt.date
    names: list[str] = field(default_factory=list)
    address: str | None = None
    ack_ref: str | None = None
    id: str | None = None


@dataclass
class FlagReview:
    date: dt.date
    outcome: FlagOutcome
    until: dt.date | None = None
    id: str | None = None


@dataclass
class Flag:
    reference: str
    expires: dt.date
    reviews: list[FlagReview] = field(default_factory=list)

    def current_expiry(self) -> dt.date:
        """The expiry in force: the last extension, else the expiry first set."""
        expiry = self.expires
        for review in self.reviews:
            if review.outcome is FlagOutcome.EXTENDED and review.until is not None:
                expiry = review.until
        return expiry

    def removed_on(self) -> dt.date | None:
        return next((r.date for r in self.reviews if r.outcome is FlagOutcome.REMOVED), None)


# The documents a move out sends to the new force: item (as typed) -> Transfer field.
MOVE_OUT_DOCUMENTS: dict[str, str] = {
    "statement-of-service": "statement_of_service_sent",
    "smp": "smp_sent",
    "risk-information": "risk_information_sent",
}
MOVE_OUT_WORDS = {
    "statement-of-service": "the statement of service",
    "smp": "the Subject Management Plan",
    "risk-information": "the risk information",
}


@dataclass
class Transfer:
    direction: Direction
    date: dt.date
    force: str
    # earlier records: all three documents sent on the day of the move
    documents_sent: bool = False
    statement_of_service_sent: dt.date | None = None
    smp_sent: dt.date | None = None
    risk_information_sent: dt.date | None = None
    id: str | None = None

    def documents(self) -> dict[str, dt.date | None]:
        """Each move-out document (by its item name) and the day it was sent, if it was."""
        return {
            item: getattr(self, name) or (self.date if self.documents_sent else None)
            for item, name in MOVE_OUT_DOCUMENTS.items()
        }


@dataclass
class ManagementPlan:
    """A Subject Management Plan written or re-issued on ``date``; it may set how often the
    subject is visited (``visit_every_days``), which drives the routine-visit deadline."""

    date: dt.date
    notes: str | None = None
    visit_every_days: int | None = None
    id: str | None = None


@dataclass
class Review:
    """A supervisor's review of the Subject Management Pack."""

    date: dt.date
    by: str
    notes: str | None = None
    id: str | None = None


@dataclass
class ActionOverride:
    """An officer's decision about a derived action: done, a new due date, or waived."""

    action: str
    kind: OverrideKind
    date: dt.date
    reason: str | None = None
    actor: str | None = None
    id: str | None = None


@dataclass
class Revision:
    """A fact corrected or withdrawn (voided): which, when, by whom, why, and the fact as it
    stood before (and after, for a correction), in the export format's words."""

    record: str
    change: RevisionKind
    at: dt.datetime
    by: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any] | None = None


@dataclass
class Subject:
    reference: str
    names: list[NameEntry]
    date_of_birth: dt.date | None = None
    domestic_abuse: bool = False
    registered_sex_offender: bool = False
    rso_exempt_until: dt.date | None = None
    pnc_ref: str | None = None
    niche_ref: str | None = None
    addresses: list[AddressEntry] = field(default_factory=list)
    risk_levels: list[RiskEntry] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    management_plans: list[ManagementPlan] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    action_overrides: list[ActionOverride] = field(default_factory=list)
    # Corrections and voids, oldest first (read for export and ``spo show --history``).
    revisions: list[Revision] = field(default_factory=list)

    # Current values are the latest entry of each history ("since" unknown sorts first).
    def current_name(self) -> str:
        return current_name(self.names)

    def current_address(self) -> str | None:
        return _latest(self.addresses).address if self.addresses else None

    def current_risk(self) -> Risk | None:
        return _latest(self.risk_levels).level if self.risk_levels else None

    def current_officer(self) -> str | None:
        return _latest(self.allocations).officer if self.allocations else None

    def order(self, reference: str) -> Order | None:
        return next((o for o in self.orders if o.reference == reference), None)

    def flag(self, reference: str) -> Flag | None:
        return next((f for f in self.flags if f.reference == reference), None)


_Entry = TypeVar("_Entry", NameEntry, AddressEntry, RiskEntry, Allocation)

# ---------------------------------------------------------------------------------------------
# Record ids: what each list's facts are called in their ids.

SUBJECT_FACTS: dict[str, str] = {
    "names": "name",
    "addresses": "address",
    "risk_levels": "risk",
    "allocations": "allocation",
    "visits": "visit",
    "breaches": "breach",
    "notifications": "notification",
    "transfers": "transfer",
    "management_plans": "smp",
    "reviews": "review",
    "action_overrides": "override",
}
ORDER_FACTS: dict[str, str] = {
    "conditions": "condition",
    "variations": "variation",
    "renewals": "renewal",
    "discharge_applications": "discharge",
    "checklist": "checklist",
}
FLAG_FACTS: dict[str, str] = {"reviews": "flag-review"}
FACT_KINDS = frozenset([*SUBJECT_FACTS.values(), *ORDER_FACTS.values(), *FLAG_FACTS.values()])
# What each kind of fact is.
FACT_CLASSES: dict[str, type[Any]] = {
    "name": NameEntry,
    "address": AddressEntry,
    "risk": RiskEntry,
    "allocation": Allocation,
    "visit": Visit,
    "breach": Breach,
    "notification": Notification,
    "transfer": Transfer,
    "smp": ManagementPlan,
    "review": Review,
    "override": ActionOverride,
    "condition": Condition,
    "variation": Variation,
    "renewal": Renewal,
    "discharge": DischargeApplication,
    "checklist": ChecklistEntry,
    "flag-review": FlagReview,
}


def record_id(parent: str, kind: str, number: int) -> str:
    """``S-001``, ``visit``, 3 -> ``S-001/visit-3``."""
    return f"{parent}/{kind}-{number}"


def split_record_id(value: str) -> tuple[str, str, int] | None:
    """``S-001/visit-3`` -> (``S-001``, ``visit``, 3); None when it is not a record id."""
    parent, slash, rest = value.rpartition("/")
    kind, dash, number = rest.rpartition("-")
    if not slash or not parent or not dash or kind not in FACT_KINDS or not number.isdigit():
        return None
    return parent, kind, int(number)


def number_facts(parent: str, kind: str, items: Iterable[Any], taken: Iterable[str]) -> None:
    """Give each of ``items`` without an id the next free number of ``kind`` under ``parent``
    (after the highest of ``taken`` and of the items' own ids)."""
    items = list(items)
    highest = 0
    for value in [*taken, *(i.id for i in items if i.id)]:
        split = split_record_id(value)
        if split is not None and split[0] == parent and split[1] == kind:
            highest = max(highest, split[2])
    for item in items:
        if item.id is None:
            highest += 1
            item.id = record_id(parent, kind, highest)


def facts_with_ids(subject: Subject) -> Iterable[tuple[str, str, Any]]:
    """Every fact of ``subject`` with its parent reference and kind: (parent, kind, fact)."""
    for attr, kind in SUBJECT_FACTS.items():
        for item in getattr(subject, attr):
            yield subject.reference, kind, item
    for order in subject.orders:
        for attr, kind in ORDER_FACTS.items():
            for item in getattr(order, attr):
                yield order.reference, kind, item
    for flag in subject.flags:
        for review in flag.reviews:
            yield flag.reference, "flag-review", review


def number_subject(subject: Subject, taken: Iterable[str] = ()) -> None:
    """Give every fact of ``subject`` that has no id its own (import, a new subject)."""
    taken = list(taken)
    groups: dict[tuple[str, str], list[Any]] = {}
    for parent, kind, item in facts_with_ids(subject):
        groups.setdefault((parent, kind), []).append(item)
    voided = [r.record for r in subject.revisions]
    for (parent, kind), items in groups.items():
        number_facts(parent, kind, items, [*taken, *voided])


def current_name(names: list[NameEntry]) -> str:
    """The name in use: the latest name (not alias) on record, else the latest alias."""
    return _latest([n for n in names if n.kind is NameKind.NAME] or names).name


def initials(name: str) -> str:
    """``"John Adam Smith"`` -> ``"J.A.S."``; hyphenated parts count (``"Mary-Jane"`` ->
    ``"M.J."``); no name -> ``""``. What emails and calendars may carry of a subject's name."""
    parts = [p for p in re.split(r"[\s\-]+", name) if p]
    letters = [next((ch for ch in p if ch.isalnum()), "") for p in parts]
    return "".join(f"{ch.upper()}." for ch in letters if ch)


def _latest(entries: list[_Entry]) -> _Entry:
    # Stable: among equal dates the later-recorded entry wins.
    best = entries[0]
    for entry in entries[1:]:
        if (entry.since or dt.date.min) >= (best.since or dt.date.min):
            best = entry
    return best


# ---------------------------------------------------------------------------------------------
# Validation. Each check returns problems as (field path, reason); callers prefix the path
# (``subjects[3].``) or map the field to a command-line option. Nothing here raises.


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def under(self, prefix: str) -> Problem:
        if not prefix:
            return self
        return Problem(f"{prefix}.{self.path}" if self.path else prefix, self.message)


_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
REFERENCE_MAX = 64
NAME_MAX = 200
TEXT_MAX = 4000


def check_email(value: str, path: str) -> list[Problem]:
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        return [Problem(path, f"{quote(value)} is not a valid email address")]
    return []


def check_text(
    value: str | None,
    path: str,
    *,
    max_len: int = TEXT_MAX,
    multiline: bool = False,
    required: bool = False,
) -> list[Problem]:
    """Reject empty required text, over-long text and control characters.

    Line breaks are allowed only in free-text notes: a reference, name or address with a CR or
    LF in it could split an email header or a calendar line later.
    """
    if value is None:
        return [Problem(path, "is required")] if required else []
    if required and not value.strip():
        return [Problem(path, "must not be empty")]
    if len(value) > max_len:
        return [Problem(path, f"is too long ({len(value)} characters, at most {max_len})")]
    allowed = {"\n", "\t"} if multiline else set()
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            return [Problem(path, f"contains a control character (U+{ord(ch):04X})")]
    return []


_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")
_LOOK_ALIKE = str.maketrans({"o": "0", "i": "1", "l": "1", "_": "-", ".": "-", ":": "-"})


def reference_skeleton(reference: str) -> str:
    """What a reference looks like to a reader: case, O/0, I/l/1 and separators folded.
    Two references with one skeleton would be mistaken for each other."""
    return reference.casefold().translate(_LOOK_ALIKE)


def check_reference(value: str, path: str) -> list[Problem]:
    """References are plain ASCII (letters, digits, ``- _ . / :``): a look-alike character
    (a Cyrillic O, a Unicode dash) would make a second record that reads the same."""
    problems = check_text(value, path, max_len=REFERENCE_MAX, required=True)
    if not problems and not _REFERENCE.fullmatch(value):
        problems.append(
            Problem(path, f"{quote(value)} may use only the letters A-Z, digits and - _ . / :")
        )
    return problems


def _check_dates(obj: object, path: str, names: Iterable[str]) -> list[Problem]:
    problems: list[Problem] = []
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, dt.date):
            try:
                check_range(value, name)
            except InvalidInput as exc:
                problems.append(Problem(_join(path, name), exc.message))
    return problems


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# The dates on which something happened: a fact is never dated after today (an order's end,
# a flag's expiry and a condition's end are in the future by nature, and are not here).
FACT_DATES: dict[type, tuple[str, ...]] = {
    Subject: ("date_of_birth",),
    NameEntry: ("since",),
    AddressEntry: ("since",),
    RiskEntry: ("since",),
    Allocation: ("since",),
    Order: ("made", "served"),
    Variation: ("date",),
    Renewal: ("date",),
    DischargeApplication: ("date",),
    ChecklistEntry: ("date",),
    Visit: ("date",),
    Breach: ("date", "outcome_on"),
    Notification: ("date",),
    FlagReview: ("date",),
    Transfer: ("date", "statement_of_service_sent", "smp_sent", "risk_information_sent"),
    ManagementPlan: ("date",),
    Review: ("date",),
}


def check_not_future(obj: object, today: dt.date, path: str = "") -> list[Problem]:
    """Each date of ``obj`` saying when something happened, if after ``today``."""
    problems = []
    for name in FACT_DATES.get(type(obj), ()):
        value = getattr(obj, name)
        if isinstance(value, dt.date) and value > today:
            problems.append(
                Problem(
                    _join(path, name),
                    f"{value} is in the future (today is {today})"
                    + (
                        ""
                        if isinstance(obj, Subject)  # a date of birth
                        else ": record what has happened"
                        + (" (plan a visit with spo visit plan)" if isinstance(obj, Visit) else "")
                    ),
                )
            )
    return problems


def check_officer(officer: Officer, known_emails: set[str]) -> list[Problem]:
    problems = check_email(officer.email, "email")
    problems += check_text(officer.name, "name", max_len=NAME_MAX, required=True)
    problems += check_text(officer.team, "team", max_len=NAME_MAX)
    if officer.supervisor is not None:
        if officer.supervisor == officer.email:
            problems.append(Problem("supervisor", "an officer cannot supervise themselves"))
        elif officer.supervisor not in known_emails:
            problems.append(Problem("supervisor", f"officer {officer.supervisor} not found"))
    return problems


def check_subject_details(subject: Subject, officers: set[str]) -> list[Problem]:
    """Checks on the subject's own fields and histories (not orders or events)."""
    problems = check_reference(subject.reference, "reference")
    if not subject.names:
        problems.append(Problem("names", "at least one name is required"))
    for i, entry in enumerate(subject.names):
        problems += check_text(entry.name, f"names[{i}].name", max_len=NAME_MAX, required=True)
        problems += _check_dates(entry, f"names[{i}]", ["since"])
    for i, addr in enumerate(subject.addresses):
        problems += check_text(addr.address, f"addresses[{i}].address", required=True)
        problems += _check_dates(addr, f"addresses[{i}]", ["since"])
    for i, alloc in enumerate(subject.allocations):
        if alloc.officer not in officers:
            problems.append(
                Problem(f"allocations[{i}].officer", f"officer {alloc.officer} not found")
            )
        problems += _check_dates(alloc, f"allocations[{i}]", ["since"])
    for i, risk in enumerate(subject.risk_levels):
        problems += _check_dates(risk, f"risk_levels[{i}]", ["since"])
    problems += _check_dates(subject, "", ["date_of_birth", "rso_exempt_until"])
    problems += check_text(subject.pnc_ref, "pnc_ref", max_len=REFERENCE_MAX)
    problems += check_text(subject.niche_ref, "niche_ref", max_len=REFERENCE_MAX)
    if subject.rso_exempt_until is not None and not subject.registered_sex_offender:
        problems.append(
            Problem("rso_exempt_until", "only a registered sex offender has an exemption end date")
        )
    return problems


# The day the Stalking Protection Act 2019 came into force: no order under it before.
ACT_IN_FORCE = dt.date(2020, 1, 20)


def check_order(subject: Subject, order: Order) -> list[Problem]:
    """An order's own invariants, and its place among the subject's other orders."""
    problems = check_reference(order.reference, "reference")
    problems += check_text(order.court, "court", max_len=NAME_MAX)
    problems += _check_dates(order, "", ["made", "served", "expires"])
    if order.made < ACT_IN_FORCE:
        problems.append(
            Problem(
                "made",
                f"{order.made} is before the Stalking Protection Act 2019 came into force "
                f"({ACT_IN_FORCE}): no order under it was made then",
            )
        )
    if order.served is not None and order.served < order.made:
        problems.append(
            Problem("served", f"{order.served} is before the order was made ({order.made})")
        )
    problems += check_order_end(order, order.expires, order.until_further_order, "expires")
    if order.replaces is not None:
        problems += _check_replaces(subject, order)
    for i, cond in enumerate(order.conditions):
        problems += [p.under(f"conditions[{i}]") for p in check_condition(order, cond)]
    for i, var in enumerate(order.variations):
        problems += [p.under(f"variations[{i}]") for p in check_variation(order, var)]
    for i, ren in enumerate(order.renewals):
        problems += [p.under(f"renewals[{i}]") for p in check_renewal(order, ren)]
    problems += check_renewal_terms(order)
    for i, dis in enumerate(order.discharge_applications):
        problems += [p.under(f"discharge_applications[{i}]") for p in check_discharge(order, dis)]
    granted = [d for d in order.discharge_applications if d.outcome is DischargeOutcome.GRANTED]
    if (order.status is OrderStatus.DISCHARGED) != bool(granted):
        problems.append(
            Problem("status", "is 'discharged' exactly when a discharge application was granted")
        )
    return problems


def check_order_end(
    order: Order, expires: dt.date | None, until_further_order: bool, field_name: str
) -> list[Problem]:
    """Exactly one of a fixed end or "until further order"; a full order runs at least 2 years."""
    if until_further_order and expires is not None:
        return [Problem(field_name, "give a fixed expiry or 'until further order', not both")]
    if not until_further_order and expires is None:
        return [Problem(field_name, "is required unless the order runs until further order")]
    if expires is None:
        return []
    if expires <= order.made:
        return [Problem(field_name, _not_after_made(expires, order.made))]
    if order.type is OrderType.FULL:
        earliest = last_day_of_period(order.made, 2)
        if expires < earliest:
            return [
                Problem(
                    field_name,
                    f"a full order runs for at least 2 years beginning with the day it was made "
                    f"({order.made}): the earliest expiry is {earliest}, not {expires}",
                )
            ]
    return []


def _not_after_made(day: dt.date, made: dt.date) -> str:
    if day == made:
        return f"{day} is the day the order was made: it must end after that day"
    return f"{day} is before the order was made ({made})"


def _check_replaces(subject: Subject, order: Order) -> list[Problem]:
    replaced = subject.order(order.replaces or "")
    if order.replaces == order.reference:
        return [Problem("replaces", "an order cannot replace itself")]
    if replaced is None:
        return [Problem("replaces", f"order {order.replaces} of {subject.reference} not found")]
    if order.type is not OrderType.FULL or replaced.type is not OrderType.INTERIM:
        return [Problem("replaces", "only a full order can replace an interim order")]
    if replaced.made > order.made:
        return [
            Problem(
                "replaces",
                f"interim order {replaced.reference} was made after this order ({replaced.made})",
            )
        ]
    others = [
        o.reference
        for o in subject.orders
        if o.replaces == replaced.reference and o.reference != order.reference
    ]
    if others:
        return [
            Problem("replaces", f"interim order {replaced.reference} is replaced by {others[0]}")
        ]
    return []


def check_condition(order: Order, cond: Condition) -> list[Problem]:
    problems = check_text(cond.text, "text", multiline=True, required=True)
    problems += _check_dates(cond, "", ["ends"])
    if cond.ends is not None and cond.ends <= order.made:
        problems.append(Problem("ends", _not_after_made(cond.ends, order.made)))
    elif (
        cond.ends is not None
        and order.expires is not None
        and not order.until_further_order
        and cond.ends > order.expires
    ):
        problems.append(
            Problem(
                "ends",
                f"{cond.ends} is after order {order.reference} ends ({order.expires}): "
                "a condition ends with its order at the latest",
            )
        )
    return problems


def check_variation(order: Order, var: Variation) -> list[Problem]:
    problems = _check_dates(var, "", ["date", "expires"])
    problems += check_text(var.notes, "notes", multiline=True)
    if var.date < order.made:
        problems.append(Problem("date", f"{var.date} is before the order was made ({order.made})"))
    return problems + check_order_end(order, var.expires, var.until_further_order, "expires")


def check_renewal(order: Order, renewal: Renewal) -> list[Problem]:
    problems = _check_dates(renewal, "", ["date"])
    problems += check_text(renewal.reason, "reason", multiline=True)
    if renewal.date < order.made:
        problems.append(
            Problem("date", f"{renewal.date} is before the order was made ({order.made})")
        )
    if order.type is not OrderType.FULL:
        problems.append(Problem("decision", "renewal applies to full orders only"))
    if renewal.decision is RenewalDecision.DECLINED and not (renewal.reason or "").strip():
        problems.append(Problem("reason", "a decision not to renew must give its reason"))
    return problems


def check_renewal_terms(order: Order) -> list[Problem]:
    """One renewal decision per term of an order (a term runs from the making or the
    variation that set its end): a submission and a decision not to renew contradict each
    other, and a second of either repeats the first."""
    starts = sorted({order.made, *(v.date for v in order.variations)})
    seen: dict[dt.date, Renewal] = {}
    problems = []
    for i, renewal in sorted(enumerate(order.renewals), key=lambda e: (e[1].date, e[0])):
        term = max((s for s in starts if s <= renewal.date), default=order.made)
        first = seen.get(term)
        if first is None:
            seen[term] = renewal
            continue
        what = "submitted" if first.decision is RenewalDecision.SUBMITTED else "declined"
        named = f" ({first.id})" if first.id else ""
        problems.append(
            Problem(
                f"renewals[{i}].decision",
                f"the renewal of {order.reference} was already {what} on {first.date}{named} "
                "for this term: void or correct that decision first",
            )
        )
    return problems


def check_discharge(order: Order, app: DischargeApplication) -> list[Problem]:
    problems = _check_dates(app, "", ["date"])
    if app.date < order.made:
        problems.append(Problem("date", f"{app.date} is before the order was made ({order.made})"))
    if order.expires is not None and not order.until_further_order and app.date > order.expires:
        problems.append(
            Problem("date", f"order {order.reference} had already ended ({order.expires})")
        )
    protected_until = anniversary(order.made, 2)
    if (
        app.outcome is DischargeOutcome.GRANTED
        and app.date < protected_until
        and not (app.subject_consents and app.police_consents)
    ):
        problems.append(
            Problem(
                "date",
                f"an order made on {order.made} cannot be discharged before {protected_until} "
                "without the consent of both the subject and the chief officer of police",
            )
        )
    return problems


def check_visit(visit: Visit, officers: set[str]) -> list[Problem]:
    problems = _check_dates(visit, "", ["date"])
    problems += check_text(visit.outcome, "outcome", multiline=True)
    if visit.officer is not None and visit.officer not in officers:
        problems.append(Problem("officer", f"officer {visit.officer} not found"))
    return problems


def check_breach(breach: Breach) -> list[Problem]:
    problems = _check_dates(breach, "", ["date"])
    problems += check_text(breach.crime_ref, "crime_ref", max_len=REFERENCE_MAX)
    return problems + check_text(breach.outcome, "outcome", multiline=True)


def check_notification(note: Notification) -> list[Problem]:
    problems = _check_dates(note, "", ["date"])
    for i, name in enumerate(note.names):
        problems += check_text(name, f"names[{i}]", max_len=NAME_MAX, required=True)
    problems += check_text(note.address, "address")
    return problems + check_text(note.ack_ref, "ack_ref", max_len=REFERENCE_MAX)


def check_flag(flag: Flag) -> list[Problem]:
    """A flag's reviews, in date order: an extension must move the expiry later; a removed
    flag takes no further reviews."""
    problems = check_reference(flag.reference, "reference")
    problems += _check_dates(flag, "", ["expires"])
    expiry = flag.expires
    removed: dt.date | None = None
    previous: dt.date | None = None
    for i, review in enumerate(flag.reviews):
        path = f"reviews[{i}]"
        problems += [p.under(path) for p in _check_dates(review, "", ["date", "until"])]
        if previous is not None and review.date < previous:
            problems.append(
                Problem(f"{path}.date", f"{review.date} is before the review of {previous}")
            )
        previous = review.date
        if removed is not None:
            problems.append(Problem(f"{path}.date", f"the flag was removed on {removed}"))
        if review.outcome is FlagOutcome.EXTENDED:
            if review.until is None:
                problems.append(Problem(f"{path}.until", "an extension needs its new expiry"))
            elif review.until <= expiry:
                problems.append(
                    Problem(
                        f"{path}.until",
                        f"{review.until} is not after the current expiry ({expiry})",
                    )
                )
            else:
                expiry = review.until
        else:
            if review.until is not None:
                problems.append(Problem(f"{path}.until", "a removed flag has no new expiry"))
            removed = review.date
    return problems


def check_transfer(transfer: Transfer) -> list[Problem]:
    problems = _check_dates(transfer, "", ["date", *MOVE_OUT_DOCUMENTS.values()])
    problems += check_text(transfer.force, "force", max_len=NAME_MAX, required=True)
    sent = [name for name in MOVE_OUT_DOCUMENTS.values() if getattr(transfer, name)]
    if transfer.direction is Direction.IN and (transfer.documents_sent or sent):
        field_name = sent[0] if sent else "documents_sent"
        problems.append(Problem(field_name, "applies to transfers out only"))
    for item, name in MOVE_OUT_DOCUMENTS.items():
        day = getattr(transfer, name)
        if day is not None and day < transfer.date:
            problems.append(
                Problem(name, f"{item} sent on {day}, before the move out ({transfer.date})")
            )
    return problems


def check_moves(transfers: list[Transfer]) -> list[Problem]:
    """A move out after a move out, with no move back in between, contradicts the first; so
    does a move in after a move in with no move out between (the subject was already here:
    taken as a second arrival it would hand every order made in between to another force)."""
    problems = []
    last: tuple[int, Transfer] | None = None
    for i, transfer in sorted(enumerate(transfers), key=lambda e: (e[1].date, e[0])):
        if last is not None and transfer.direction is last[1].direction:
            named = f" ({last[1].id})" if last[1].id else ""
            already, back = (
                ("moved out", "moved back in")
                if transfer.direction is Direction.OUT
                else ("moved in", "moved out since")
            )
            problems.append(
                Problem(
                    f"transfers[{i}].direction",
                    f"the subject already {already} on {last[1].date}{named} and has not "
                    f"{back}: correct that move instead",
                )
            )
        last = (i, transfer)
    return problems


def check_checklist(order: Order, entry: ChecklistEntry) -> list[Problem]:
    problems = check_text(entry.item, "item", max_len=REFERENCE_MAX, required=True)
    problems += _check_dates(entry, "", ["date"])
    problems += check_text(entry.ref, "ref", max_len=REFERENCE_MAX)
    if entry.date < order.made:
        problems.append(
            Problem("date", f"{entry.date} is before the order was made ({order.made})")
        )
    return problems


def check_review(review: Review, officers: set[str]) -> list[Problem]:
    problems = _check_dates(review, "", ["date"])
    problems += check_text(review.notes, "notes", multiline=True)
    if review.by not in officers:
        problems.append(Problem("by", f"officer {review.by} not found"))
    return problems


def check_plan(plan: ManagementPlan) -> list[Problem]:
    problems = _check_dates(plan, "", ["date"]) + check_text(plan.notes, "notes", multiline=True)
    if plan.visit_every_days is not None and not 1 <= plan.visit_every_days <= 366:
        problems.append(Problem("visit_every_days", "must be between 1 and 366 days"))
    return problems


def check_override(override: ActionOverride) -> list[Problem]:
    problems = check_reference(override.action, "action")
    problems += _check_dates(override, "", ["date"])
    problems += check_text(override.reason, "reason", multiline=True)
    problems += check_text(override.actor, "actor", max_len=NAME_MAX)
    if override.kind is not OverrideKind.DONE and not (override.reason or "").strip():
        problems.append(Problem("reason", "an override or waiver must give its reason"))
    return problems


def check_record_ids(subject: Subject) -> list[Problem]:
    """Each fact's record id names it: its subject, order or flag, its kind, and a number no
    other fact of the subject has."""
    problems = []
    seen: set[str] = set()
    for parent, kind, item in facts_with_ids(subject):
        if item.id is None:
            continue
        split = split_record_id(item.id)
        if split is None or split[:2] != (parent, kind):
            problems.append(
                Problem(
                    "id",
                    f"{item.id!r} does not name this {kind} of {parent} (its ids are like "
                    f"{record_id(parent, kind, 1)}; leave it out and one is given)",
                )
            )
        elif item.id in seen:
            problems.append(Problem("id", f"{item.id} is repeated"))
        seen.add(item.id)
    for revision in subject.revisions:
        if split_record_id(revision.record) is None:
            problems.append(Problem("revisions", f"{revision.record!r} is not a record id"))
    return problems


def check_subject(
    subject: Subject, officers: set[str], today: dt.date | None = None
) -> list[Problem]:
    """Every invariant of one subject's whole record (used by import, and to check a
    correction); with ``today``, no fact dated after it."""
    problems = check_subject_details(subject, officers)
    problems += check_moves(subject.transfers)
    problems += check_record_ids(subject)
    seen: set[str] = set()
    for i, order in enumerate(subject.orders):
        if order.reference in seen:
            problems.append(Problem(f"orders[{i}].reference", f"{order.reference} is repeated"))
        seen.add(order.reference)
        problems += [p.under(f"orders[{i}]") for p in check_order(subject, order)]
    checks: list[tuple[str, list[Problem]]] = []
    checks += [(f"visits[{i}]", check_visit(v, officers)) for i, v in enumerate(subject.visits)]
    checks += [(f"breaches[{i}]", check_breach(b)) for i, b in enumerate(subject.breaches)]
    checks += [
        (f"notifications[{i}]", check_notification(n)) for i, n in enumerate(subject.notifications)
    ]
    flag_refs: set[str] = set()
    for i, flag in enumerate(subject.flags):
        if flag.reference in flag_refs:
            problems.append(Problem(f"flags[{i}].reference", f"{flag.reference} is repeated"))
        flag_refs.add(flag.reference)
        checks.append((f"flags[{i}]", check_flag(flag)))
    checks += [(f"transfers[{i}]", check_transfer(t)) for i, t in enumerate(subject.transfers)]
    checks += [
        (f"management_plans[{i}]", check_plan(p)) for i, p in enumerate(subject.management_plans)
    ]
    checks += [(f"reviews[{i}]", check_review(r, officers)) for i, r in enumerate(subject.reviews)]
    checks += [
        (f"action_overrides[{i}]", check_override(o))
        for i, o in enumerate(subject.action_overrides)
    ]
    for i, order in enumerate(subject.orders):
        checks += [
            (f"orders[{i}].checklist[{j}]", check_checklist(order, e))
            for j, e in enumerate(order.checklist)
        ]
    if today is not None:
        checks += list(_future_facts(subject, today))
    for prefix, found in checks:
        problems += [p.under(prefix) for p in found]
    return problems


def _future_facts(subject: Subject, today: dt.date) -> Iterable[tuple[str, list[Problem]]]:
    yield "", check_not_future(subject, today)
    for attr in SUBJECT_FACTS:
        for i, item in enumerate(getattr(subject, attr)):
            yield f"{attr}[{i}]", check_not_future(item, today)
    for i, order in enumerate(subject.orders):
        yield f"orders[{i}]", check_not_future(order, today)
        for attr in ORDER_FACTS:
            for j, item in enumerate(getattr(order, attr)):
                yield f"orders[{i}].{attr}[{j}]", check_not_future(item, today)
    for i, flag in enumerate(subject.flags):
        for j, review in enumerate(flag.reviews):
            yield f"flags[{i}].reviews[{j}]", check_not_future(review, today)
