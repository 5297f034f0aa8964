"""Every program the suite runs is installed by scripts/test or documented as on the machine.

tests/support/programs.py is the list. This holds it against the code (each program named in
a ``shutil.which``, a subprocess argument list or a path out of a ``bin`` folder), against
``scripts/_tools`` (what scripts/test installs) and against the README's "Two commands"
section (what a fresh machine must have). The conftest also records what the run really
started and fails the run on anything unlisted.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import STARTED
from tests.support.programs import PROGRAMS, Program, program_name, unlisted

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("spo_tracker", "tests", "benchmarks")
SPAWNERS = {"run", "Popen", "check_output", "check_call", "call", "execvp", "execv"}


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def programs_named_in(tree: ast.AST, source: str) -> set[str]:
    """Program names a module asks for: ``shutil.which("x")``, ``subprocess.run(["x", ...])``
    and ``bindir / "x"`` (a path built from a folder whose name says bin)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if node.func.attr == "which" and (name := _literal(first)):
                found.add(name)
            elif (
                node.func.attr in SPAWNERS
                and isinstance(first, ast.List)
                and first.elts
                and (name := _literal(first.elts[0]))
            ):
                found.add(program_name(name))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = ast.get_source_segment(source, node.left) or ""
            if "bin" in left.lower() and (name := _literal(node.right)):
                found.add(name)
    return found


def programs_in_code() -> dict[str, set[str]]:
    """Program -> the files that name it."""
    found: dict[str, set[str]] = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            for name in programs_named_in(ast.parse(source), source):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def suite_programs() -> dict[str, str]:
    """``SUITE_PROGRAMS=(wrk=wrk task=taskwarrior)`` in scripts/_tools, as program -> package."""
    text = (ROOT / "scripts" / "_tools").read_text(encoding="utf-8")
    match = re.search(r"^SUITE_PROGRAMS=\(([^)]*)\)", text, re.MULTILINE)
    assert match, "scripts/_tools lost its SUITE_PROGRAMS list"
    return dict(pair.split("=", 1) for pair in match.group(1).split())


def two_commands_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Two commands\n(.*?)^## ", readme, re.MULTILINE | re.DOTALL)
    assert match, "the README lost its Two commands section"
    return match.group(1)


def test_every_program_the_code_runs_is_listed() -> None:
    unlisted = {name: files for name, files in programs_in_code().items() if name not in PROGRAMS}
    assert unlisted == {}, "list these in tests/support/programs.py (and install or document)"


def test_every_listed_program_is_still_run_somewhere() -> None:
    named = set(programs_in_code())
    stale = {n for n, p in PROGRAMS.items() if p.provided_by != "project" and n not in named}
    assert stale == set()


def test_scripts_test_installs_exactly_the_programs_it_is_said_to() -> None:
    expected = {n: p.package for n, p in PROGRAMS.items() if p.provided_by == "scripts/test"}
    assert expected, "nothing is installed by scripts/test? then drop scripts/_tools"
    assert suite_programs() == expected
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert ". scripts/_tools" in script
    assert 'need_programs "${SUITE_PROGRAMS[@]}"' in script


def test_the_readme_names_what_the_machine_needs_and_what_the_scripts_install() -> None:
    section = two_commands_section()
    for name, program in PROGRAMS.items():
        if program.provided_by == "project":
            continue
        assert f"`{name}`" in section, f"the README's Two commands section does not name {name}"
        if program.provided_by == "scripts/test":
            assert f"`{program.package}`" in section, program.package


def test_the_scan_finds_programs_in_each_form_it_knows() -> None:
    source = (
        "import shutil, subprocess\n"
        "shutil.which('alpha')\n"
        "subprocess.run(['/usr/bin/beta', '-x'])\n"
        "subprocess.Popen(['python3.11', '-c', 'pass'])\n"
        "bindir / 'gamma'\n"
        "other / 'not-a-program'\n"
        "subprocess.run(args)\n"
    )
    assert programs_named_in(ast.parse(source), source) == {"alpha", "beta", "python", "gamma"}


def test_program_names_ignore_folders_and_python_versions() -> None:
    assert program_name("/usr/lib/postgresql/15/bin/pg_ctl") == "pg_ctl"
    assert program_name(b"/root/.venv/bin/python3.11") == "python"
    assert program_name("wrk") == "wrk"
    assert isinstance(PROGRAMS["wrk"], Program)


def test_the_run_records_what_it_starts_and_flags_what_is_not_listed() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert "python" in STARTED
    assert unlisted({"python", "wrk", "made-up-tool"}) == ["made-up-tool"]
