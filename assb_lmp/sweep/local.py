"""Local sweeps: cases run one per worker process, workers that die with the sweep.

Every worker process opens its own LAMMPS instance (``forkserver`` start method). As
always with that start method, a script that calls :func:`assb_lmp.sweep.run` must guard
its top level with ``if __name__ == "__main__":`` (workers import the main script);
``python -m assb_lmp sweep`` needs nothing. A worker is SIGKILLed by the kernel when its
parent dies and by a watchdog thread when the sweep process dies, so a killed sweep leaves
no worker behind that could record a result into a folder the next run has cleared.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing import connection as mp_connection
from pathlib import Path
from typing import Any

from assb_lmp.core.errors import AssbError
from assb_lmp.core.io import read_json
from assb_lmp.sweep.claims import Claim, process_identity
from assb_lmp.sweep.execute import CaseResult, Progress, execute_case
from assb_lmp.sweep.expand import Case
from assb_lmp.sweep.plan import Plan
from assb_lmp.sweep.store import (
    CASE_INFO,
    TMP_DIR,
    is_done,
    own_tmp,
    read_failure,
    record_failure,
)

log = logging.getLogger(__name__)

#: The logger above every sweep module (its INFO lines stay on while cases are quiet).
SWEEP_LOGGER = "assb_lmp.sweep"


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _child(case: Case, claim: Claim, sweep_dir: str, templates: str | None, analyze: bool,
           figures: bool, log_level: int, sweep_process: tuple[int, str] | None) -> None:
    """Worker process: run one case (results travel through the file system).

    The case's result is recorded only while the sweep process that started the worker is
    alive: a worker that outlives a killed sweep (its direct parent, the fork server, may
    linger) must not record a failure caused by the next run clearing its folder. A
    watchdog thread kills the worker within 0.2 s of the sweep process's death.
    """
    _die_with_parent()
    parent = os.getppid()
    logging.basicConfig(level=log_level, format=f"%(levelname)s {case.id}: %(message)s")

    def still_wanted() -> bool:
        if os.getppid() != parent:
            return False
        return sweep_process is None or process_identity(sweep_process[0]) == sweep_process

    def watchdog() -> None:  # LAMMPS runs through ctypes, which releases the GIL
        while still_wanted():
            time.sleep(0.2)
        shutil.rmtree(own_tmp(Path(sweep_dir), case.id), ignore_errors=True)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watchdog, name="sweep-watchdog", daemon=True).start()
    try:
        execute_case(case, Path(sweep_dir), templates=Path(templates) if templates else None,
                     analyze=analyze, figures=figures, still_wanted=still_wanted, claim=claim)
    finally:
        logging.shutdown()


def _start_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # modules every worker needs, imported once in the fork server (never LAMMPS or
        # mpi4py: MPI must be initialised in the worker itself)
        ctx.set_forkserver_preload(
            ["assb_lmp.pipeline.runner", "assb_lmp.analysis.mechanics", "yaml", __name__]
        )
    return ctx


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def case_log_level() -> int:
    """Log level inside cases: WARNING, or DEBUG when the user asked for debug output."""
    return logging.DEBUG if logging.getLogger("assb_lmp").getEffectiveLevel() <= logging.DEBUG \
        else logging.WARNING


@contextlib.contextmanager
def quiet_cases() -> Iterator[None]:
    """Keep the stages' INFO lines (one per case) off the console while a sweep runs."""
    pkg, own = logging.getLogger("assb_lmp"), logging.getLogger(SWEEP_LOGGER)
    old_pkg, old_own = pkg.level, own.level
    if pkg.getEffectiveLevel() > logging.DEBUG:
        own.setLevel(pkg.getEffectiveLevel())
        pkg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pkg.setLevel(old_pkg)
        own.setLevel(old_own)


def run_local(plan: Plan, jobs: int | None = None, *, progress: bool = True,
              log_level: int | None = None) -> list[CaseResult]:
    """Run a plan's cases in worker processes, one case per process at a time.

    Each case is claimed just before its worker starts (a case another runner holds is
    skipped) and released when the worker has ended.

    Parameters
    ----------
    plan : Plan
        From :func:`assb_lmp.sweep.plan.prepare`.
    jobs : int, optional
        Worker processes (default: all cores).
    progress : bool
        Show a tqdm bar (done, failed, running, ETA) on stderr.
    log_level : int, optional
        Logging level inside the workers (default WARNING, DEBUG when debugging).

    Returns
    -------
    list of CaseResult
        One per case run, in completion order.
    """
    jobs = max(1, int(jobs or default_jobs()))
    queue = deque(plan.todo)
    jobs = min(jobs, max(1, len(queue)))
    ctx = _start_context()
    args = (str(plan.out.resolve()), str(plan.sweep.templates) if plan.sweep.templates else
            None, plan.sweep.spec.analyze, plan.sweep.spec.figures,
            case_log_level() if log_level is None else log_level,
            process_identity(os.getpid()))
    bar = Progress(len(plan.cases), len(plan.done), len(plan.failed), progress, plan.sweep.name)
    active: dict[int, tuple[Case, Any, float, Claim]] = {}
    results: list[CaseResult] = []
    log.info("sweep %s: %d cases to run with %d worker process(es) in %s",
             plan.sweep.name, len(queue), jobs, plan.out)
    try:
        while queue or active:
            while queue and len(active) < jobs:
                case = queue.popleft()
                claim = plan.claim(case)
                if claim is None:
                    bar.skipped()
                    continue
                proc = ctx.Process(target=_child, name=f"assb-{case.id}", daemon=True,
                                   args=(case, claim, *args))
                proc.start()
                active[proc.sentinel] = (case, proc, time.perf_counter(), claim)
                bar.started()
            for sentinel in mp_connection.wait(list(active), timeout=1.0) if active else ():
                case, proc, t0, claim = active.pop(sentinel)
                proc.join()
                res = outcome(plan.out, case, proc.pid, proc.exitcode,
                              time.perf_counter() - t0, claim)
                plan.claims.release(case.id)
                results.append(res)
                bar.finished(res)
    finally:
        _stop(proc for _, proc, _, _ in active.values())
        bar.close()
    return results


def _stop(procs: Iterator[Any]) -> None:
    """Terminate worker processes, then kill those that do not end within 5 s."""
    procs = list(procs)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def outcome(out: Path, case: Case, pid: int | None, exitcode: int | None,
            seconds: float, claim: Claim | None = None) -> CaseResult:
    """What a finished worker left: a case folder, a failure record, or nothing (it died).

    A worker whose claim was taken over by another runner records nothing, and nothing is
    recorded for it.
    """
    if is_done(out, case.id):
        cpu = None
        with contextlib.suppress(AssbError, AttributeError):
            cpu = read_json(out / case.id / CASE_INFO, "a case record").get("cpu_s")
        return CaseResult(case.id, "done", seconds, cpu_s=cpu)
    rec = read_failure(out, case.id)
    if rec is not None and rec.get("spec_hash") == case.spec_hash and rec.get("pid") == pid:
        return CaseResult(case.id, "failed", seconds, rec.get("summary", ""), rec.get("cpu_s"))
    if claim is not None and not claim.is_mine():
        return CaseResult(case.id, "failed", seconds, "abandoned: another runner took it over")
    reason = f"worker process died ({_signal_name(exitcode)}) before the case finished"
    tmp = None
    for cand in sorted((out / TMP_DIR).glob(f"{case.id}.*")):
        tmp = cand
    record_failure(out, case, reason, "WorkerDied", seconds, tmp)
    return CaseResult(case.id, "failed", seconds, reason)
