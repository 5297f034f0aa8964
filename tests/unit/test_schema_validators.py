"""The import's schema gate: the compiled validator (jsonschema-rs) passes a document exactly
when jsonschema (which writes the error messages) finds no error. If they ever disagreed, a
document jsonschema rejects could be let through unchecked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from spo_tracker.adapters.exchange import _fast_validator, load_schema, schema_errors

DEMO = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "demo" / "caseload.json").read_text("utf-8")
)
ODD_VALUES = [None, 0, -1, 1.5, True, "", "x", "2026-02-30", "not a date", [], {}, {"x": 1}]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            found += paths(value, (*prefix, i))
    return found


PATHS = paths(DEMO)[1:]


def agree(doc: Any) -> bool:
    slow = not list(Draft202012Validator(load_schema()).iter_errors(doc))
    assert _fast_validator().is_valid(doc) is slow, json.dumps(doc)[:300]
    return slow


def test_both_pass_the_demo_caseload() -> None:
    assert agree(DEMO)
    assert schema_errors(DEMO) == []


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(PATHS),
    how=st.sampled_from(["replace", "delete", "add-field"]),
    value=st.sampled_from(ODD_VALUES),
)
def test_both_give_the_same_verdict_on_a_damaged_document(
    where: tuple[Any, ...], how: str, value: Any
) -> None:
    doc = copy.deepcopy(DEMO)
    parent = doc
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unexpected_field"] = value
    else:
        parent[last] = value
    if not agree(doc):
        assert schema_errors(doc)  # an invalid document gets jsonschema's messages
