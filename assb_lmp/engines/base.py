"""The seam between *what a case is* and *which engine runs it*.

An engine (:class:`Engine`) turns a validated case into input files in its own dialect
(``templates/`` for LAMMPS, ``templates/<dialect>/`` for others) and runs the deck it
wrote, from disk, so that what ran is what the user can read. The pipeline only talks to
this interface, through the registry :func:`assb_lmp.engines.get`:

.. code-block:: python

    engine = engines.get(spec.engine)
    written = engine.write(spec, out_dir)          # deck + data files, nothing run
    result = engine.run(written.deck, comm=comm)   # RunResult, or EngineError

Every engine failure is an :class:`~assb_lmp.core.errors.EngineError` that carries the deck
path and the tail of the engine's log (:func:`engine_error`). What an engine writes into a
case folder besides the deck (``structure.data``, ``spec.yaml``, ``materials.json``,
per-stage dumps) follows ARCHITECTURE.md, so the analysis reads every engine's output alike.

MPI: ``run`` takes an mpi4py communicator (or None); only rank 0 of it writes the toolkit's
own files (:func:`comm_rank`).
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from assb_lmp.build.packing import Structure
from assb_lmp.core import resources
from assb_lmp.core.errors import EngineError
from assb_lmp.spec.case import CaseSpec


@dataclass
class StageTiming:
    """Steps and engine loop seconds of one stage, parsed from the log."""

    name: str
    steps: int = 0
    loop_s: float = 0.0


@dataclass
class RunResult:
    """What a deck run produced.

    Attributes
    ----------
    engine : str
        Registry name of the engine that ran it.
    deck, log : Path
        The deck that ran and its log.
    wall_s : float
        Wall-clock seconds of the run (s).
    engine_s : float
        Seconds the engine spent in its time-step loops (s), from the log.
    version : str
        The engine's version.
    stages : dict
        :class:`StageTiming` by stage name.
    nprocs : int
        MPI ranks that ran the deck.
    """

    engine: str
    deck: Path
    log: Path
    wall_s: float
    engine_s: float
    version: str
    stages: dict[str, StageTiming] = field(default_factory=dict)
    nprocs: int = 1


@dataclass(frozen=True)
class WrittenCase:
    """The input files of a case an engine wrote (nothing run yet)."""

    deck: Path
    text: str
    structure: Structure
    dt_us: float


class Engine(abc.ABC):
    """One simulation engine. Subclasses set :attr:`name` and :attr:`dialect`."""

    #: Registry name, the value of the case spec's ``engine:`` key.
    name: ClassVar[str]
    #: Template folder of the engine's dialect inside ``templates/`` ("" = the top level).
    dialect: ClassVar[str] = ""
    #: File name of the deck inside a case folder.
    deck_name: ClassVar[str] = "deck.lmp"
    #: File name of the engine's log inside a case folder.
    log_name: ClassVar[str] = "log.lammps"

    def templates_dir(self) -> Path:
        """The built-in template folder of this engine's dialect."""
        return resources.templates_dir() / self.dialect if self.dialect else (
            resources.templates_dir())

    @abc.abstractmethod
    def available(self) -> bool:
        """Whether the engine can be loaded here (library or binary found)."""

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version text.

        Raises
        ------
        EngineError
            When the engine cannot be loaded.
        """

    @abc.abstractmethod
    def render(self, spec: CaseSpec, user_templates: Path | None = None) -> str:
        """The deck text of a case (packs its structure; writes nothing)."""

    @abc.abstractmethod
    def write(self, spec: CaseSpec, out_dir: Path,
              user_templates: Path | None = None) -> WrittenCase:
        """Write the deck and the files it reads into ``out_dir`` (nothing is run)."""

    @abc.abstractmethod
    def run(self, deck: Path, comm: Any = None) -> RunResult:
        """Run a deck file from its own folder.

        Raises
        ------
        EngineError
            On any engine failure, with the deck path and the tail of the log.
        """


def engine_error(message: str, deck: Path | str, log: Path | str | None) -> EngineError:
    """An :class:`EngineError` with the deck path and the last lines of the log."""
    return EngineError(message, deck=str(deck), log_tail=log_tail(log) if log else "")


def comm_world() -> Any:
    """``MPI.COMM_WORLD`` when mpi4py is importable, else None."""
    try:
        from mpi4py import MPI
    except ImportError:  # pragma: no cover - mpi4py is a dependency
        return None
    return MPI.COMM_WORLD


def comm_rank(comm: Any) -> int:
    """Rank in ``comm`` (0 without MPI)."""
    return 0 if comm is None else comm.Get_rank()


def log_tail(path: Path | str, lines: int = 25) -> str:
    """Last lines of an engine log ('' when unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


@contextlib.contextmanager
def working_dir(path: Path) -> Iterator[None]:
    """Run a block in ``path`` (decks read their files relative to their folder)."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
