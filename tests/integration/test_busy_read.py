"""A read logs what it showed in a short write of its own: while another command holds the
write lock past the busy timeout (a long import), the read ends with one clear line and exit
2, not a traceback or a message about a rollback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import Spo

SPO = str(Path(sys.executable).parent / "spo")


def test_a_read_while_a_long_write_holds_the_lock_says_the_database_is_busy(
    caseload: Spo, db_path: Path
) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a long import holds for minutes
    try:
        done = subprocess.run(
            [SPO, "show", "S-001"],
            env=dict(os.environ, SPO_DB=str(db_path)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 2
    assert done.stderr.startswith("error: the database is busy (database is locked)")
    assert len(done.stderr.splitlines()) == 1
    caseload("show", "S-001")  # and once the writer is done, the same read works
