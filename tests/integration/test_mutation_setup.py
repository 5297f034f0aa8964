"""The mutation-testing setup stays usable: the files mutmut is told to mutate and the tests
it runs exist, every equivalent mutant is listed with its reason, and scripts/test never runs
it (TESTING.md)."""

from __future__ import annotations

import glob
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
