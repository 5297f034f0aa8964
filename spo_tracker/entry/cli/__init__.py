"""The ``spo`` command: a thin Typer shell over the use cases in ``spo_tracker.app``.

Typer is the one definition of the command line. Heavy libraries (SQLAlchemy, SQLModel,
Alembic, jsonschema) are imported only by the use cases that need them, so ``spo --help``
and every command that only reads start quickly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

GLOBAL_OPTIONS = ("--db", "--as", "--policy", "--config", "--purpose")
GLOBAL_FLAGS = ("--no-pager",)
# Fields that services name by their meaning, shown as the parameter the user typed.
_FIELD_ALIASES = {"subject": "subject_ref", "order": "order_ref", "flag": "flag_ref"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Accept ``--db``/``--as`` (and ``--no-pager``) anywhere on the line, as the README
    promises."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 2
            continue
        if arg in GLOBAL_FLAGS:
            front.append(arg)
            i += 1
            continue
        if arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _field_label(command: object, args: list[str], field: str) -> str:
    """``expires`` -> ``--expires`` when the invoked command has that option."""
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is not None:
            command = sub
    for name in (field, _FIELD_ALIASES.get(field)):
        for param in getattr(command, "params", []):
            if (
                param.name == name
                and getattr(param, "opts", None)
                and param.opts[0].startswith("-")
            ):
                return str(max(param.opts, key=len))
    return field


def _error(message: str, code: int) -> int:
    from ...app import one_line

    # one short line, whatever the message held: what the user typed is echoed back, and
    # must neither drive the terminal nor fill it
    sys.stderr.write(f"error: {one_line(message)}\n")
    return code


def _not_text(args: list[str]) -> str | None:
    """The option (or position) of an argument that is not valid UTF-8 text, if any."""
    for i, arg in enumerate(args):
        if any("\ud800" <= ch <= "\udfff" for ch in arg):
            before = args[i - 1] if i and args[i - 1].startswith("--") else None
            return before or f"argument {i + 1}"
    return None


def run(argv: Sequence[str] | None = None) -> int:
    """Run ``spo`` with ``argv``; returns the exit status instead of exiting."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    bad = _not_text(args)
    if bad is not None:
        return _error(f"{bad}: is not valid UTF-8 text", 2)
    import typer
    import typer.main
    from typer._click import exceptions as click_exc

    from ...app import Duplicate, NotFound, SpoError
    from ...bootstrap import database_errors
    from .app import app

    command = _command(app)
    try:
        result = command.main(args=args, prog_name="spo", standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.format_message() if hasattr(exc, "format_message") else str(exc))
        return 0
    except click_exc.ClickException as exc:
        return _error(exc.format_message(), exc.exit_code)
    except typer.Abort:
        return _error("aborted", 1)
    except SpoError as exc:
        label = _field_label(command, args, exc.field) if exc.field else None
        # "subject S-9 not found" already names its field; an option is still worth naming.
        names_itself = isinstance(exc, NotFound | Duplicate) and not (label or "").startswith("-")
        if label is None or names_itself or exc.message.startswith(f"{label} "):
            return _error(exc.message, exc.exit_code)
        return _error(f"{label}: {exc.message}", exc.exit_code)
    except database_errors() as exc:
        return _error(f"database: {_first_line(exc)}", 1)
    except BrokenPipeError:  # `spo due | head`: the reader went; say nothing more
        _quiet_stdout()
        return 1
    except Exception as exc:  # a bug: one line, never a traceback (SPO_DEBUG=1 shows it)
        import os

        if os.environ.get("SPO_DEBUG") == "1":
            raise
        return _error(
            f"unexpected {type(exc).__name__}: {exc} (a bug in spo: please report it, with "
            "the command; SPO_DEBUG=1 shows where it happened)",
            1,
        )
    return result if isinstance(result, int) else 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush to the closed pipe is
    silent."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests capture it): nothing to quiet
        pass


_BUILT: list[object] = []


def _command(app: object) -> Any:
    """The Click command Typer builds from the app, built once per process (a test suite runs
    ``spo`` thousands of times in one)."""
    import typer.main

    if not _BUILT:
        _BUILT.append(typer.main.get_command(app))  # type: ignore[arg-type]
    return _BUILT[0]


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
