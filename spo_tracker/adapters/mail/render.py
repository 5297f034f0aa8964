"""Template triples -> an email's subject, text and HTML. Pure apart from reading templates.

``render("reminder", ctx)`` reads ``email/reminder.subject.txt``, ``.body.txt`` and
``.body.html``. Undefined variables fail (StrictUndefined) rather than send a blank; HTML is
autoescaped; the subject is forced onto one line so no stored value can split a header.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = (
    "reminder",
    "escalation",
    "change",
    "breach",
    "digest",
    "team_digest",
    "force_digest",
    "watchdog",
)


def template_dirs() -> list[Path]:
    """Inside an installed wheel first, then the source checkout."""
    package = Path(__file__).resolve().parents[2]
    return [package / "_templates", package.parent / "templates"]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def sentence(value: str) -> str:
    """The first letter upper case and the rest as written (Jinja's ``capitalize`` lowers
    the rest: "update PNC" would read "update pnc")."""
    return value[:1].upper() + value[1:]


@functools.cache
def _environment() -> Environment:
    folders = [str(p) for p in template_dirs() if (p / "email").is_dir()]
    env = Environment(
        loader=FileSystemLoader(folders),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sentence"] = sentence
    return env


def one_line(value: str) -> str:
    return " ".join(value.split())


def render(name: str, context: dict[str, Any]) -> Rendered:
    env = _environment()
    subject = env.get_template(f"email/{name}.subject.txt").render(context)
    text = env.get_template(f"email/{name}.body.txt").render(context)
    html = env.get_template(f"email/{name}.body.html").render(context)
    return Rendered(subject=one_line(subject)[:250], text=text, html=html)
