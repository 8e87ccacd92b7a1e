"""Run (or resume) a sweep: locally with worker processes, or on MPI rank groups."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S
from assb_lmp.sweep.expand import Sweep, default_out, load_sweep
from assb_lmp.sweep.local import default_jobs, run_local
from assb_lmp.sweep.mpi import mpi_launch_size, run_mpi
from assb_lmp.sweep.plan import prepare
from assb_lmp.sweep.report import SweepStatus, status
from assb_lmp.sweep.shard import Shard, parse_shard

log = logging.getLogger(__name__)


def run(sweep: Sweep | str | Path, out: Path | None = None, *, jobs: int | None = None,
        ranks_per_case: int = 1, mpi: bool | None = None, retry_failed: bool = False,
        progress: bool = True, only: Sequence[str] | None = None,
        shard: Shard | str | None = None,
        claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> SweepStatus | None:
    """Run (or resume) a sweep: locally with worker processes, or on MPI.

    Parameters
    ----------
    sweep : Sweep or path
    out : Path, optional
        Sweep folder (default ``runs/<name>``).
    jobs : int, optional
        Local worker processes (default: all cores). Ignored on MPI.
    ranks_per_case : int
        MPI ranks per case (default 1).
    mpi : bool, optional
        Force (True) or forbid (False) the MPI mode; default: MPI when started by an
        MPI launcher or when ``ranks_per_case > 1``.
    retry_failed : bool
        Run recorded failures again.
    progress : bool
        Progress bar on stderr.
    only : sequence of str, optional
        Run only these case ids.
    shard : Shard or "i/N", optional
        Run only part ``i`` of ``N`` of the sweep (:mod:`assb_lmp.sweep.shard`).
    claim_timeout_s : float
        Age (s) after which a claim made on another host is taken over.

    Returns
    -------
    SweepStatus or None
        The folder's status after the run (None on MPI ranks other than 0).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if isinstance(shard, str):
        shard = parse_shard(shard)
    opts = dict(retry_failed=retry_failed, only=only, shard=shard,
                claim_timeout_s=claim_timeout_s)
    out = Path(out) if out is not None else default_out(sweep)
    if mpi is None:
        mpi = mpi_launch_size() > 0 or ranks_per_case > 1
    t0 = time.perf_counter()
    if mpi:
        if jobs is not None:
            log.warning("--jobs is ignored on MPI: every rank group runs one case at a time")
        res = run_mpi(sweep, out, ranks_per_case=ranks_per_case, progress=progress, **opts)
        if res is None:
            return None
    else:
        plan = prepare(sweep, out, **opts)
        try:
            if jobs is not None and jobs > default_jobs():
                log.warning("%d jobs on %d cores: cases will share cores", jobs, default_jobs())
            res = run_local(plan, jobs, progress=progress)
        finally:
            plan.release()
    st = status(out, claim_timeout_s=claim_timeout_s)
    st.seconds = time.perf_counter() - t0
    st.ran = len(res)
    return st
