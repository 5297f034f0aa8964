"""The rules engine: facts (``facts``) -> actions (``actions``) by ``engine``. Pure."""

from .actions import (
    ACTION_ID_LENGTH,
    LEGACY_ACTION_ID_LENGTH,
    Action,
    Explanation,
    State,
    Status,
    action_id,
    names_action,
)
from .engine import derive_actions
from .facts import Facts, records_end

__all__ = [
    "ACTION_ID_LENGTH",
    "LEGACY_ACTION_ID_LENGTH",
    "Action",
    "Explanation",
    "Facts",
    "State",
    "Status",
    "action_id",
    "derive_actions",
    "names_action",
    "records_end",
]
