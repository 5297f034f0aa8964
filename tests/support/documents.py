"""Export documents as tests reshape them."""

from __future__ import annotations

import json
from typing import Any


def without_ids(value: Any) -> Any:
    """A document's facts without their record ids (which name the references): for a copy
    under new references; spo numbers facts that have none."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def renamed_copy(doc: dict[str, Any], suffix: str) -> list[dict[str, Any]]:
    """The document's subjects under new references (each subject, order and flag reference
    with ``suffix`` added), their facts renumbered on import."""
    subjects = []
    for subject in without_ids(doc)["subjects"]:
        refs = [subject["reference"]]
        refs += [o["reference"] for o in subject["orders"]]
        refs += [f["reference"] for f in subject["flags"]]
        text = json.dumps(subject)
        for ref in refs:
            text = text.replace(f'"{ref}"', f'"{ref}{suffix}"')
        copy = json.loads(text)
        copy["action_overrides"] = []  # they name the originals' actions
        copy["revisions"] = []
        subjects.append(copy)
    return subjects
