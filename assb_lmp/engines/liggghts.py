"""The boundary to LIGGGHTS-PUBLIC 3.8: write a case's deck, run the binary, collect outputs.

Why a subprocess and not the C library: ``libliggghts`` has no error API (no
``lammps_has_error``), so any LIGGGHTS ``ERROR`` calls ``MPI_Abort`` inside the Python
process and kills it; several errors of the Debian build even lose their text (an OpenMPI
``show_help`` bug). Run as a child process, a failure is an exit status and a log, turned
into :class:`~assb_lmp.core.errors.EngineError` with the deck path and the log tail, and
the deck that ran is the file the user can read and rerun by hand
(``liggghts -in deck.lmp``, ``mpirun -np 2 liggghts -in deck.lmp``).

The deck writes its per-atom and per-contact dumps with LIGGGHTS's column names;
:func:`run_deck` turns them into the toolkit's contract (``ARCHITECTURE.md``) with
:func:`assb_lmp.engines.liggghts_outputs.convert_dumps`, so the analysis reads a LIGGGHTS
case like a LAMMPS one.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import assb_lmp.engines.liggghts_deck as liggghts_deck
import assb_lmp.engines.liggghts_outputs as liggghts_outputs
from assb_lmp.core.errors import EngineError, SpecError
from assb_lmp.engines.base import (
    Engine,
    RunResult,
    WrittenCase,
    comm_rank,
    engine_error,
    log_tail,
)
from assb_lmp.engines.lammps import parse_log
from assb_lmp.spec.case import CaseSpec

log = logging.getLogger(__name__)

#: Engine name (the case spec's ``engine`` value).
NAME = "liggghts"
#: Binary looked up on PATH unless ``ASSB_LIGGGHTS`` names another.
BINARY = "liggghts"
#: Environment variable that overrides the binary.
BINARY_ENV = "ASSB_LIGGGHTS"
#: Log and screen files of a run, in the deck's folder.
LOG_NAME = "log.liggghts"
SCREEN_NAME = "screen.liggghts"
#: Style names every LIGGGHTS deck of the toolkit needs (from ``liggghts -h``).
REQUIRED_STYLES = ("wall/gran", "mesh/surface", "move/mesh", "deform", "ave/time",
                   "store/state", "adapt", "pair/gran/local", "stress/atom")
_VERSION = re.compile(r"LIGGGHTS \(Version ([^,)]+)")

check_spec = liggghts_deck.check_spec
write_case = liggghts_deck.write_case
convert_dumps = liggghts_outputs.convert_dumps


def binary() -> str | None:
    """Path of the LIGGGHTS binary (``$ASSB_LIGGGHTS`` or ``liggghts`` on PATH), or None."""
    name = os.environ.get(BINARY_ENV, BINARY)
    return shutil.which(name)


def _help_text(exe: str) -> str:
    try:
        out = subprocess.run([exe, "-h"], capture_output=True, text=True, timeout=30,
                             check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout + out.stderr


def liggghts_version() -> str | None:
    """Version of the installed LIGGGHTS (e.g. ``'LIGGGHTS-PUBLIC 3.8.0'``), None if absent."""
    exe = binary()
    if exe is None:
        return None
    m = _VERSION.search(_help_text(exe))
    return m.group(1).strip() if m else None


def check_installation() -> str:
    """The binary's path after checking that it has every style the decks use.

    Raises
    ------
    EngineError
        No binary, or a build without a required style.
    """
    exe = binary()
    if exe is None:
        raise EngineError(
            f"cannot find the LIGGGHTS binary {os.environ.get(BINARY_ENV, BINARY)!r} on PATH "
            "(Debian/Ubuntu: apt-get install liggghts; or set ASSB_LIGGGHTS)")
    text = _help_text(exe)
    missing = [s for s in REQUIRED_STYLES if f" {s} " not in f" {' '.join(text.split())} "]
    if missing:
        raise EngineError(f"the LIGGGHTS build {exe} lacks required styles: {', '.join(missing)}")
    return exe


def command(deck: Path, nprocs: int = 1, exe: str | None = None) -> list[str]:
    """The command line that runs ``deck`` from its folder (``mpirun`` for nprocs > 1)."""
    exe = exe or binary() or BINARY
    cmd = [exe, "-in", Path(deck).name, "-log", LOG_NAME, "-nocite"]
    if nprocs > 1:
        mpirun = shutil.which("mpirun") or "mpirun"
        root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        cmd = [mpirun, *root, "-np", str(nprocs), *cmd]
    return cmd


def _failure_message(folder: Path, returncode: int, stderr: str) -> str:
    """What went wrong: the LIGGGHTS ERROR line, else a note on silent aborts."""
    for source in (folder / LOG_NAME, folder / SCREEN_NAME):
        try:
            text = source.read_text(errors="replace")
        except OSError:
            continue
        errors = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        if errors:
            return f"LIGGGHTS failed: {errors[-1].strip()}"
    detail = " ".join(stderr.split())[-400:]
    return (f"LIGGGHTS stopped (exit status {returncode}) without an error message (some "
            "errors of the 3.8 build lose their text in OpenMPI); the last command it read "
            "is the last echoed line of the log below; rerun by hand with "
            "'liggghts -in deck.lmp -echo screen' to see it" + (f". stderr: {detail}"
                                                                 if detail else ""))


def run_deck(deck: Path, nprocs: int = 1, timeout_s: float | None = None,
             convert: bool = True) -> RunResult:
    """Run a LIGGGHTS deck in its own folder as a subprocess and convert its dumps.

    Parameters
    ----------
    deck : Path
        The deck (``deck.lmp``); relative paths inside it are resolved from its folder.
    nprocs : int
        MPI processes (``mpirun -np``); Thornton–Ning decks must run on one.
    timeout_s : float, optional
        Wall-clock limit (s); the run is killed and reported when it is exceeded.
    convert : bool
        Turn the LIGGGHTS dumps into the toolkit's contract after the run.

    Raises
    ------
    EngineError
        Missing binary, a LIGGGHTS error (with the deck path and the tail of the log), a
        deck that did not reach its end, or a run past ``timeout_s``.
    """
    deck = Path(deck).resolve()
    folder = deck.parent
    if nprocs > 1 and "model thornton_ning" in deck.read_text(errors="replace"):
        raise SpecError(
            f"{deck}: a Thornton-Ning deck must run on one process: LIGGGHTS takes the yield "
            "radius from the first atom of a pair, and a pair shared by two processes is "
            "computed once by each with its own atom first")
    exe = check_installation()
    cmd = command(deck, nprocs, exe)
    (folder / LOG_NAME).unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        with open(folder / SCREEN_NAME, "w") as screen:
            proc = subprocess.run(cmd, cwd=folder, stdout=screen, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True, timeout=timeout_s,
                                  check=False)
    except subprocess.TimeoutExpired:
        raise EngineError(f"LIGGGHTS ran longer than {timeout_s} s and was stopped",
                          deck=str(deck), log_tail=log_tail(folder / LOG_NAME)) from None
    except OSError as exc:
        raise EngineError(f"cannot start LIGGGHTS ({' '.join(cmd)}): {exc}",
                          deck=str(deck)) from None
    wall = time.perf_counter() - t0
    log_path = folder / LOG_NAME
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if proc.returncode != 0 or "=== assb_lmp done" not in text:
        msg = (_failure_message(folder, proc.returncode, proc.stderr) if proc.returncode
               else "the deck did not reach its end")
        raise engine_error(msg, deck, log_path)
    stages, loop_s = parse_log(log_path)
    if convert:
        liggghts_outputs.convert_dumps(folder)
    m = _VERSION.search(text)
    return RunResult(engine=NAME, deck=deck, log=log_path, wall_s=wall, engine_s=loop_s,
                     version=m.group(1).strip() if m else "unknown", stages=stages,
                     nprocs=nprocs)


class LiggghtsEngine(Engine):
    """LIGGGHTS-PUBLIC 3.8 as a subprocess (``liggghts`` on PATH, or ``$ASSB_LIGGGHTS``)."""

    name = NAME
    dialect = liggghts_deck.DIALECT
    log_name = LOG_NAME

    def available(self) -> bool:
        """Whether the binary is found and has every style the decks need."""
        try:
            check_installation()
        except EngineError:
            return False
        return True

    def version(self) -> str:
        """E.g. ``LIGGGHTS-PUBLIC 3.8.0``.

        Raises
        ------
        EngineError
            When no binary is found.
        """
        v = liggghts_version()
        if v is None:
            check_installation()
            raise EngineError("the LIGGGHTS binary printed no version")
        return v

    def render(self, spec: CaseSpec, user_templates: Path | None = None) -> str:
        """The deck text (:func:`assb_lmp.engines.liggghts_deck.build`)."""
        return liggghts_deck.build(spec, user_templates).text

    def write(self, spec: CaseSpec, out_dir: Path,
              user_templates: Path | None = None) -> WrittenCase:
        """Write the case folder (:func:`~assb_lmp.engines.liggghts_deck.write_case`)."""
        d = liggghts_deck.write_case(spec, out_dir, user_templates)
        return WrittenCase(deck=Path(out_dir) / self.deck_name, text=d.text,
                           structure=d.structure, dt_us=d.dt_us)

    def run(self, deck: Path, comm: Any = None) -> RunResult:
        """Run a deck (:func:`run_deck`) on one process from rank 0 of ``comm``.

        LIGGGHTS runs as a child process; a Python MPI communicator does not carry into
        it, so rank 0 runs the deck and the other ranks wait for its result (domain
        decomposition: ``mpirun -np N liggghts -in deck.lmp`` by hand, or
        :func:`run_deck` with ``nprocs``).
        """
        if comm is None or comm.Get_size() == 1:
            return run_deck(deck)
        outcome: RunResult | str | None = None
        if comm_rank(comm) == 0:
            try:
                outcome = run_deck(deck)
            except (EngineError, SpecError) as exc:
                outcome = str(exc)
        outcome = comm.bcast(outcome, root=0)
        if isinstance(outcome, str):
            raise EngineError(outcome)
        return outcome
