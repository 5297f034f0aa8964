"""The pure rules of accountability: which operation a change is, what a purpose may be, and
the hash chain's verdicts."""

from __future__ import annotations

import pytest

from spo_tracker.core.accountability import (
    ERASED,
    GENESIS,
    ChainRow,
    check_purpose,
    content_digest,
    link,
    operation_of,
    verify,
)


@pytest.mark.parametrize(
    ("action", "operation"),
    [
        ("visit.add", "collection"),
        ("officer.add", "collection"),
        ("subject.update", "alteration"),
        ("record.correct", "alteration"),
        ("record.void", "alteration"),
        ("order.discharge", "alteration"),
        ("import", "combination"),
        ("retention.purge", "erasure"),
        ("retention.log", "erasure"),
        ("refused", None),
    ],
)
def test_each_change_is_one_of_the_operations_s62_names(action: str, operation: str | None) -> None:
    assert operation_of(action) == operation


def test_a_purpose_is_trimmed_one_line_text() -> None:
    assert check_purpose("  supervision  ") == "supervision"
    for bad in ("", "  ", "a\nb", "tab\there", "x" * 501):
        with pytest.raises(ValueError, match=r"empty|characters|one line"):
            check_purpose(bad)


def chain(*fields: tuple[object, ...]) -> list[ChainRow]:
    rows, previous = [], GENESIS
    for seq, values in enumerate(fields, start=1):
        previous = link(previous, (seq, *values))
        rows.append(ChainRow(id=seq, seq=seq, hash=previous, fields=(seq, *values)))
    return rows


def test_a_whole_chain_verifies_and_an_empty_one_too() -> None:
    assert verify("t", chain(("a",), ("b",), ("c",))) is None
    assert verify("t", []) is None


def test_an_altered_row_is_named() -> None:
    rows = chain(("a",), ("b",), ("c",))
    rows[1] = ChainRow(id=2, seq=2, hash=rows[1].hash, fields=(2, "B"))
    found = verify("t", rows)
    assert found is not None
    assert (found.row_id, found.reason) == (2, "altered (its hash does not match)")


def test_a_row_rehashed_after_an_edit_breaks_the_next_link() -> None:
    rows = chain(("a",), ("b",), ("c",))
    forged = link(rows[0].hash or "", (2, "B"))
    rows[1] = ChainRow(id=2, seq=2, hash=forged, fields=(2, "B"))
    found = verify("t", rows)
    assert found is not None
    assert found.row_id == 3


def test_a_removed_or_repeated_place_is_named() -> None:
    rows = chain(("a",), ("b",), ("c",))
    removed = verify("t", [rows[0], rows[2]])
    assert removed is not None
    assert (removed.row_id, removed.reason) == (3, "row 2 of the chain was removed before it")
    repeated = verify("t", [rows[0], rows[0]])
    assert repeated is not None
    assert "repeated" in repeated.reason


def test_an_unsealed_row_is_named() -> None:
    rows = [*chain(("a",)), ChainRow(id=9, seq=None, hash=None, fields=(None, "x"))]
    found = verify("t", rows)
    assert found is not None
    assert (found.row_id, found.reason[:10]) == (9, "not sealed")


def test_a_chain_whose_start_was_purged_verifies_from_its_anchor() -> None:
    rows = chain(("a",), ("b",), ("c",))
    assert verify("t", rows[2:]) is not None  # without the anchor: rows 1 and 2 missing
    assert verify("t", rows[2:], anchor=(2, rows[1].hash or "")) is None
    assert verify("t", rows[2:], anchor=(2, "f" * 64)) is not None


def test_erased_content_is_accepted_only_when_a_purge_explains_it() -> None:
    digest = content_digest(None, {"name": "John Smith"})
    [row] = chain(("audit", digest))
    sealed = ChainRow(id=1, seq=1, hash=row.hash, fields=row.fields, digest=digest)
    assert verify("t", [sealed.__class__(**{**sealed.__dict__, "content": digest})]) is None
    erased = {**sealed.__dict__, "content": ERASED}
    assert verify("t", [ChainRow(**erased)]) is not None
    assert verify("t", [ChainRow(**{**erased, "erased_by": True})]) is None
    edited = {**sealed.__dict__, "content": content_digest(None, {"name": "Someone"})}
    found = verify("t", [ChainRow(**edited)])
    assert found is not None
    assert found.reason == "its content was altered"
