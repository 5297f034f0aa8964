"""The composition root: the one place that builds real adapters from settings."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .clock import Clock, SystemClock
from .errors import InvalidInput

if TYPE_CHECKING:
    from .policy import Policy
    from .store.repo import Store

DEFAULT_POLICY = "west-yorkshire"


def acting_user(option: str | None) -> str:
    """``--as``, else ``SPO_USER``, else the operating-system user."""
    return option or os.environ.get("SPO_USER") or getpass.getuser()


def policy_dirs() -> list[Path]:
    """Where shipped policies live: inside the installed wheel, or the source checkout."""
    package = Path(__file__).parent
    return [package / "_data" / "policy", package.parent / "data" / "policy"]


def policy_path(option: str | None) -> Path:
    """``--policy`` (a file, or the name of a shipped policy), else ``SPO_POLICY``, else the
    shipped West Yorkshire policy."""
    value = option or os.environ.get("SPO_POLICY") or DEFAULT_POLICY
    candidate = Path(value).expanduser()
    if candidate.suffix == ".toml" or os.sep in value:
        if not candidate.is_file():
            raise InvalidInput(f"no policy file at {candidate}", field="--policy")
        return candidate
    for folder in policy_dirs():
        shipped = folder / f"{value}.toml"
        if shipped.is_file():
            return shipped
    names = sorted(
        {p.stem for folder in policy_dirs() if folder.is_dir() for p in folder.glob("*.toml")}
    )
    raise InvalidInput(
        f"no shipped policy named {value!r} (shipped: {', '.join(names) or 'none'})",
        field="--policy",
    )


def load_policy(option: str | None = None, *, path: Path | None = None) -> Policy:
    """Read and validate the policy; add bank holidays when a rule counts working days."""
    from .policy import parse_policy

    source = path or policy_path(option)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {source}: {exc}", field="--policy") from None
    policy = parse_policy(text)
    if policy.uses_working_days:
        policy = with_bank_holidays(policy)
    return policy


def policy_digest(option: str | None = None) -> str:
    """The digest of the policy ``load_policy(option)`` would load, without parsing it
    (``spo due`` only needs to know whether the policy changed)."""
    from .policy import text_digest

    source = policy_path(option)
    try:
        return text_digest(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {source}: {exc}", field="--policy") from None


def with_bank_holidays(policy: Policy) -> Policy:
    import dataclasses

    import holidays

    england = holidays.country_holidays("GB", subdiv="ENG", years=range(2000, 2101))
    return dataclasses.replace(policy, holidays=frozenset(england.keys()))


def local_today(clock: Clock, timezone: str = "Europe/London") -> dt.date:
    """Today's calendar date in the force's time zone (never the UTC date)."""
    return clock.now().astimezone(ZoneInfo(timezone)).date()


@contextmanager
def open_store(db: str | None, *, actor: str, clock: Clock | None = None) -> Iterator[Store]:
    """One transaction: committed if the block succeeds, rolled back if anything raises."""
    from sqlmodel import Session

    from .store.db import ensure_current, make_engine, resolve_url
    from .store.repo import Store

    engine = make_engine(resolve_url(db))
    try:
        ensure_current(engine)
        with Session(engine, expire_on_commit=False) as session:
            store = Store(session, actor=actor, now=(clock or SystemClock()).now())
            try:
                yield store
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()
