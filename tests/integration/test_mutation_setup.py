"""The mutation-testing setup stays usable: the files mutmut is told to mutate and the tests
it runs exist, every equivalent mutant is listed with its reason, and scripts/test never runs
it (TESTING.md)."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.mutation.report import Equivalent, load_equivalents, matches

REPO = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]


def test_every_file_mutmut_mutates_exists_and_is_in_the_core() -> None:
    for pattern in CONFIG["only_mutate"]:
        found = glob.glob(str(REPO / pattern))
        assert found, pattern
        assert pattern.startswith("spo_tracker/core/"), pattern


def test_the_tests_mutmut_runs_exist() -> None:
    for arg in CONFIG["pytest_add_cli_args_test_selection"]:
        path = arg.removeprefix("--ignore=")
        assert (REPO / path).exists(), arg


def test_the_tests_mutmut_runs_are_collected_in_a_copy_like_mutmuts(tmp_path: Path) -> None:
    """mutmut runs the tests in mutants/: the sources, the tests, pyproject.toml and
    ``also_copy``, nothing else. A test that reads another file of the checkout (the README)
    fails to collect there, and the whole run with it."""
    for name in [*CONFIG["source_paths"], "tests", "pyproject.toml", *CONFIG["also_copy"]]:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *CONFIG["pytest_add_cli_args_test_selection"]],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    assert " tests collected" in collected.stdout or "tests collected" in collected.stdout


def test_mutation_testing_is_on_demand_only() -> None:
    assert "mutmut" not in (REPO / "scripts" / "test").read_text()
    assert "mutmut run" in (REPO / "scripts" / "mutate").read_text()
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("mutmut>=") for dep in extras["optional-dependencies"]["test"])


def test_each_equivalent_mutant_names_a_mutated_module_and_gives_its_reason() -> None:
    modules = {
        p.removesuffix(".py").replace("/", ".").removesuffix(".*") for p in CONFIG["only_mutate"]
    }
    for entry in load_equivalents():
        module = entry.mutant.split(".x")[0]
        assert any(module == m or module.startswith(f"{m}.") for m in modules), entry.mutant
        assert entry.was.strip() != entry.now.strip(), entry.mutant
        assert len(entry.why.split()) >= 5, entry.mutant


def test_an_equivalent_entry_matches_only_the_mutant_it_describes() -> None:
    entry = Equivalent("m", "x = a >= 0", "x = a > 0", "because")
    assert matches(entry, ["-    x = a >= 0", "+    x = a > 0"])
    assert not matches(entry, ["-    x = a >= 0", "+    x = a >= 1"])
    assert not matches(entry, ["-    y = a >= 0", "+    x = a > 0"])
