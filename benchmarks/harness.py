"""What every benchmark shares: a figure with its target, whole-process timing, the machine.

A benchmark module returns ``Figure``s; ``benchmarks.run_all`` collects them from every module
and writes BENCHMARKS.md. Each figure keeps its raw samples (seconds, or a rate, or MB), so the
report can show the median and the range beside the target.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .generate import SCU_EMAIL

ROOT = Path(__file__).resolve().parent.parent


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------ figures

#: units a figure can be in: seconds (lower is better), a rate per second, megabytes, a ratio
UNITS = ("s", "/s", "MB", "x")


@dataclass
class Figure:
    """One measured quantity: its samples, and the target it is held to (if any).

    ``unit`` is ``s`` (seconds per run), ``/s`` (a rate; ``per`` names what is counted), ``MB``
    or ``x`` (a ratio). ``target`` is ``(op, bound)`` with op ``<=`` or ``>=`` on the median, in
    the figure's own unit; ``target_text`` is how it reads in the report.
    """

    group: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    size: int | None = None
    per: str = ""
    target: tuple[str, float] | None = None
    target_text: str = ""
    note: str = ""
    skipped: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.samples:
            return None
        op, bound = self.target
        return self.median <= bound if op == "<=" else self.median >= bound

    def show(self, value: float) -> str:
        return show(value, self.unit, self.per)

    def as_json(self) -> dict[str, object]:
        return asdict(self) | {"met": self.met}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Figure:
        data = dict(data)
        data.pop("met", None)
        target = data.get("target")
        if isinstance(target, list):
            data["target"] = (str(target[0]), float(target[1]))
        return cls(**data)  # type: ignore[arg-type]


def show(value: float, unit: str, per: str = "") -> str:
    if unit == "s":
        if value < 0.001:
            return f"{value * 1e6:.0f} µs"
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "/s":
        return f"{value:,.0f} {per}/s".replace("  ", " ")
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "x":
        return f"{value:.2f}×"  # noqa: RUF001
    return f"{value:g} {unit}"


def save(path: Path, figures: Sequence[Figure], extra: dict[str, object] | None = None) -> None:
    payload = {"figures": [f.as_json() for f in figures], **(extra or {})}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: Path) -> tuple[list[Figure], dict[str, object]]:
    payload = json.loads(path.read_text(encoding="utf-8"))
    figures = [Figure.from_json(f) for f in payload.pop("figures")]
    return figures, payload


# ------------------------------------------------------------------------------ processes


def spo_executable() -> str:
    beside = Path(sys.executable).parent / "spo"
    found = str(beside) if beside.exists() else shutil.which("spo")
    if not found:
        raise SystemExit("no spo executable: run from the project's venv (.venv/bin/python)")
    return found


def clean_env(pycache: Path | None) -> dict[str, str]:
    """The user's environment without spo settings that would change what is measured.

    With ``pycache``, bytecode is cached there (``PYTHONPYCACHEPREFIX``) even if the caller's
    environment disables it (``PYTHONDONTWRITEBYTECODE``): an installed spo has its bytecode
    compiled, so recompiling every module in every process would not be what users see.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SPO_") and k not in {"COLUMNS", "PYTHONPATH"}
    }
    # the commands are typed by the caseload's SCU, who may run every one of them
    env["SPO_USER"] = SCU_EMAIL
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


ENV: dict[str, str] = clean_env(None)  # replaced by run_all / a module's main()


def use_env(env: dict[str, str]) -> None:
    ENV.clear()
    ENV.update(env)


def run_once(
    argv: Sequence[str],
    *,
    timeout: float = 600,
    capture: bool = False,
    env: dict[str, str] | None = None,
    ok: Callable[[int], bool] = lambda code: code == 0,
) -> tuple[float, str]:
    """Run a whole process; returns (wall seconds, stdout if captured)."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv),
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env if env is not None else ENV,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if not ok(done.returncode):
        raise RuntimeError(
            f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
        )
    return elapsed, done.stdout.decode(errors="replace") if capture else ""


def time_process(
    argv: Sequence[str],
    *,
    runs: int,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    ok: Callable[[int], bool] = lambda code: code == 0,
) -> tuple[list[float], str]:
    """One warm-up run (its stdout returned), then ``runs`` timed runs (fewer if slow)."""
    warm, output = run_once(argv, timeout=timeout, capture=True, env=env, ok=ok)
    runs = max(1, min(runs, int(timeout // max(warm, 1e-3))))
    times = [run_once(argv, timeout=timeout, env=env, ok=ok)[0] for _ in range(runs)]
    return times, output


def time_call(fn: Callable[[], object], *, runs: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``fn()``, ``warmup`` unmeasured calls first."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


# ------------------------------------------------------------------------------ machine


def machine() -> dict[str, str]:
    def command(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    memory = "?"
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        found = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
        cpu = found.group(1).strip() if found else "?"
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        kb = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
        memory = f"{int(kb.group(1)) / 1024 / 1024:.1f} GiB" if kb else "?"
    except OSError:
        pass
    from spo_tracker import __version__

    return {
        "uname -a": command("uname", "-a"),
        "cores (nproc)": command("nproc") or str(os.cpu_count()),
        "CPU": cpu,
        "memory": memory,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite": sqlite3.sqlite_version,
        "spo-tracker": __version__,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
