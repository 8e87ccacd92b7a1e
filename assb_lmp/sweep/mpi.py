"""MPI sweeps: the world split into rank groups, each running one case at a time.

Under ``mpirun`` the world is split into groups of ``ranks_per_case`` ranks
(``comm.Split``); each group runs cases on its own sub-communicator, handed out one at a
time (dynamic scheduling: cases differ in cost) by a scheduler on rank 0, whose own group
computes as well; rank 0 claims each case when it hands it out. With ``THREAD_MULTIPLE``
the scheduler is a thread; otherwise rank 0 answers requests between its own cases.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S, Claim
from assb_lmp.sweep.execute import CaseResult, Progress, execute_case
from assb_lmp.sweep.expand import Case, Sweep
from assb_lmp.sweep.local import quiet_cases
from assb_lmp.sweep.plan import Plan, prepare
from assb_lmp.sweep.shard import Shard

log = logging.getLogger(__name__)

_TAG_REQ, _TAG_CASE = 71, 72


def mpi_launch_size() -> int:
    """World size announced by an MPI launcher's environment (0 when not launched by one)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                "SLURM_NTASKS_MPI"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    if os.environ.get("PMIX_RANK") is not None:
        return 1
    return 0


Work = tuple[Case, Claim]


class _Scheduler:
    """Hands claimed cases to rank groups one at a time (rank 0); thread-safe.

    A case is claimed when it is handed out and released when its result comes back.
    """

    def __init__(self, plan: Plan, bar: Progress) -> None:
        self.plan = plan
        self.queue = deque(plan.todo)
        self.bar = bar
        self.results: list[CaseResult] = []
        self._lock = threading.Lock()

    def next(self, last: CaseResult | None) -> Work | None:
        with self._lock:
            if last is not None:
                self.plan.claims.release(last.case_id)
                self.results.append(last)
                self.bar.finished(last)
            while self.queue:
                case = self.queue.popleft()
                claim = self.plan.claim(case)
                if claim is not None:
                    break
                self.bar.skipped()
            else:
                return None
        self.bar.started()
        return case, claim


def _serve(sched: _Scheduler, comm, leaders: set[int], stop: threading.Event,
           blocking: bool) -> None:
    """Answer work requests of remote group leaders until each has been told to stop."""
    from mpi4py import MPI

    status = MPI.Status()
    while leaders and not stop.is_set():
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REQ, status=status):
            src = status.Get_source()
            last = comm.recv(source=src, tag=_TAG_REQ)
            work = sched.next(last)
            comm.send(work, dest=src, tag=_TAG_CASE)
            if work is None:
                leaders.discard(src)
        elif blocking:
            time.sleep(0.005)
        else:
            return


def _prepare_on_root(world, sweep: Sweep, out: Path | None, retry_failed: bool,
                     only: Sequence[str] | None, shard: Shard | None,
                     claim_timeout_s: float) -> tuple[Plan | None, Path]:
    """Rank 0 prepares the folder; every rank gets the cases to run or the error."""
    plan: Plan | None = None
    payload: Any = None
    failure: BaseException | None = None
    if world.Get_rank() == 0:
        try:
            plan = prepare(sweep, out, retry_failed=retry_failed, only=only, shard=shard,
                           claim_timeout_s=claim_timeout_s)
            payload = ("ok", "", str(plan.out))
        except Exception as exc:  # noqa: BLE001 - told to every rank, then raised
            failure = exc
            payload = ("error", str(exc), "")
    payload = world.bcast(payload, root=0)
    if payload[0] == "error":
        if failure is not None:
            raise failure
        raise SpecError(payload[1])
    return plan, Path(payload[2]).resolve()


class _Groups:
    """The rank groups of a world: this rank's group, the scheduling communicator."""

    def __init__(self, world, k: int, out: Path, sweep: Sweep) -> None:
        rank = world.Get_rank()
        self.k = k
        self.group = world.Split(rank // k, rank)
        self.sched_comm = world.Dup()
        self.leader = self.group.Get_rank() == 0
        self.remote = {g * k for g in range(1, world.Get_size() // k)}
        self.out = out
        self.opts = dict(templates=sweep.templates, analyze=sweep.spec.analyze,
                         figures=sweep.spec.figures)

    def run_case(self, work: Work) -> CaseResult:
        case, claim = work
        return execute_case(case, self.out, comm=self.group, claim=claim, **self.opts)

    def share(self, work: Work | None) -> Work | None:
        """The group leader's case, told to every rank of the group."""
        return self.group.bcast(work, root=0) if self.k > 1 else work

    def free(self) -> None:
        self.group.Free()
        self.sched_comm.Free()


def _root_loop(g: _Groups, sched: _Scheduler) -> None:
    """Rank 0: schedule for the remote leaders and run its own group's cases."""
    from mpi4py import MPI

    stop = threading.Event()
    threaded = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
    thread = None
    if g.remote and threaded:
        thread = threading.Thread(target=_serve, args=(sched, g.sched_comm, g.remote, stop,
                                                       True), daemon=True)
        thread.start()
    elif g.remote:
        log.warning("MPI lacks THREAD_MULTIPLE: rank 0 answers work requests only "
                    "between its own cases")
    try:
        last = None
        while True:
            if g.remote and not threaded:
                _serve(sched, g.sched_comm, g.remote, stop, blocking=False)
            work = g.share(sched.next(last))
            if work is None:
                break
            last = g.run_case(work)
        if thread is not None:
            thread.join()
        elif g.remote:
            _serve(sched, g.sched_comm, g.remote, stop, blocking=True)
    finally:
        stop.set()


def _leader_loop(g: _Groups) -> None:
    """A remote group leader: ask rank 0 for cases until told to stop."""
    last = None
    while True:
        g.sched_comm.send(last, dest=0, tag=_TAG_REQ)
        work = g.share(g.sched_comm.recv(source=0, tag=_TAG_CASE))
        if work is None:
            break
        last = g.run_case(work)


def _member_loop(g: _Groups) -> None:
    """A rank that is not a group leader: run what the leader shares."""
    while (work := g.share(None)) is not None:
        g.run_case(work)


def run_mpi(sweep: Sweep, out: Path | None = None, *, ranks_per_case: int = 1, comm=None,
            retry_failed: bool = False, progress: bool = True,
            only: Sequence[str] | None = None, shard: Shard | None = None,
            claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> list[CaseResult] | None:
    """Run a sweep on an MPI world split into groups of ``ranks_per_case`` ranks.

    Every rank calls this. Rank 0 prepares the folder and schedules cases dynamically (a
    request/answer queue served by a thread, so that rank 0's own group computes too);
    each group runs its cases on its own sub-communicator. With ``ranks_per_case = 1``
    every case runs serially, so results equal a local run's.

    Returns
    -------
    list of CaseResult or None
        On rank 0 the results of the cases run; None elsewhere.

    Raises
    ------
    SpecError
        On every rank, when the world size is not a multiple of ``ranks_per_case`` or the
        folder cannot be prepared.
    """
    from mpi4py import MPI

    world = comm if comm is not None else MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    k = int(ranks_per_case)
    if k < 1 or size % k:
        raise SpecError(f"--ranks-per-case = {k}: must divide the number of MPI ranks ({size}); "
                        f"allowed values: {[d for d in range(1, size + 1) if size % d == 0]}")
    plan, out_path = _prepare_on_root(world, sweep, out, retry_failed, only, shard,
                                      claim_timeout_s)
    g = _Groups(world, k, out_path, sweep)
    results: list[CaseResult] = []
    try:
        with quiet_cases():
            if plan is not None:
                bar = Progress(len(plan.cases), len(plan.done), len(plan.failed), progress,
                               sweep.name)
                sched = _Scheduler(plan, bar)
                try:
                    _root_loop(g, sched)
                finally:
                    bar.close()
                results = sched.results
            elif g.leader:
                _leader_loop(g)
            else:
                _member_loop(g)
            world.Barrier()
    finally:
        g.free()
        if plan is not None:
            plan.release()
    return results if rank == 0 else None
