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
import re
import types
import typing
from collections.abc import Callable, Generator, Iterable, Iterator
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


MAX_ERRORS = 100  # an import lists at most this many errors, then stops reading the file
MAX_DEPTH = 64  # nesting within one officer or subject; the record needs five levels
_CHUNK = 1 << 16
# yajl, ijson's C parser, silently turns an escaped lone surrogate ("\ud800") into "?": a
# file with any escaped surrogate is read by ijson's pure-Python parser, which keeps it, so
# that it is refused. Our exports never escape them (they are written as UTF-8).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = "contains a \\u escape that is not a valid character (a lone surrogate)"
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})

Taken = Callable[[str, str], str | None]


class _TooDeep(ValueError):
    pass


@functools.cache
def _element_schema(kind: str) -> dict[str, Any]:
    schema = load_schema()
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}


@functools.cache
def _fast_element_validator(kind: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(_element_schema(kind))


@functools.cache
def _element_validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_element_schema(kind))


def element_errors(kind: str, value: Any, at: list[str | int]) -> list[tuple[str, str]]:
    """Every way one officer or subject (``kind``) breaks the schema, with paths under
    ``at``; checked as ``schema_errors`` checks a whole document (``jsonschema-rs`` first)."""
    if _fast_element_validator(kind).is_valid(value):
        return []
    errors = sorted(
        _element_validator(kind).iter_errors(value),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    return [(_path([*at, *e.absolute_path]), _schema_message(e)) for e in errors]


class _Checker:
    """Checks officers, then subjects, one at a time: the schema, then the record's own
    checks. Errors are collected with their paths."""

    def __init__(
        self,
        *,
        known_officers: set[str],
        taken: Taken,
        today: date | None,
        limit: int | None,
    ) -> None:
        self.errors: list[tuple[str, str]] = []
        self.officers: list[d.Officer] = []
        self.emails = set(known_officers)
        self.check_strings = False
        self._known = set(known_officers)
        self._officer_paths: list[str] = []
        self._taken = taken
        self._today = today
        self._limit = limit
        self._seen: dict[str, dict[str, str]] = {"subject": {}, "order": {}, "flag": {}}

    @property
    def full(self) -> bool:
        return self._limit is not None and len(self.errors) >= self._limit

    def _conforms(self, kind: str, raw: Any, at: list[str | int]) -> bool:
        errors = element_errors(kind, raw, at)
        if not errors and self.check_strings:
            try:
                json.dumps(raw, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                errors = [(_path(at), _LONE_SURROGATE)]
        self.errors.extend(errors)
        return not errors

    def officer(self, i: int, raw: Any) -> None:
        if self._conforms("Officer", raw, ["officers", i]):
            path = f"officers[{i}]"
            self.officers.append(from_json(d.Officer, raw, path, self.errors))
            self._officer_paths.append(path)

    def officers_done(self) -> None:
        """Every officer is in: check them against each other (subjects need them all)."""
        _lower_emails(self.officers, [])
        emails = set(self._known)
        for path, officer in zip(self._officer_paths, self.officers, strict=True):
            if officer.email in emails:
                self.errors.append((f"{path}.email", f"officer {officer.email} already exists"))
            emails.add(officer.email)
        for path, officer in zip(self._officer_paths, self.officers, strict=True):
            for problem in d.check_officer(officer, emails):
                self.errors.append((f"{path}.{problem.path}", problem.message))
        try:
            supervisors_first(self.officers)
        except ImportRejected as exc:
            self.errors.extend(exc.errors)
        self.emails = emails

    def subject(self, i: int, raw: Any) -> d.Subject | None:
        """The subject, or None if it has errors."""
        if not self._conforms("Subject", raw, ["subjects", i]):
            return None
        path = f"subjects[{i}]"
        before = len(self.errors)
        subject: d.Subject = from_json(d.Subject, raw, path, self.errors)
        _lower_emails([], [subject])
        self._claim("subject", subject.reference, f"{path}.reference")
        for j, order in enumerate(subject.orders):
            self._claim("order", order.reference, f"{path}.orders[{j}].reference")
        for j, flag in enumerate(subject.flags):
            self._claim("flag", flag.reference, f"{path}.flags[{j}].reference")
        for problem in d.check_subject(subject, self.emails, self._today):
            self.errors.append((problem.under(path).path, problem.message))
        return subject if len(self.errors) == before else None

    def _claim(self, kind: str, ref: str, path: str) -> None:
        skeleton = d.reference_skeleton(ref)
        clash = self._seen[kind].get(skeleton) or self._taken(kind, ref)
        if clash == ref:
            self.errors.append((path, f"{kind} {ref} already exists"))
        elif clash is not None:
            self.errors.append((path, f"{kind} {ref} looks like {kind} {clash}"))
        self._seen[kind].setdefault(skeleton, ref)


def parse_document(
    doc: Any,
    *,
    known_officers: set[str],
    taken: Taken,
    today: date | None = None,
) -> tuple[list[d.Officer], list[d.Subject]]:
    """Validate a whole document held in memory; raise ``ImportRejected`` listing every error
    with its path (``DocumentReader`` does the same for a file, as it reads it).

    ``taken(kind, ref)`` gives the stored subject/order/flag reference that is ``ref`` or looks
    like it (see ``domain.reference_skeleton``), if any. With ``today``, a fact dated after it
    is an error.
    """
    errors = schema_errors(doc)
    if errors:
        raise ImportRejected(errors)
    checker = _Checker(known_officers=known_officers, taken=taken, today=today, limit=None)
    for i, officer in enumerate(doc["officers"]):
        checker.officer(i, officer)
    checker.officers_done()
    subjects = [checker.subject(i, s) for i, s in enumerate(doc["subjects"])]
    if checker.errors:
        raise ImportRejected(_unique(checker.errors))
    return checker.officers, [s for s in subjects if s is not None]


class _Source:
    """A binary file read in chunks, counting the bytes read (for progress)."""

    def __init__(self, file: typing.BinaryIO) -> None:
        self._file = file
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self.done += len(data)
        return data


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any) -> Any:
    """The JSON value that starts with ``event``, built from the events that follow; a
    repeated key is refused (``json`` would keep the last, hiding the first)."""
    if event not in _OPEN:
        return value
    root: Any = {} if event == "start_map" else []
    stack: list[Any] = [root]
    keys: list[str] = [""]
    for event, value in events:
        top = stack[-1]
        if event == "map_key":
            if value in top:
                raise ValueError(f"duplicate key {quote(value)}")
            keys[-1] = value
            continue
        if event in _CLOSE:
            stack.pop()
            keys.pop()
            if not stack:
                return root
            continue
        item: Any = {} if event == "start_map" else [] if event == "start_array" else value
        if type(top) is list:
            top.append(item)
        else:
            top[keys[-1]] = item
        if event in _OPEN:
            if len(stack) >= MAX_DEPTH:
                raise _TooDeep("nested too deeply")
            stack.append(item)
            keys.append("")
    raise ValueError("the document ends early")  # pragma: no cover - the parser says first


def _skip(events: Iterator[tuple[str, Any]], event: str) -> None:
    """Read past the value that starts with ``event`` without building it."""
    if event not in _OPEN:
        return
    depth = 1
    for event, _value in events:
        if event in _OPEN:
            depth += 1
        elif event in _CLOSE:
            depth -= 1
            if depth == 0:
                return


def _parser_for(path: Path) -> Any:
    """ijson's fastest parser, unless the file escapes a surrogate (see ``_SURROGATE_ESCAPE``)."""
    import ijson

    tail = b""
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            if _SURROGATE_ESCAPE.search(tail + chunk):
                return ijson.get_backend("python")
            tail = chunk[-5:]
    return ijson


class DocumentReader:
    """An import document read as a stream, one officer or subject at a time, each checked
    as it comes (the schema, then the record's own checks) and none kept once yielded:
    memory stays bounded whatever the file's size.

    Officers come first in our exports; a document with its subjects first is still valid
    JSON of the format, so it is read twice: its officers on the first pass (the subjects'
    checks need every officer), its subjects on the second. Reading stops at ``limit`` errors.
    """

    def __init__(
        self,
        path: Path,
        *,
        known_officers: set[str],
        taken: Taken,
        today: date | None = None,
        limit: int = MAX_ERRORS,
    ) -> None:
        self.path = path
        self.subjects_read = 0
        self._checker = _Checker(
            known_officers=known_officers, taken=taken, today=today, limit=limit
        )
        self._limit = limit
        self._source: _Source | None = None
        self._where = "(document)"
        try:
            if not path.exists():
                raise OSError("no such file")
            if not path.is_file():
                raise OSError("not a regular file (a folder, a pipe or a device)")
            self.size = path.stat().st_size
            self._parser = _parser_for(path)
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc}", field="file") from None
        self._checker.check_strings = self._parser.backend == "python"

    @property
    def officers(self) -> list[d.Officer]:
        """The document's officers: all of them once the first subject has been yielded."""
        return self._checker.officers

    @property
    def failed(self) -> bool:
        """An error has been found: what is yielded from now on must not be written."""
        return bool(self._checker.errors)

    @property
    def done(self) -> int:
        """Bytes of the file read so far (on the current pass)."""
        return self._source.done if self._source is not None else 0

    def subjects(self) -> Iterator[d.Subject]:
        """Each subject without errors, in document order; at the end (or at the error limit)
        ``ImportRejected`` lists every error found."""
        import ijson

        checker = self._checker
        try:
            deferred = yield from self._pass(second=False)
            if deferred:
                yield from self._pass(second=True)
        except _TooDeep:
            checker.errors.append((self._where, "not valid JSON: nested too deeply"))
        except UnicodeDecodeError as exc:
            checker.errors.append((self._where, f"not valid JSON: {exc}"))
        except (ValueError, ijson.JSONError) as exc:  # a duplicate key is a ValueError
            message = exc.args[0] if exc.args else exc
            if isinstance(message, bytes):
                message = message.decode("utf-8", errors="replace")
            first = str(message).strip().splitlines()[0] if str(message).strip() else "?"
            checker.errors.append((self._where, f"not valid JSON: {first}"))
        except _Stopped:
            errors = _unique(checker.errors)
            raise ImportRejected(errors[: self._limit], stopped=True) from None
        if checker.errors:
            raise ImportRejected(_unique(checker.errors)[: self._limit], stopped=checker.full)

    def _check_limit(self) -> None:
        if self._checker.full:
            raise _Stopped

    def _pass(self, *, second: bool) -> Generator[d.Subject, None, bool]:
        checker = self._checker
        with self.path.open("rb") as file:
            self._source = _Source(file)
            events = iter(self._parser.basic_parse(self._source, buf_size=_CHUNK, use_float=True))
            self._where = "(document)"
            event, value = next(events)
            top: Any = {}
            officers_seen = deferred = False
            if event != "start_map":
                # not an object: the schema says so, without building what it is
                top = {"start_array": []}.get(event, value)
                _skip(events, event)
            else:
                for event, key in events:
                    if event == "end_map":
                        break
                    if key in top:
                        raise ValueError(f"duplicate key {quote(key)}")
                    event, value = next(events)
                    top[key] = [] if event == "start_array" else {} if event in _OPEN else value
                    if key == "officers" and event == "start_array" and not second:
                        self._officers(events)
                        officers_seen = True
                    elif key == "subjects" and event == "start_array":
                        if second or officers_seen:
                            yield from self._subjects(events)
                        else:
                            deferred = True
                            _skip(events, event)
                    else:
                        _skip(events, event)
                    self._where = "(document)"
            for _ in events:  # anything after the document is an error the parser reports
                pass
        if second:
            return False
        checker.errors[:0] = schema_errors(top)
        if not officers_seen:
            checker.officers_done()
        self._check_limit()
        return deferred

    def _officers(self, events: Iterator[tuple[str, Any]]) -> None:
        checker = self._checker
        for i, (event, value) in enumerate(events):
            if event == "end_array":
                break
            self._where = f"officers[{i}]"
            checker.officer(i, _build(events, event, value))
            self._check_limit()
        self._where = "officers"
        checker.officers_done()
        self._check_limit()

    def _subjects(self, events: Iterator[tuple[str, Any]]) -> Iterator[d.Subject]:
        checker = self._checker
        for i, (event, value) in enumerate(events):
            if event == "end_array":
                return
            self._where = f"subjects[{i}]"
            subject = checker.subject(i, _build(events, event, value))
            self.subjects_read += 1
            self._check_limit()
            if subject is not None:
                yield subject


class _Stopped(Exception):
    """The error limit was reached."""


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
