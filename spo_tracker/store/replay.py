"""``--known-at``: what the system knew at a past moment, rebuilt from the audit trail.

Every write stores the entity's after-image in the audit log, so the record as it stood at
time T is the latest image of each entity written at or before T. ``ReplayReader`` is the read
model with those images in place of the tables: the same assembly turns them into subjects.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..core import record as d
from .read import ORDER_CHILDREN, SUBJECT_CHILDREN, Reader, to_date

# The tables whose rows make up the record (their audit images rebuild it).
RECORD_TABLES = {
    "officer",
    "subject",
    "spo_order",
    "flag",
    "flag_review",
    *(table for table, _ in SUBJECT_CHILDREN.values()),
    *(table for table, _ in ORDER_CHILDREN.values()),
}


class ReplayReader(Reader):
    """A read model whose record tables are the audit images known at ``at``."""

    def __init__(self, reader: Reader, at: dt.datetime) -> None:
        super().__init__(reader.conn, reader.dialect)
        self.at = at
        images: dict[tuple[str, int], dict[str, Any]] = {}
        for table, row_id, after in reader.audit_images(at):
            if table in RECORD_TABLES and row_id is not None:
                if after is None:
                    images.pop((table, row_id), None)
                else:
                    images[(table, row_id)] = after
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (table, _), image in sorted(images.items()):
            self.tables[table].append(image)

    def _officer_rows(self) -> list[dict[str, Any]]:
        return sorted(self.tables["officer"], key=lambda r: r["email"])

    def _subject_rows(self, refs: Sequence[str] | None) -> list[dict[str, Any]]:
        rows = self.tables["subject"]
        if refs is not None:
            wanted = set(refs)
            rows = [r for r in rows if r["reference"] in wanted]
        return sorted(rows, key=lambda r: r["reference"])

    def _child_rows(
        self, table: str, parent: str, ids: list[int]
    ) -> dict[int, list[dict[str, Any]]]:
        wanted = set(ids)
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        rows = sorted(
            self.tables[table], key=lambda r: (to_date(r.get("date")) or dt.date.min, r["id"])
        )
        for row in rows:
            if row[parent] in wanted and row.get("voided_at") is None:
                grouped[row[parent]].append(row)
        return grouped

    def known_subjects(self, subject: str | None = None) -> list[d.Subject]:
        return self.subjects(None if subject is None else [subject])
