"""A deterministic, realistic, entirely fictional caseload for benchmarks.

    python -m benchmarks.generate --subjects 10000 --seed 1 --json national.json
    python -m benchmarks.generate --subjects 300 --seed 1 --db force.db

The document is built from the dataclasses in ``spo_tracker.domain`` and written with
``spo_tracker.exchange.document``/``dumps``, so it always has the import format. Every record
keeps the domain invariants (``check_*`` in ``spo_tracker.domain``); ``--check`` proves it
in-process with the importer's own validation before anything is written.

The caseload is laid out around a reference day (``--as-of``, default 2026-11-23, the day the
benchmarks ask ``spo due`` about): teams of six offender managers and a supervisor per ~60
subjects, plus the Stalking Coordination Unit; orders of both types at every stage (new,
interim, interim replaced by full, varied, until further order, renewal due, discharged with
consents, expired, moved in, moved out), monthly-ish visits, supervisor reviews, notify-if flags
(most extended yearly), breaches, changes of address and risk, re-allocations, management plans
(some setting a visit cadence) and the occasional missed deadline, so some actions are overdue.
Nothing depends on the clock or on hash ordering: the same ``--subjects``/``--seed`` give a
byte-identical file.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dateutil.relativedelta import relativedelta

from spo_tracker.adapters.exchange import document, dumps
from spo_tracker.core import record as d
from spo_tracker.core.dates import anniversary, last_day_of_period
from spo_tracker.core.rules import action_id

AS_OF = dt.date(2026, 11, 23)
# The Stalking Protection Act 2019 came into force on 20 January 2020.
REGIME_START = dt.date(2020, 1, 20)
SUBJECTS_PER_TEAM = 60
MANAGERS_PER_TEAM = 6
DOMAIN = "force.example"
SCU_EMAIL = f"scu@{DOMAIN}"
SIZES = {"force": 300, "national": 10_000, "stress": 100_000}

# ------------------------------------------------------------------------------ word lists
# Invented, deliberately generic names and places: no real person or address.

FIRST_NAMES = (
    "Alex",
    "Amara",
    "Ben",
    "Bethan",
    "Callum",
    "Chloe",
    "Dan",
    "Deepa",
    "Ellis",
    "Erin",
    "Farid",
    "Fiona",
    "Gareth",
    "Grace",
    "Hamza",
    "Hannah",
    "Isaac",
    "Imogen",
    "Jake",
    "Jasmine",
    "Kieran",
    "Keira",
    "Liam",
    "Leah",
    "Marcus",
    "Maya",
    "Nathan",
    "Nadia",
    "Owen",
    "Olivia",
    "Priya",
    "Patrick",
    "Quinn",
    "Rosa",
    "Ryan",
    "Sana",
    "Sean",
    "Tara",
    "Tom",
    "Una",
    "Victor",
    "Vicky",
    "Wes",
    "Willow",
    "Yusuf",
    "Yasmin",
    "Zach",
    "Zara",
)
SURNAMES = (
    "Abbott",
    "Akhtar",
    "Barker",
    "Bennett",
    "Carver",
    "Chaudry",
    "Dalton",
    "Dixon",
    "Ellwood",
    "Evans",
    "Fairley",
    "Finch",
    "Garside",
    "Gill",
    "Hardcastle",
    "Hussain",
    "Ingham",
    "Iqbal",
    "Jagger",
    "Jowett",
    "Kaur",
    "Kershaw",
    "Lister",
    "Lumb",
    "Marsden",
    "Mirza",
    "Naylor",
    "Nolan",
    "Oakes",
    "Outram",
    "Pickles",
    "Qureshi",
    "Rhodes",
    "Riaz",
    "Sutcliffe",
    "Shah",
    "Thornton",
    "Tordoff",
    "Ullah",
    "Varley",
    "Wadsworth",
    "Whiteley",
    "Yates",
    "Yeadon",
)
STREETS = (
    "Example Street",
    "Placeholder Road",
    "Sample Lane",
    "Mockup Avenue",
    "Dummy Drive",
    "Fiction Close",
    "Specimen Walk",
    "Notional Terrace",
    "Imaginary Way",
    "Template Grove",
    "Pattern Crescent",
    "Stand-in Row",
)
AREAS = (
    "North",
    "South",
    "East",
    "West",
    "Central",
    "Valley",
    "Moor",
    "Riverside",
    "Dales",
    "Coast",
)
OTHER_FORCES = (
    "Northshire Police",
    "Southshire Constabulary",
    "Eastmoor Police",
    "Westdale Constabulary",
    "Lakeland Police",
    "Fenland Constabulary",
    "Hillcountry Police",
    "Harbour City Police",
)
PROHIBITIONS = (
    "Not to contact the protected person directly or indirectly, including online.",
    "Not to enter the exclusion zone shown on the map attached to the order.",
    "Not to attend the protected person's place of work.",
    "Not to post about the protected person on any social media platform.",
    "Not to loiter within 200 metres of the protected person's home address.",
    "Not to use any device to track the location of the protected person.",
)
REQUIREMENTS = (
    "To attend a stalking perpetrator assessment when directed.",
    "To complete a behavioural change programme.",
    "To surrender devices for inspection when required by a police officer.",
    "To notify police of any new social media account within 3 days.",
)
VISIT_OUTCOMES = (
    "No concerns.",
    "Subject engaged; order discussed.",
    "Subject not at home; card left, revisited later.",
    "Compliance confirmed; devices checked.",
    "Subject hostile but compliant.",
    "New partner disclosed; risk reviewed.",
)
REVIEW_NOTES = (
    "SMP reviewed; no changes.",
    "SMP reviewed; visit frequency confirmed.",
    "Risk discussed with OM; plan current.",
    "SMP refreshed after new intelligence.",
)
DECLINE_REASONS = (
    "No further stalking behaviour recorded during the order; risk assessed as reduced.",
    "Protected person has moved abroad; no ongoing contact risk.",
    "Subject serving a long custodial sentence with a restraining order.",
)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the month's end (as the engine does); a
    cheap stand-in for ``relativedelta`` in the generator's hot loops."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


# ------------------------------------------------------------------------------ officers


@dataclass(frozen=True)
class Team:
    name: str
    supervisor: str
    managers: tuple[str, ...]


def _unique_email(first: str, last: str, taken: set[str]) -> str:
    base = f"{first}.{last}".lower().replace("'", "")
    email, n = f"{base}@{DOMAIN}", 1
    while email in taken:
        n += 1
        email = f"{base}{n}@{DOMAIN}"
    taken.add(email)
    return email


def build_officers(n_subjects: int, rng: random.Random) -> tuple[list[d.Officer], list[Team]]:
    """Teams of six offender managers and a supervisor per ~60 subjects, plus the SCU."""
    n_teams = max(1, math.ceil(n_subjects / SUBJECTS_PER_TEAM))
    taken: set[str] = {SCU_EMAIL}
    officers = [d.Officer(SCU_EMAIL, "Stalking Coordination Unit", d.Role.SCU, team="SCU")]
    teams: list[Team] = []
    for k in range(n_teams):
        area = AREAS[k % len(AREAS)]
        name = f"DAOMU {area}" + (f" {k // len(AREAS) + 1}" if k >= len(AREAS) else "")
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        supervisor = _unique_email(first, last, taken)
        officers.append(d.Officer(supervisor, f"DS {first} {last}", d.Role.SUPERVISOR, team=name))
        managers = []
        for _ in range(MANAGERS_PER_TEAM):
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            email = _unique_email(first, last, taken)
            officers.append(
                d.Officer(
                    email,
                    f"{first} {last}",
                    d.Role.OFFENDER_MANAGER,
                    team=name,
                    supervisor=supervisor,
                )
            )
            managers.append(email)
        teams.append(Team(name, supervisor, tuple(managers)))
    return officers, teams


# ------------------------------------------------------------------------------ subjects

# Where each subject's story is on the reference day, with its share of the caseload.
SCENARIOS: dict[str, int] = {
    "new-full": 4,
    "new-interim": 5,
    "interim-replaced": 14,
    "full-active": 24,
    "varied": 8,
    "until-further-order": 8,
    "renewal-due": 7,
    "discharged": 6,
    "expired": 10,
    "interim-lapsed": 2,
    "moved-in": 7,
    "moved-out": 5,
}
# Routine visit and supervisor-review intervals by risk (days, months), before jitter.
VISIT_EVERY = {d.Risk.HIGH: 28, d.Risk.MEDIUM: 42, d.Risk.LOW: 70}
REVIEW_MONTHS = {d.Risk.HIGH: 1, d.Risk.MEDIUM: 3, d.Risk.LOW: 6}


@dataclass
class _Story:
    """The frame of one subject's history, before events are filled in."""

    orders: list[d.Order]
    start: dt.date  # management in this area began (the grant, or the move in)
    stop: dt.date  # the last day managed here (at most the reference day)
    granted_here: d.Order | None = None  # the first order, if granted while in the area
    transfers: list[d.Transfer] = field(default_factory=list)


class _SubjectBuilder:
    def __init__(self, index: int, rng: random.Random, team: Team, as_of: dt.date) -> None:
        self.rng = rng
        self.team = team
        self.as_of = as_of
        self.ref = f"S-{index + 1:06d}"
        self.order_seq = 0
        self.flag_seq = 0

    # -- small helpers

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        if end <= start:
            return start
        return start + dt.timedelta(days=self.rng.randint(0, (end - start).days))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def next_order_ref(self) -> str:
        self.order_seq += 1
        return f"O-{self.ref[2:]}-{self.order_seq}"

    def next_flag_ref(self) -> str:
        self.flag_seq += 1
        return f"F-{self.ref[2:]}-{self.flag_seq}"

    def court(self, area: str | None = None) -> str:
        place = area or self.rng.choice(AREAS)
        return f"{place}town Magistrates' Court"

    def conditions(self, made: dt.date, expires: dt.date | None) -> list[d.Condition]:
        rng = self.rng
        chosen = [PROHIBITIONS[0], *rng.sample(PROHIBITIONS[1:], rng.randint(0, 2))]
        result = [d.Condition(d.ConditionKind.PROHIBITION, text) for text in chosen]
        if self.chance(0.5):
            result.append(d.Condition(d.ConditionKind.REQUIREMENT, rng.choice(REQUIREMENTS)))
        if self.chance(0.15):
            latest = expires or made + dt.timedelta(days=3 * 365)
            ends = self.day_between(made + dt.timedelta(days=180), latest)
            if ends > made:
                result[-1].ends = ends
        return result

    def full_order(
        self,
        made: dt.date,
        *,
        years: int | None,
        replaces: str | None = None,
        court: str | None = None,
    ) -> d.Order:
        """A full order: fixed for ``years`` (at least 2) beginning with ``made``, or until
        further order when ``years`` is None."""
        expires = last_day_of_period(made, years) if years is not None else None
        return d.Order(
            reference=self.next_order_ref(),
            type=d.OrderType.FULL,
            made=made,
            served=min(self.as_of, made + dt.timedelta(days=self.rng.choice((0, 0, 0, 1, 2, 5)))),
            expires=expires,
            until_further_order=years is None,
            court=court or self.court(),
            replaces=replaces,
            conditions=self.conditions(made, expires),
        )

    def interim_order(self, made: dt.date, *, weeks: int) -> d.Order:
        expires = made + dt.timedelta(weeks=weeks)
        return d.Order(
            reference=self.next_order_ref(),
            type=d.OrderType.INTERIM,
            made=made,
            served=min(self.as_of, made + dt.timedelta(days=self.rng.choice((0, 0, 1, 2)))),
            expires=expires,
            court=self.court(),
            conditions=self.conditions(made, expires),
        )

    def full_years(self) -> int:
        return self.rng.choice((2, 2, 2, 2, 3, 3, 5))

    def made_for_active(self, years: int, min_days_left: int = 120) -> dt.date:
        """A made date so that a ``years`` order is still in force well after the reference."""
        earliest = max(REGIME_START, self.as_of - relativedelta(years=years, days=-min_days_left))
        return self.day_between(earliest, self.as_of - dt.timedelta(days=30))

    # -- scenarios: orders, the managed period, transfers

    def story(self, scenario: str) -> _Story:
        rng, as_of = self.rng, self.as_of
        days = dt.timedelta
        if scenario == "new-full":
            made = as_of - days(rng.randint(0, 20))
            order = self.full_order(made, years=self.full_years())
            return _Story([order], made, as_of, order)
        if scenario == "new-interim":
            made = as_of - days(rng.randint(0, 50))
            order = self.interim_order(made, weeks=rng.randint(8, 16))
            return _Story([order], made, as_of, order)
        if scenario == "interim-replaced":
            made = self.day_between(REGIME_START, as_of - days(60))
            interim = self.interim_order(made, weeks=rng.randint(4, 16))
            assert interim.expires is not None
            full_made = self.day_between(made + days(14), min(interim.expires, as_of))
            years = None if self.chance(0.2) else self.full_years()
            full = self.full_order(full_made, years=years, replaces=interim.reference)
            interim.status = d.OrderStatus.REPLACED
            stop = min(as_of, full.expires or as_of)
            return _Story([interim, full], made, stop, interim)
        if scenario == "full-active":
            years = self.full_years()
            made = self.made_for_active(years)
            order = self.full_order(made, years=years)
            return _Story([order], made, as_of, order)
        if scenario == "varied":
            made = self.made_for_active(2, min_days_left=30)
            order = self.full_order(made, years=2)
            self.vary(order)
            return _Story([order], made, as_of, order)
        if scenario == "until-further-order":
            made = self.day_between(REGIME_START, as_of - days(30))
            order = self.full_order(made, years=None)
            return _Story([order], made, as_of, order)
        if scenario == "renewal-due":
            expires = as_of + days(rng.randint(-10, 150))
            made = expires - relativedelta(years=2) + days(1)
            order = self.full_order(made, years=2)
            assert order.expires is not None
            self.renewal(order, submitted_p=0.6)
            return _Story([order], made, min(as_of, order.expires), order)
        if scenario == "discharged":
            return self.discharged()
        if scenario == "expired":
            years = rng.choice((2, 2, 3))
            made = self.day_between(REGIME_START, as_of - relativedelta(years=years, days=1))
            order = self.full_order(made, years=years)
            assert order.expires is not None
            self.renewal(order, submitted_p=0.0, declined_p=0.75)
            return _Story([order], made, order.expires, order)
        if scenario == "interim-lapsed":
            made = self.day_between(REGIME_START, as_of - days(150))
            order = self.interim_order(made, weeks=rng.randint(4, 12))
            assert order.expires is not None
            return _Story([order], made, order.expires, order)
        if scenario == "moved-in":
            arrival = self.day_between(REGIME_START + days(200), as_of - days(1))
            made = arrival - days(rng.randint(30, 500))
            years = None if self.chance(0.3) else 5
            other = rng.choice(OTHER_FORCES)
            order = self.full_order(
                max(made, REGIME_START), years=years, court=f"{other.split()[0]} Magistrates' Court"
            )
            move = d.Transfer(d.Direction.IN, arrival, other)
            stop = min(as_of, order.expires or as_of)
            return _Story([order], arrival, stop, None, [move])
        if scenario == "moved-out":
            years = self.full_years()
            made = self.made_for_active(years)
            order = self.full_order(made, years=years)
            left = self.day_between(made + days(60), as_of)
            if left > as_of:
                left = as_of
            move = d.Transfer(
                d.Direction.OUT, left, rng.choice(OTHER_FORCES), documents_sent=self.chance(0.8)
            )
            return _Story([order], made, min(left, as_of), order, [move])
        raise ValueError(f"unknown scenario {scenario!r}")

    def vary(self, order: d.Order) -> None:
        """Extend the order or make it run until further order; sometimes vary it twice."""
        assert order.expires is not None
        start = order.made + dt.timedelta(days=90)
        when = self.day_between(start, min(order.expires, self.as_of))
        for _ in range(2 if self.chance(0.2) else 1):
            if when > self.as_of:
                break
            ufo = self.chance(0.35)
            new_expires = None if ufo else last_day_of_period(order.made, self.rng.choice((3, 4)))
            if not ufo and order.expires is not None and new_expires == order.expires:
                new_expires = last_day_of_period(order.made, 5)
            order.variations.append(
                d.Variation(
                    date=when,
                    expires=new_expires,
                    until_further_order=ufo,
                    previous_expires=order.expires,
                    previous_until_further_order=order.until_further_order,
                    notes="Varied on application by the chief officer of police.",
                )
            )
            order.expires, order.until_further_order = new_expires, ufo
            if ufo:
                break
            when = when + dt.timedelta(days=self.rng.randint(60, 300))

    def renewal(self, order: d.Order, *, submitted_p: float, declined_p: float = 0.1) -> None:
        """A renewal submission (or a recorded decision not to renew) around expiry - 3 months,
        if that day has come."""
        assert order.expires is not None
        due = order.expires - relativedelta(months=3)
        when = max(order.made, due + dt.timedelta(days=self.rng.randint(-30, 14)))
        if when > self.as_of:
            return
        roll = self.rng.random()
        if roll < submitted_p:
            order.renewals.append(d.Renewal(when, d.RenewalDecision.SUBMITTED))
        elif roll < submitted_p + declined_p:
            reason = self.rng.choice(DECLINE_REASONS)
            order.renewals.append(d.Renewal(when, d.RenewalDecision.DECLINED, reason))

    def discharged(self) -> _Story:
        rng, days = self.rng, dt.timedelta
        years = self.full_years()
        made = self.day_between(REGIME_START, self.as_of - days(200))
        order = self.full_order(made, years=years)
        assert order.expires is not None
        on = self.day_between(made + days(120), min(order.expires, self.as_of) - days(1))
        early = on < anniversary(made, 2)
        if self.chance(0.3) and on - days(90) > made:
            # an earlier application the court refused
            order.discharge_applications.append(
                d.DischargeApplication(
                    on - days(rng.randint(30, 90)), True, False, d.DischargeOutcome.REFUSED
                )
            )
        order.discharge_applications.append(
            d.DischargeApplication(on, True, early or self.chance(0.5), d.DischargeOutcome.GRANTED)
        )
        order.status = d.OrderStatus.DISCHARGED
        return _Story([order], made, on - days(1), order)

    # -- the whole subject

    def build(self, scenario: str) -> d.Subject:
        rng, days = self.rng, dt.timedelta
        story = self.story(scenario)
        start, stop = story.start, story.stop
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        name = f"{first} {last}"
        rso = self.chance(0.03)
        address = (
            f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {rng.choice(AREAS)}town "
            f"XX{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ') * 2}"
        )
        subject = d.Subject(
            reference=self.ref,
            names=[d.NameEntry(name)],
            date_of_birth=dt.date(rng.randint(1955, 2005), rng.randint(1, 12), rng.randint(1, 28)),
            domestic_abuse=self.chance(0.7),
            registered_sex_offender=rso,
            rso_exempt_until=(start + relativedelta(years=5)) if rso and self.chance(0.3) else None,
            pnc_ref=f"{start.year % 100:02d}/{rng.randint(0, 9_999_999):07d}"
            f"{rng.choice('ABCDEFGHJKLMNPQRTUVWXYZ')}",
            niche_ref=f"NICHE-{self.ref[2:]}",
            addresses=[d.AddressEntry(address)],
            orders=story.orders,
            transfers=story.transfers,
        )
        for order in story.orders:  # a condition ends with its order at the latest
            for cond in order.conditions:
                if cond.ends and order.expires and not order.until_further_order:
                    cond.ends = min(cond.ends, order.expires)
        if self.chance(0.2):
            alias = f"{rng.choice(FIRST_NAMES)} {last}"
            subject.names.append(d.NameEntry(alias, d.NameKind.ALIAS))
        risk = rng.choices((d.Risk.HIGH, d.Risk.MEDIUM, d.Risk.LOW), (3, 5, 2))[0]
        subject.risk_levels.append(d.RiskEntry(risk, start))
        if stop - start > days(180) and self.chance(0.25):
            regraded = self.day_between(start + days(60), stop)
            new_risk = rng.choice([r for r in d.Risk if r is not risk])
            subject.risk_levels.append(d.RiskEntry(new_risk, regraded))
        managers = self.team.managers
        officer = rng.choice(managers)
        allocated = start if story.granted_here else start + days(rng.randint(1, 10))
        if allocated <= self.as_of and not (scenario == "moved-in" and self.chance(0.05)):
            subject.allocations.append(d.Allocation(officer, allocated))
        if subject.allocations and stop - start > days(240) and self.chance(0.15):
            others = [m for m in managers if m != officer]
            moved_to = self.day_between(start + days(120), stop)
            if others:
                subject.allocations.append(d.Allocation(rng.choice(others), moved_to))
        self.notifications(subject, story)
        self.visits(subject, start, stop)
        self.plans(subject, start, stop)
        self.reviews(subject, start, stop)
        self.flags(subject, start, stop)
        self.breaches(subject, start, stop)
        self.address_change(subject, start, stop)
        self.overrides(subject, story)
        return subject

    def officer_on(self, subject: d.Subject, day: dt.date) -> str | None:
        current = None
        for alloc in subject.allocations:
            if alloc.since is None or alloc.since <= day:
                current = alloc.officer
        return current or (subject.allocations[0].officer if subject.allocations else None)

    def notifications(self, subject: d.Subject, story: _Story) -> None:
        served = next((o.served for o in story.orders if o.served), None)
        if served is None or self.chance(0.07):
            return  # a missed notification: the check goes overdue
        on = max(served, story.start) + dt.timedelta(days=self.rng.choice((0, 0, 1, 1, 2, 4)))
        if on <= self.as_of:
            subject.notifications.append(
                d.Notification(
                    on,
                    [n.name for n in subject.names],
                    subject.addresses[0].address,
                    f"ACK-{self.ref[2:]}-1",
                )
            )

    def visits(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        rng = self.rng
        first = start + dt.timedelta(days=rng.choice((1, 2, 3, 4, 5, 6, 7, 7, 9, 12)))
        if first > stop or (stop - start < dt.timedelta(days=10) and self.chance(0.4)):
            return  # a new case not visited yet
        risk = subject.risk_levels[0].level
        every = VISIT_EVERY[risk]
        day, kind = first, d.VisitKind.INITIAL
        while day <= stop:
            if not self.chance(0.04):  # the odd visit that never happened
                subject.visits.append(
                    d.Visit(day, kind, self.officer_on(subject, day), rng.choice(VISIT_OUTCOMES))
                )
            kind = d.VisitKind.UNANNOUNCED if self.chance(0.1) else d.VisitKind.ROUTINE
            day += dt.timedelta(days=every + rng.randint(-7, 10))

    def plans(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        rng = self.rng
        on = start + dt.timedelta(days=rng.choice((2, 3, 4, 5, 6, 7, 7, 10, 14)))
        if on > stop or self.chance(0.05):
            return
        cadence = rng.choice((28, 42, 56, 84)) if self.chance(0.3) else None
        subject.management_plans.append(
            d.ManagementPlan(on, "SMP written from the order's conditions.", cadence)
        )
        if stop - on > dt.timedelta(days=400) and self.chance(0.3):
            again = self.day_between(on + dt.timedelta(days=300), stop)
            subject.management_plans.append(
                d.ManagementPlan(again, "SMP re-issued after annual review.", cadence)
            )

    def reviews(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        rng = self.rng
        risk = subject.risk_levels[0].level
        months = REVIEW_MONTHS[risk]
        day = add_months(start, months) - dt.timedelta(days=rng.randint(0, 10))
        lapsed = self.chance(0.08)  # a supervisor who stopped reviewing: overdue reviews
        while day <= stop:
            if lapsed and day > stop - dt.timedelta(days=120):
                break
            subject.reviews.append(d.Review(day, self.team.supervisor, rng.choice(REVIEW_NOTES)))
            day = add_months(day, months) + dt.timedelta(days=rng.randint(-8, 6))

    def flags(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        """A notify-if flag for a year, reviewed near each expiry: extended while the order is
        in force, removed after."""
        rng, days = self.rng, dt.timedelta
        if self.chance(0.1):
            return
        applied = min(self.as_of, start + days(rng.randint(0, 3)))
        flag = d.Flag(self.next_flag_ref(), add_months(applied, 12))
        expiry = flag.expires
        while True:
            when = expiry - days(rng.randint(0, 30))
            if when > self.as_of or self.chance(0.05):
                break  # not due yet, or missed: flag-review overdue
            if when > stop:
                flag.reviews.append(d.FlagReview(when, d.FlagOutcome.REMOVED))
                break
            expiry = add_months(expiry, 12)
            flag.reviews.append(d.FlagReview(when, d.FlagOutcome.EXTENDED, expiry))
        subject.flags.append(flag)

    def breaches(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        rng, days = self.rng, dt.timedelta
        if stop - start < days(30) or not self.chance(0.2):
            return
        for n in range(rng.choice((1, 1, 1, 2, 2, 3))):
            on = self.day_between(start + days(14), stop)
            offence = d.Offence.FAILURE_TO_NOTIFY if self.chance(0.15) else d.Offence.BREACH
            recent = self.as_of - on < days(10)
            subject.breaches.append(
                d.Breach(
                    on,
                    offence,
                    crime_ref=f"13/{rng.randint(10000, 99999)}/{on.year % 100:02d}",
                    arrested=self.chance(0.8),
                    outcome=None
                    if recent and self.chance(0.6)
                    else rng.choice(("Charged; remanded.", "Charged; bailed.", "Cautioned.")),
                )
            )
            if n == 0 and self.chance(0.7):
                # the supervisor reviews the pack after a breach
                review = on + days(rng.randint(1, 10))
                if review <= self.as_of:
                    subject.reviews.append(
                        d.Review(review, self.team.supervisor, "Reviewed after breach.")
                    )
        subject.breaches.sort(key=lambda b: b.date)
        subject.reviews.sort(key=lambda r: r.date)

    def address_change(self, subject: d.Subject, start: dt.date, stop: dt.date) -> None:
        rng, days = self.rng, dt.timedelta
        if stop - start < days(90) or not self.chance(0.15):
            return
        moved = self.day_between(start + days(30), stop)
        new_address = (
            f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {rng.choice(AREAS)}town "
            f"XX{rng.randint(1, 9)} {rng.randint(1, 9)}AA"
        )
        subject.addresses.append(d.AddressEntry(new_address, moved))
        if self.chance(0.9):
            told = moved + days(rng.choice((0, 1, 2, 2, 5)))
            if told <= self.as_of:
                subject.notifications.append(
                    d.Notification(
                        told, [subject.current_name()], new_address, f"ACK-{self.ref[2:]}-2"
                    )
                )
                subject.notifications.sort(key=lambda n: n.date)
            plan = told + days(rng.randint(0, 5))
            if plan <= self.as_of:
                subject.management_plans.append(
                    d.ManagementPlan(plan, "SMP re-issued for the new address.")
                )
                subject.management_plans.sort(key=lambda p: p.date)

    def overrides(self, subject: d.Subject, story: _Story) -> None:
        """Actions with no fact of their own: the grant checklist and closing expired orders,
        marked done by the officer (most of the time)."""
        rng, days = self.rng, dt.timedelta
        root = story.granted_here
        actor = subject.allocations[0].officer if subject.allocations else SCU_EMAIL
        if root is not None and self.chance(0.9):
            on = root.made + days(rng.choice((0, 0, 1, 1, 2, 4)))
            if on <= self.as_of:
                subject.action_overrides.append(
                    d.ActionOverride(
                        action_id(self.ref, "grant-checklist", root.reference, root.reference),
                        d.OverrideKind.DONE,
                        on,
                        "Victim and DA OM team told; Niche occurrence created; PNC updated; "
                        "flag applied",
                        actor,
                    )
                )
        for order in story.orders:
            if (
                order.expires is not None
                and order.status is d.OrderStatus.ACTIVE
                and order.expires < self.as_of
                and self.chance(0.85)
            ):
                subject.action_overrides.append(
                    d.ActionOverride(
                        action_id(self.ref, "order-expiry", order.reference, order.reference),
                        d.OverrideKind.DONE,
                        min(self.as_of, order.expires + days(rng.randint(0, 3))),
                        "Order ended; PNC and Niche updated.",
                        actor,
                    )
                )


def build_caseload(
    n_subjects: int, seed: int, as_of: dt.date = AS_OF
) -> tuple[list[d.Officer], list[d.Subject]]:
    """The officers and subjects of a fictional caseload; the same arguments give the same
    caseload."""
    rng = random.Random(seed)
    officers, teams = build_officers(n_subjects, rng)
    names, weights = list(SCENARIOS), list(SCENARIOS.values())
    subjects = []
    for i in range(n_subjects):
        team = teams[i * len(teams) // n_subjects]
        scenario = rng.choices(names, weights)[0]
        subjects.append(_SubjectBuilder(i, rng, team, as_of).build(scenario))
    return officers, subjects


def check_caseload(officers: Sequence[d.Officer], subjects: Sequence[d.Subject]) -> list[str]:
    """Every error the importer would report (schema, domain checks, unique references)."""
    from spo_tracker.adapters.exchange import parse_document, to_json
    from spo_tracker.core.errors import ImportRejected

    doc = {
        "format": "spo-tracker",
        "schema_version": 1,
        "officers": [to_json(o) for o in officers],
        "subjects": [to_json(s) for s in subjects],
    }
    try:
        parse_document(doc, known_officers=set(), taken=lambda _kind, _ref: False)
    except ImportRejected as exc:
        return [f"{path}: {message}" for path, message in exc.errors]
    return []


def write_json(path: Path, officers: Sequence[d.Officer], subjects: Sequence[d.Subject]) -> int:
    """Write the import document; returns its size in bytes."""
    text = dumps(document(officers, subjects))
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def import_into(db: str, path: Path) -> None:
    """``spo --db DB init`` then ``spo --db DB import FILE``, in this process."""
    from spo_tracker.entry.cli import run

    for args in (["--db", db, "init"], ["--db", db, "import", str(path)]):
        status = run(args)
        if status != 0:
            raise SystemExit(f"spo {' '.join(args)} failed with exit status {status}")


def parse_size(value: str) -> int:
    """A subject count, or one of the named sizes (force, national, stress)."""
    if value in SIZES:
        return SIZES[value]
    count = int(value.replace("_", "").replace(",", ""))
    if count < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Build a deterministic fictional caseload as an spo-tracker import file.",
    )
    parser.add_argument(
        "--subjects", type=parse_size, required=True, help="N, or force|national|stress"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=AS_OF,
        help=f"the reference day the caseload is laid out around (default {AS_OF})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the document here")
    parser.add_argument(
        "--db", metavar="PATH|URL", help="create/upgrade this database and import into it"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate with the importer's checks first"
    )
    args = parser.parse_args(argv)
    if args.json is None and args.db is None:
        parser.error("give --json FILE, --db PATH|URL, or both")

    started = time.perf_counter()
    officers, subjects = build_caseload(args.subjects, args.seed, args.as_of)
    built = time.perf_counter()
    if args.check:
        errors = check_caseload(officers, subjects)
        if errors:
            sys.stderr.write("\n".join(errors[:50]) + f"\n{len(errors)} error(s)\n")
            return 1
    with tempfile.TemporaryDirectory(prefix="spo-bench-") as tmp:
        path = args.json or Path(tmp) / "caseload.json"
        size = write_json(path, officers, subjects)
        written = time.perf_counter()
        sys.stderr.write(
            f"{len(officers)} officers, {len(subjects)} subjects: built in "
            f"{built - started:.2f} s, written in {written - built:.2f} s "
            f"({size / 1e6:.1f} MB{f' to {args.json}' if args.json else ''})\n"
        )
        if args.db is not None:
            os.environ.setdefault("SPO_USER", SCU_EMAIL)
            import_into(args.db, path)
            sys.stderr.write(f"imported in {time.perf_counter() - written:.2f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
