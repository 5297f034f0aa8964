"""Every setting the settings model takes is in the README's configuration reference, with
the environment variable that overrides it; the table names no setting that does not exist."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from spo_tracker.config import ENV, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
# Read outside the settings model (the password, and the file the model is read from).
OUTSIDE_THE_MODEL = {"SPO_SMTP_PASSWORD", "SPO_CONFIG"}


def reference_rows() -> list[str]:
    section = README.split("### Configuration reference", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert len(rows) > 1, "the README lost its configuration reference table"
    return rows[1:]  # below the heading


def test_every_setting_is_in_the_readme_table_with_its_environment_variable() -> None:
    rows = reference_rows()
    missing = []
    for setting in fields(Settings):
        row = next((r for r in rows if f"`{setting.name}`" in r), None)
        if row is None:
            missing.append(setting.name)
        elif setting.name in ENV and f"`{ENV[setting.name]}`" not in row:
            missing.append(f"{setting.name} ({ENV[setting.name]})")
    assert missing == [], f"the README's configuration reference lacks {missing}"


def test_the_readme_table_names_only_settings_that_exist() -> None:
    names = {f.name for f in fields(Settings)}
    known_env = set(ENV.values()) | OUTSIDE_THE_MODEL
    for row in reference_rows():
        first_cell = row.split("|")[1]
        for key in re.findall(r"`([a-z_]+)`", first_cell):
            assert key in names, f"the README documents a setting {key!r} that does not exist"
        for env in re.findall(r"`(SPO_[A-Z_]+)`", row):
            assert env in known_env, f"the README documents {env}, which spo does not read"
