"""The import/export format: the whole record as one versioned JSON document.

The JSON Schema (``schemas/export-v1.schema.json``) is generated from the domain dataclasses by
``build_schema`` so the two cannot drift; a test compares the committed file with it.
Regenerate with
``python -m spo_tracker.adapters.exchange > spo_tracker/adapters/schemas/export-v1.schema.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from ..core import record as d
from ..core.errors import ImportRejected, InvalidInput
from ..core.text import json_safe, quote

FORMAT = "spo-tracker"
SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schemas" / "export-v1.schema.json"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Every field is exported, record ids too: a document re-imports into an empty database as
# the same record, corrections and voids included (``revisions``).
_SKIPPED: frozenset[str] = frozenset()
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$"


# ------------------------------------------------------------------------------ export


def to_json(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_json(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in _SKIPPED
        }
    if isinstance(obj, list):
        return [to_json(item) for item in obj]
    if isinstance(obj, StrEnum):
        return str(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


def document(officers: Iterable[d.Officer], subjects: Iterable[d.Subject]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "officers": [to_json(o) for o in officers],
        "subjects": [to_json(s) for s in subjects],
    }


def dumps(doc: dict[str, Any]) -> str:
    """The document as text: ``json.dumps(doc, indent=2, ensure_ascii=False)`` (invisible
    controls escaped), written by
    orjson (the standard library's indented encoder is pure Python: a national export took
    seconds in it)."""
    import orjson

    # json_safe: DEL, C1 and bidi characters written as escapes, harmless on a terminal
    return json_safe(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode("utf-8")) + "\n"


# ------------------------------------------------------------------------------ schema


def _field_schema(hint: Any) -> dict[str, Any]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return {"anyOf": [_field_schema(inner[0]), {"type": "null"}]}
    if typing.get_origin(hint) is list:
        return {"type": "array", "items": _field_schema(args[0])}
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return {"enum": [str(v) for v in hint]}
    if hint is datetime:
        return {"type": "string", "pattern": DATETIME_PATTERN, "format": "date-time"}
    if hint is date:
        return {"type": "string", "pattern": DATE_PATTERN, "format": "date"}
    if typing.get_origin(hint) is dict:
        return {"type": "object"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is str:
        return {"type": "string"}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    raise TypeError(f"no schema for {hint!r}")


def _class_schema(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props, required = {}, []
    for f in dataclasses.fields(cls):
        if f.name in _SKIPPED:
            continue
        props[f.name] = _field_schema(hints[f.name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def _nested(cls: type[Any], seen: dict[str, type[Any]]) -> None:
    seen[cls.__name__] = cls
    for hint in typing.get_type_hints(cls).values():
        for candidate in (hint, *typing.get_args(hint)):
            if (
                isinstance(candidate, type)
                and dataclasses.is_dataclass(candidate)
                and candidate.__name__ not in seen
            ):
                _nested(candidate, seen)


def build_schema() -> dict[str, Any]:
    classes: dict[str, type[Any]] = {}
    _nested(d.Officer, classes)
    _nested(d.Subject, classes)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://spo-tracker.invalid/schemas/export-v1.schema.json",
        "title": "spo-tracker export, schema version 1",
        "description": "The whole SPO record: officers and subjects with every order and event.",
        "type": "object",
        "properties": {
            "format": {"const": FORMAT},
            "schema_version": {"const": SCHEMA_VERSION},
            "officers": {"type": "array", "items": {"$ref": "#/$defs/Officer"}},
            "subjects": {"type": "array", "items": {"$ref": "#/$defs/Subject"}},
        },
        "required": ["format", "schema_version", "officers", "subjects"],
        "additionalProperties": False,
        "$defs": {name: _class_schema(cls) for name, cls in sorted(classes.items())},
    }


@functools.cache
def load_schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result


# ------------------------------------------------------------------------------ import


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {quote(key)}")
        result[key] = value
    return result


def parse_text(text: str) -> Any:
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
        # a "\ud800" escape decodes to a lone surrogate that no database can store
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
        return doc
    except RecursionError:
        raise InvalidInput("not valid JSON: nested too deeply", field="file") from None
    except UnicodeEncodeError:
        raise InvalidInput(
            "contains a \\u escape that is not a valid character (a lone surrogate)",
            field="file",
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field="file"
        ) from None
    except ValueError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="file") from None


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


@functools.cache
def _fast_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(load_schema())


def schema_errors(doc: Any) -> list[tuple[str, str]]:
    """Every way ``doc`` breaks the schema, with its path; empty if it is valid.

    A valid document — the usual case — is recognised by ``jsonschema-rs`` (compiled; a
    national caseload in well under a second, where ``jsonschema`` took minutes). Only an
    invalid one goes on to ``jsonschema``, whose messages the import reports. Both implement
    Draft 2020-12; a test holds them to the same verdict."""
    if _fast_validator().is_valid(doc):
        return []
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [(_path(e.absolute_path), _schema_message(e)) for e in errors]


def _schema_message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown field")
    if error.validator == "anyOf":
        return f"{quote(error.instance)} is not valid here"
    return str(error.message)


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(
    cls: type[Any], data: dict[str, Any], path: str, errors: list[tuple[str, str]]
) -> Any:
    """Build a dataclass from schema-valid data; impossible dates are collected as errors."""
    values = {}
    for name, convert in _fields_of(cast(Any, cls)):
        if name in data:
            value = data[name]
            values[name] = None if value is None else convert(value, f"{path}.{name}", errors)
    return cls(**values)


_Convert = Callable[[Any, str, list[tuple[str, str]]], Any]


@functools.cache
def _fields_of(cls: Any) -> tuple[tuple[str, _Convert], ...]:
    """Each field of ``cls`` with the function that converts its JSON value (worked out once
    per class: an import converts millions of values)."""
    hints = _hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def _converter(hint: Any) -> _Convert:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        inner = _converter(next(a for a in args if a is not type(None)))
        return lambda value, path, errors: None if value is None else inner(value, path, errors)
    if typing.get_origin(hint) is list:
        item = _converter(args[0])
        return lambda value, path, errors: [
            None if v is None else item(v, f"{path}[{i}]", errors) for i, v in enumerate(value)
        ]
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return lambda value, _path, _errors: hint(value)
    if hint is datetime:
        return _datetime
    if hint is date:
        return _date
    if dataclasses.is_dataclass(hint):
        return lambda value, path, errors: from_json(hint, value, path, errors)  # type: ignore[arg-type]
    return lambda value, _path, _errors: value


def _date(value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    from ..core.dates import parse_date

    try:
        return parse_date(value, path)
    except InvalidInput as exc:
        errors.append((path, exc.message))
        return date(2000, 1, 1)  # placeholder; the document is rejected anyway


def _datetime(value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        errors.append((path, f"{value!r} is not a date and time"))
        return datetime(2000, 1, 1, tzinfo=UTC)
    if moment.tzinfo is None:
        errors.append((path, f"{value!r} has no UTC offset"))
    return moment


def voided_fact(revision: d.Revision) -> Any:
    """The fact a void withdrew, rebuilt from the revision's before-image."""
    split = d.split_record_id(revision.record)
    assert split is not None
    errors: list[tuple[str, str]] = []
    return from_json(
        d.FACT_CLASSES[split[1]], {**revision.before, "id": revision.record}, "revision", errors
    )


def parse_document(
    doc: Any,
    *,
    known_officers: set[str],
    taken: Callable[[str, str], str | None],
    today: date | None = None,
) -> tuple[list[d.Officer], list[d.Subject]]:
    """Validate a whole document; raise ``ImportRejected`` listing every error with its path.

    ``taken(kind, ref)`` gives the stored subject/order/flag reference that is ``ref`` or looks
    like it (see ``domain.reference_skeleton``), if any. With ``today``, a fact dated after it
    is an error.
    """
    errors = schema_errors(doc)
    if errors:
        raise ImportRejected(errors)
    officers = [
        from_json(d.Officer, o, f"officers[{i}]", errors) for i, o in enumerate(doc["officers"])
    ]
    subjects = [
        from_json(d.Subject, s, f"subjects[{i}]", errors) for i, s in enumerate(doc["subjects"])
    ]
    _lower_emails(officers, subjects)
    emails = set(known_officers)
    for i, officer in enumerate(officers):
        path = f"officers[{i}]"
        if officer.email in emails:
            errors.append((f"{path}.email", f"officer {officer.email} already exists"))
        emails.add(officer.email)
    for i, officer in enumerate(officers):
        for problem in d.check_officer(officer, emails):
            errors.append((f"officers[{i}].{problem.path}", problem.message))
    seen: dict[str, dict[str, str]] = {"subject": {}, "order": {}, "flag": {}}

    def claim(kind: str, ref: str, path: str) -> None:
        skeleton = d.reference_skeleton(ref)
        clash = seen[kind].get(skeleton) or taken(kind, ref)
        if clash == ref:
            errors.append((path, f"{kind} {ref} already exists"))
        elif clash is not None:
            errors.append((path, f"{kind} {ref} looks like {kind} {clash}"))
        seen[kind].setdefault(skeleton, ref)

    for i, subject in enumerate(subjects):
        path = f"subjects[{i}]"
        claim("subject", subject.reference, f"{path}.reference")
        for j, order in enumerate(subject.orders):
            claim("order", order.reference, f"{path}.orders[{j}].reference")
        for j, flag in enumerate(subject.flags):
            claim("flag", flag.reference, f"{path}.flags[{j}].reference")
        for problem in d.check_subject(subject, emails, today):
            errors.append((problem.under(path).path, problem.message))
    if errors:
        raise ImportRejected(_unique(errors))
    return officers, subjects


def _lower_emails(officers: list[d.Officer], subjects: list[d.Subject]) -> None:
    """Emails are case-insensitive; the store keeps them lower-case, as the CLI does."""
    for officer in officers:
        officer.email = officer.email.lower()
        officer.supervisor = officer.supervisor.lower() if officer.supervisor else None
    for subject in subjects:
        for alloc in subject.allocations:
            alloc.officer = alloc.officer.lower()
        for visit in subject.visits:
            visit.officer = visit.officer.lower() if visit.officer else None
        for review in subject.reviews:
            review.by = review.by.lower()


def _unique(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(errors))


def supervisors_first(officers: list[d.Officer]) -> list[d.Officer]:
    """Order officers so each supervisor is stored before the officers they supervise."""
    placed: set[str] = set()
    pending = list(officers)
    ordered: list[d.Officer] = []
    while pending:
        waiting = {p.email for p in pending}
        ready = [o for o in pending if o.supervisor not in waiting]
        if not ready:
            cycle = ", ".join(sorted(o.email for o in pending))
            raise ImportRejected(
                [("officers", f"officers supervise each other in a cycle: {cycle}")]
            )
        for officer in ready:
            ordered.append(officer)
            placed.add(officer.email)
        pending = [o for o in pending if o.email not in placed]
    return ordered


if __name__ == "__main__":  # pragma: no cover - developer helper
    print(json.dumps(build_schema(), indent=2))  # noqa: T201
