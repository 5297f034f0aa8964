"""Errors that reach the user, each carrying its exit status."""

from __future__ import annotations


class SpoError(Exception):
    """Base class: a problem the user can act on, reported as one line."""

    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(SpoError):
    """Bad input: a malformed value or one that breaks a rule of the record."""

    exit_code = 2


class NotFound(InvalidInput):
    """A reference to something the store does not hold: a subject, an order, an officer, a
    team, an action (exit 3, apart from other bad input)."""

    exit_code = 3


class Duplicate(InvalidInput):
    """A reference that is already taken."""


class ImportRejected(InvalidInput):
    """An import file with one or more errors; every error is listed with its path."""

    def __init__(self, errors: list[tuple[str, str]], *, stopped: bool = False) -> None:
        """``stopped``: the error limit was reached and the rest of the file was not read."""
        self.errors = errors
        self.stopped = stopped
        first_path, first_msg = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first_msg}{more}", field=first_path)


class DatabaseNotReady(SpoError):
    """The database is missing, its schema is behind this version of spo, or it is too busy
    to log a read."""

    exit_code = 2


class NotPermitted(SpoError):
    """The acting user's role does not allow this action (``what``, on ``ref``); refusals
    are audited."""

    exit_code = 4

    def __init__(
        self, message: str, *, what: str = "", ref: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.what = what
        self.ref = ref
