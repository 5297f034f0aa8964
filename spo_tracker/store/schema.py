"""Facts about the database that need no database library (kept import-light for start-up)."""

from __future__ import annotations

import os
from pathlib import Path

# The newest migration; a test keeps it equal to Alembic's head, so commands can check the
# schema without loading Alembic (slow to import) on every run.
SCHEMA_HEAD = "0004"


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/spo-tracker/spo.db``, i.e. ``~/.local/share/spo-tracker/spo.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spo-tracker" / "spo.db"
