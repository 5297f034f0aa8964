"""What a wheel installs: the policy, schema and migrations must travel with the code."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_policy_schema_migrations_and_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("spo_tracker-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "spo_tracker/_data/policy/west-yorkshire.toml",
        "spo_tracker/adapters/schemas/export-v1.schema.json",
        "spo_tracker/store/migrations/env.py",
        "spo_tracker/store/migrations/script.py.mako",
        "spo_tracker/store/migrations/versions/0001_initial_schema.py",
        "spo_tracker/_templates/README.md",
    ):
        assert expected in names, expected


def test_shipped_policy_is_found_inside_an_installed_package(tmp_path: Path) -> None:
    """bootstrap looks in the package's _data folder before the source checkout."""
    from spo_tracker import bootstrap

    folders = bootstrap.policy_dirs()
    assert folders[0].parts[-3:] == ("spo_tracker", "_data", "policy")
    assert bootstrap.policy_path("west-yorkshire").name == "west-yorkshire.toml"
