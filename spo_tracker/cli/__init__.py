"""The ``spo`` command: a thin shell over the use cases in ``spo_tracker.services``.

Heavy libraries (SQLModel, Alembic, jsonschema) are imported inside the commands that use
them, so ``spo --help`` stays quick.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

GLOBAL_OPTIONS = ("--db", "--as", "--policy", "--config")
# Fields that services name by their meaning, shown as the parameter the user typed.
_FIELD_ALIASES = {"subject": "subject_ref", "order": "order_ref", "flag": "flag_ref"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Accept ``--db``/``--as`` anywhere on the line, as the README promises."""
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
        if arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _command_name(args: list[str]) -> str | None:
    """The first word after the (hoisted) global options."""
    i = 0
    while i < len(args) and args[i].split("=", 1)[0] in GLOBAL_OPTIONS:
        i += 1 if "=" in args[i] else 2
    return args[i] if i < len(args) else None


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
    line = " ".join(message.split())  # one line, whatever the message held
    # what the user typed is echoed back: never let it drive the terminal
    line = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in line)
    sys.stderr.write(f"error: {line}\n")
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
    if args == ["--help"] and _static_help_fits():
        from .help_text import TOP_HELP

        sys.stdout.write(TOP_HELP)
        return 0
    if _command_name(args) == "due":
        from .fast import try_due

        code = try_due(args)
        if code is not None:
            return code

    import typer
    import typer.main
    from typer._click import exceptions as click_exc

    from ..errors import Duplicate, NotFound, SpoError
    from .app import app

    command = typer.main.get_command(app)
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
    except _database_errors() as exc:
        return _error(f"database: {_first_line(exc)}", 1)
    except BrokenPipeError:
        return 1
    return result if isinstance(result, int) else 0


def _static_help_fits() -> bool:
    """``spo --help`` is answered from ``help_text.TOP_HELP`` (Typer's own text, kept equal by
    a test) unless turned off or the terminal is narrower than the 80 columns it was laid out
    for: building the whole command tree to print it took most of the start-up time."""
    import os
    import shutil

    if os.environ.get("SPO_NO_FAST_PATH") == "1":
        return False
    return shutil.get_terminal_size().columns >= 80


def _database_errors() -> tuple[type[BaseException], ...]:
    if "sqlalchemy" not in sys.modules:
        return ()
    from sqlalchemy.exc import SQLAlchemyError

    return (SQLAlchemyError,)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
