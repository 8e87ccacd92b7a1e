"""One case of a sweep: run it in a private folder, move it into place or record why not.

A failure of any kind (spec, packing, LAMMPS, servo, analysis) is recorded in
``DIR/failed/<id>.json`` and never raised, so one case never stops a sweep.
:class:`Progress` is the progress bar the local and MPI drivers share.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assb_lmp.core.errors import AssbError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.engines.base import comm_rank
from assb_lmp.pipeline.runner import run_case
from assb_lmp.sweep.claims import Claim
from assb_lmp.sweep.expand import Case
from assb_lmp.sweep.store import (
    CASE_INFO,
    FAILED_DIR,
    SUMMARY,
    TMP_DIR,
    commit_case,
    first_line,
    own_tmp,
    record_failure,
)

log = logging.getLogger(__name__)

#: KiB per MiB (``ru_maxrss`` is in KiB on Linux).
KIB_PER_MIB = 1024.0


@dataclass
class CaseResult:
    """Outcome of one case in a sweep."""

    case_id: str
    status: Literal["done", "failed"]
    seconds: float
    reason: str = ""
    cpu_s: float | None = None


def peak_rss_mib(comm=None) -> float:
    """Peak resident memory (MiB) of this process; the largest over ``comm``'s ranks."""
    kib = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    if comm is not None and comm.Get_size() > 1:
        kib = max(comm.allgather(kib))
    return round(kib / KIB_PER_MIB, 1)


def lammps_cost(case_dir: Path) -> dict[str, Any]:
    """``steps`` (all stages) and ``lammps_s`` of a case folder's ``summary.json``."""
    try:
        summary = read_json(Path(case_dir) / SUMMARY, "a case summary")
        steps = sum(int(s.get("steps") or 0) for s in summary.get("stages", []))
        lammps_s = summary.get("timing", {}).get("lammps_s")
    except (AssbError, AttributeError, TypeError, ValueError):
        return {"steps": None, "lammps_s": None}
    return {"steps": steps, "lammps_s": None if lammps_s is None else round(lammps_s, 3)}


def execute_case(case: Case, sweep_dir: Path, *, comm=None, templates: Path | None = None,
                 analyze: bool = True, figures: bool = False,
                 still_wanted: Callable[[], bool] | None = None,
                 claim: Claim | None = None) -> CaseResult:
    """Run one case of a sweep in ``DIR/.tmp/<id>.<pid>`` and move it into place.

    A failure of any kind (spec, packing, LAMMPS, servo, analysis) is recorded in
    ``DIR/failed/<id>.json`` (its folder in ``DIR/failed/<id>/``) and returned, never
    raised.

    Parameters
    ----------
    case : Case
    sweep_dir : Path
    comm : mpi4py communicator, optional
        The rank group that runs this case (all its ranks call this function).
    templates : Path, optional
        User template folder.
    analyze, figures : bool
        Passed to :func:`assb_lmp.pipeline.runner.run_case`.
    still_wanted : callable, optional
        Asked before anything is recorded; False (the sweep was killed) records nothing.
    claim : Claim, optional
        The case's claim: when another runner has taken it over, nothing is recorded.
    """
    sweep_dir = Path(sweep_dir)
    rank = comm_rank(comm)
    tmp = own_tmp(sweep_dir, case.id)
    if comm is not None and comm.Get_size() > 1:
        tmp = sweep_dir / TMP_DIR / comm.bcast(tmp.name, root=0)
    t0, c0 = time.perf_counter(), time.process_time()
    error: BaseException | None = None
    detail = ""
    try:
        run_case(case.spec, tmp, comm=comm, user_templates=templates,
                        analyze=analyze, figures=figures)
    except AssbError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - one case's bug must not stop the sweep
        error = exc
        detail = traceback.format_exc()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = peak_rss_mib(comm)
    if rank != 0:
        return CaseResult(case.id, "failed" if error else "done", seconds, cpu_s=cpu)
    if (still_wanted is not None and not still_wanted()) or \
            (claim is not None and not claim.is_mine()):
        shutil.rmtree(tmp, ignore_errors=True)  # the folder is this process's alone
        return CaseResult(case.id, "failed", seconds, "abandoned")
    if error is None:
        atomic_write_json(tmp / CASE_INFO, {
            "case_id": case.id, "seed": case.seed, "structure": case.structure,
            "params": case.params, "seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
            **lammps_cost(tmp), "peak_rss_mib": rss,
            "worker": f"{socket.gethostname()}:{os.getpid()}"})
        commit_case(tmp, sweep_dir / case.id)
        (sweep_dir / FAILED_DIR / f"{case.id}.json").unlink(missing_ok=True)
        shutil.rmtree(sweep_dir / FAILED_DIR / case.id, ignore_errors=True)
        return CaseResult(case.id, "done", seconds, cpu_s=cpu)
    reason = str(error) or type(error).__name__
    log.warning("case %s failed: %s", case.id, first_line(reason))
    record_failure(sweep_dir, case, reason, type(error).__name__, seconds, tmp, detail, cpu,
                   peak_rss_mib=rss)
    return CaseResult(case.id, "failed", seconds, first_line(reason), cpu)


# ----------------------------------------------------------------------------- progress
class Progress:
    """tqdm bar with done / failed / running counts (disabled when not wanted)."""

    def __init__(self, total: int, done: int, failed: int, enabled: bool, name: str) -> None:
        self.done, self.failed, self.running = done, failed, 0
        self._lock = threading.Lock()
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done + failed, unit="case", desc=name,
                            smoothing=0.0, dynamic_ncols=True, mininterval=0.5,
                            file=sys.stderr)
            self._post()

    def _post(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"done {self.done}, failed {self.failed}, running {self.running}", refresh=True)

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._post()

    def finished(self, result: CaseResult) -> None:
        with self._lock:
            self.running = max(0, self.running - 1)
            if result.status == "done":
                self.done += 1
            else:
                self.failed += 1
                if self.bar is not None:
                    self.bar.write(f"failed: {result.case_id}: {result.reason}")
            if self.bar is not None:
                self.bar.set_postfix_str(
                    f"done {self.done}, failed {self.failed}, running {self.running}",
                    refresh=False)
                self.bar.update(1)

    def skipped(self) -> None:
        """A case another runner held or finished: counted off without a result."""
        with self._lock:
            if self.bar is not None:
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
