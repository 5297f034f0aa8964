"""Every rule's reminder, escalation and calendar entry names the command that records it, and
that command, run as printed (its capitals filled in), completes the action.

One caseload holds an open action of every rule; for each rule, on a fresh copy of it, the
command is read back from the rendered email (text and HTML) and from the calendar event,
then run, and the action must be done.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
from pathlib import Path

import icalendar
import pytest

from spo_tracker.core.policy import RULE_IDS, parse_policy
from tests.conftest import Result, invoke

OM = "om1@force.example"
POLICY = parse_policy(
    (Path(__file__).resolve().parents[2] / "data" / "policy" / "west-yorkshire.toml").read_text()
)
DONE_ON = "2026-11-20"  # a day on or after every trigger below, and not after today
AS_OF = "2026-11-25"

CASELOAD: list[tuple[str, ...]] = [
    ("officer", "add", "ds1@force.example", "--name", "D S", "--role", "supervisor",
     "--team", "North"),
    ("officer", "add", OM, "--name", "O M", "--role", "offender-manager", "--team", "North",
     "--supervisor", "ds1@force.example"),
    ("officer", "add", "om2@force.example", "--name", "O T", "--role", "offender-manager",
     "--team", "North", "--supervisor", "ds1@force.example"),
    # a grant: initial visit, checklist, plan, notification, renewal, review, flag, condition
    ("subject", "add", "S-G", "--name", "Gary Grant", "--risk", "high", "--officer", OM,
     "--since", "2026-03-01"),
    ("order", "add", "S-G", "O-G", "--type", "full", "--made", "2026-03-03", "--served",
     "2026-03-04", "--expires", "2028-03-02"),
    ("condition", "add", "O-G", "--kind", "prohibition", "--text", "no contact", "--ends",
     "2027-02-01"),
    ("flag", "add", "S-G", "F-G", "--expires", "2027-03-31"),
    # a move in with an order made elsewhere: allocation, visit, plan
    ("subject", "add", "S-I", "--name", "Ivy In", "--officer", OM, "--since", "2026-01-01"),
    ("order", "add", "S-I", "O-I", "--type", "full", "--made", "2026-01-10", "--expires",
     "2028-01-09"),
    ("transfer", "in", "S-I", "--date", "2026-10-01", "--from-force", "Lancashire"),
    # a move out
    ("subject", "add", "S-O", "--name", "Otto Out", "--officer", OM, "--since", "2026-01-01"),
    ("order", "add", "S-O", "O-O", "--type", "full", "--made", "2026-02-01", "--expires",
     "2028-01-31"),
    ("transfer", "out", "S-O", "--date", "2026-10-01", "--to-force", "Humberside"),
    # an interim order that ended unreplaced (order expiry), one still running (interim expiry)
    ("subject", "add", "S-T", "--name", "Tim Term", "--officer", OM, "--since", "2026-01-01"),
    ("order", "add", "S-T", "O-T", "--type", "interim", "--made", "2026-03-01", "--expires",
     "2026-06-01"),
    ("subject", "add", "S-U", "--name", "Una Until", "--officer", OM, "--since", "2026-01-01"),
    ("order", "add", "S-U", "O-U", "--type", "interim", "--made", "2026-11-01", "--expires",
     "2027-01-31"),
    # a change of address, a breach, routine visits
    ("subject", "add", "S-C", "--name", "Cara Change", "--officer", OM, "--address", "1 A St",
     "--since", "2026-01-01"),
    ("order", "add", "S-C", "O-C", "--type", "full", "--made", "2026-02-01", "--expires",
     "2028-01-31"),
    ("subject", "update", "S-C", "--date", "2026-09-01", "--address", "2 B Rd"),
    ("breach", "add", "S-C", "--date", "2026-09-10", "--crime-ref", "13/1/26"),
    ("smp", "add", "S-C", "--date", "2026-02-05", "--visit-every-days", "28"),
    ("visit", "add", "S-C", "--date", "2026-10-01"),
]  # fmt: skip

# What the officer types for each capital word of a rule's command.
FILL = {
    "DATE": DONE_ON,
    "REF": "ACK-1",
    "EMAIL": "om2@force.example",
    "NEW-ORDER": "O-NEW",
    "END-DATE": "2029-11-19",
}


# A word for the officer to fill: capitals, three or more a part (the test's references are
# shorter: S-G, O-T).
PLACEHOLDER = re.compile(r"[A-Z]{3,}(-[A-Z]{3,})*")


def run(db: Path, *args: str, actor: str = OM) -> Result:
    result = invoke("--db", str(db), "--as", actor, *args)
    assert result.code == 0, f"spo {shlex.join(args)}: {result.err}"
    return result


@pytest.fixture(scope="module")
def caseload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("record") / "caseload.db"
    run(db, "init")
    for args in CASELOAD:
        run(db, *args)
    return db


def open_actions(db: Path) -> dict[str, dict[str, object]]:
    """One open action per rule: the first of each."""
    doc = json.loads(run(db, "due", "--all", "--include-done", "--json", "--as-of", AS_OF).out)
    found: dict[str, dict[str, object]] = {}
    for action in doc["actions"]:
        if action["status"] not in ("done", "cancelled") and action["rule"] not in found:
            found[str(action["rule"])] = action
    return found


def command_in_text(text: str) -> str:
    match = re.search(r"Record it when it is done:\n  (.+)", text)
    assert match, text
    return match.group(1)


def command_in_calendar(data: bytes, action_id: str) -> str:
    for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        if str(event["UID"]).startswith(action_id):
            match = re.search(r"Record it when done: (.+)", str(event["DESCRIPTION"]))
            assert match, event["DESCRIPTION"]
            return match.group(1)
    raise AssertionError(f"no event for {action_id}")


def filled(command: str, rule: str) -> list[list[str]]:
    """The command as an officer would type it: a|b takes a, [..] is left out (but for a
    checklist's reference, which its items need), the capitals filled in (ITEM=DATE too);
    && separates commands run in turn; a checklist's command runs once for each item."""
    items = POLICY.rules[rule].items
    if items:
        command = command.replace("[--ref REFERENCE]", "--ref REF")
    command = re.sub(r"\s*\[[^]]*\]", "", command)
    command = re.sub(r"(\S+)\|\S+", r"\1", command)
    lines = []
    for part in command.split(" && "):
        words = shlex.split(part)
        assert words[0] == "spo", part
        words = [re.sub(r"=DATE$", f"={DONE_ON}", w) for w in words]
        for item in [i.id for i in items] or [None]:
            lines.append(
                [
                    item
                    if w == "ITEM" and item
                    else FILL.get(w, "noted" if PLACEHOLDER.fullmatch(w) else w)
                    for w in words[1:]
                ]
            )
    return lines


def test_the_caseload_has_an_open_action_of_every_rule(caseload: Path) -> None:
    assert set(open_actions(caseload)) == set(RULE_IDS)


@pytest.mark.parametrize("rule", RULE_IDS)
def test_the_command_each_message_names_completes_its_rule(
    caseload: Path, tmp_path: Path, rule: str
) -> None:
    db = tmp_path / "copy.db"
    shutil.copyfile(caseload, db)
    action = open_actions(db)[rule]
    action_id = str(action["id"])
    commands = set()
    for template in ("reminder", "escalation"):
        text = run(db, "mail", "preview", template, "--action", action_id).out
        commands.add(command_in_text(text))
        page = run(db, "mail", "preview", template, "--action", action_id, "--html").out
        assert f"<code>{html.escape(command_in_text(text))}</code>" in page
    calendar = run(db, "calendar", "export", "--subject", str(action["subject"]), "--as-of", AS_OF)
    commands.add(command_in_calendar(calendar.out.encode(), action_id))
    assert len(commands) == 1, commands  # the same command everywhere
    [command] = commands
    assert "{" not in command  # every reference filled in
    owner = "ds1@force.example" if action["owner"] == "supervisor" else OM
    for args in filled(command, rule):
        run(db, *args, actor=owner)
    after = json.loads(run(db, "explain", action_id, "--as-of", DONE_ON, "--json").out)
    assert after["action"]["status"] == "done", (command, after["action"]["explanation"])
