"""The mutation score of the last ``mutmut run`` (scripts/mutate), with the equivalent mutants
of ``equivalents.toml`` set aside, each checked to still be the mutant it describes.

    python tests/mutation/report.py            the score, survivors with their diffs, equivalents
    python tests/mutation/report.py --names S  only the names of the mutants whose status is S

Score = (killed + timeout) / (every mutant - the equivalent ones), as mutmut counts a score;
"no tests", "suspicious" and "survived" all count against it. Exit 1 below ``TARGET``, when a
mutant was not checked, or when an entry of equivalents.toml no longer matches its mutant
(renumbered after a change to the core: find it again with ``mutmut results`` and fix the
entry).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EQUIVALENTS = HERE / "equivalents.toml"
TARGET = 90.0
KILLED = {"killed", "timeout"}


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    was: str  # the original line, as mutmut's diff shows it (stripped)
    now: str  # the mutated line
    why: str


def load_equivalents(path: Path = EQUIVALENTS) -> list[Equivalent]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = [Equivalent(**entry) for entry in data.get("equivalent", [])]
    names = [e.mutant for e in entries]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SystemExit(f"error: {path.name} lists {', '.join(repeated)} more than once")
    for entry in entries:
        if not entry.why.strip():
            raise SystemExit(f"error: {path.name}: {entry.mutant} gives no reason")
    return entries


def mutmut(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def statuses() -> dict[str, str]:
    """Every mutant of the last run and its status, from ``mutmut results --all true``."""
    result: dict[str, str] = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            result[name] = status
    return result


def diff(name: str) -> list[str]:
    """The changed lines of one mutant (``-`` then ``+``), from ``mutmut show``."""
    lines = mutmut("show", name).splitlines()
    return [line for line in lines if line[:1] in "-+" and not line.startswith(("---", "+++"))]


def matches(entry: Equivalent, changed: list[str]) -> bool:
    removed = [line[1:].strip() for line in changed if line.startswith("-")]
    added = [line[1:].strip() for line in changed if line.startswith("+")]
    return entry.was.strip() in removed and entry.now.strip() in added


def say(text: str = "", *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def main(argv: list[str]) -> int:
    status = statuses()
    if not status:
        say("no mutation results: run scripts/mutate first", err=True)
        return 1
    if argv[:1] == ["--names"]:
        wanted = set(argv[1:])
        say("\n".join(name for name, s in sorted(status.items()) if s in wanted))
        return 0
    equivalents = load_equivalents()
    with ThreadPoolExecutor(max_workers=2) as pool:
        equivalent_diffs = dict(
            zip(
                [e.mutant for e in equivalents],
                pool.map(lambda e: diff(e.mutant) if e.mutant in status else [], equivalents),
                strict=True,
            )
        )
    problems: list[str] = []
    for entry in equivalents:
        if entry.mutant not in status:
            problems.append(f"{entry.mutant}: listed as equivalent but no such mutant")
        elif not matches(entry, equivalent_diffs[entry.mutant]):
            problems.append(
                f"{entry.mutant}: listed as equivalent but it is now another mutant "
                f"({' / '.join(equivalent_diffs[entry.mutant])})"
            )
        elif status[entry.mutant] in KILLED:
            problems.append(f"{entry.mutant}: listed as equivalent but the tests kill it")
    equivalent = {e.mutant for e in equivalents if e.mutant in status}
    counted = {n: s for n, s in status.items() if n not in equivalent}
    counts = Counter(counted.values())
    killed = sum(counts[s] for s in KILLED)
    score = 100.0 * killed / len(counted) if counted else 0.0
    unchecked = counts["not checked"]
    alive = sorted(n for n, s in counted.items() if s not in KILLED)
    with ThreadPoolExecutor(max_workers=2) as pool:
        alive_diffs = list(pool.map(diff, alive))

    today = dt.datetime.now(dt.UTC).date()
    say(f"Mutation score {today}: {killed} / {len(counted)} non-equivalent mutants killed")
    say(f"({score:.1f}%; target {TARGET:.0f}%), {len(equivalent)} equivalent mutants set aside")
    say("  " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
    by_file = Counter(n.split(".x")[0] for n in counted)
    alive_by_file = Counter(n.split(".x")[0] for n in alive)
    for module in sorted(by_file):
        say(f"  {module}: {by_file[module] - alive_by_file[module]} / {by_file[module]} killed")
    if alive:
        say(f"\nSurviving mutants ({len(alive)}):")
        for name, changed in zip(alive, alive_diffs, strict=True):
            say(f"  {name} [{counted[name]}]")
            for line in changed:
                say(f"      {line}")
    say(f"\nEquivalent mutants ({len(equivalents)}, {EQUIVALENTS.relative_to(REPO)}):")
    for entry in equivalents:
        say(f"  {entry.mutant}: {entry.why}")
    for problem in problems:
        say(f"error: {problem}", err=True)
    if unchecked:
        say(f"error: {unchecked} mutants not checked: the run did not finish", err=True)
    if score < TARGET:
        say(f"error: score {score:.1f}% is below {TARGET:.0f}%", err=True)
    return 1 if problems or unchecked or score < TARGET else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
