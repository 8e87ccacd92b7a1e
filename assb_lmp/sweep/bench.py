"""Sweep throughput: cases per hour with 1 and 2 workers, and the paper sweep projected."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core import resources
from assb_lmp.sweep.expand import Sweep, load_sweep
from assb_lmp.sweep.local import default_jobs, run_local
from assb_lmp.sweep.plan import cost_estimate, prepare

log = logging.getLogger(__name__)


def _spread(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items evenly spread over a sequence (first and last included)."""
    if n >= len(items):
        return list(items)
    if n == 1:
        return [items[0]]
    idx = sorted({int(round(i * (len(items) - 1) / (n - 1))) for i in range(n)})
    return [items[i] for i in idx]


@contextlib.contextmanager
def _tmpdir(base: Path | None) -> Iterator[Path]:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        yield base
    else:
        with tempfile.TemporaryDirectory(prefix="assb_bench_") as d:
            yield Path(d)


def _timed_local(sweep: Sweep, out: Path, ids: Sequence[str], jobs: int) -> dict[str, Any]:
    plan = prepare(sweep, out, only=ids)
    try:
        t0 = time.perf_counter()
        res = run_local(plan, jobs, progress=False)
        wall = time.perf_counter() - t0
    finally:
        plan.release()
    failed = [r.case_id for r in res if r.status != "done"]
    per_case = [r.seconds for r in res]
    cpu = [r.cpu_s for r in res if r.cpu_s is not None]
    return {"jobs": jobs, "cases": len(res), "failed": failed, "wall_s": wall,
            "cases_per_hour": 3600.0 * len(res) / wall if wall > 0 else None,
            "mean_case_s": float(np.mean(per_case)) if per_case else None,
            "mean_case_cpu_s": float(np.mean(cpu)) if cpu else None,
            "case_s": {r.case_id: round(r.seconds, 2) for r in res}}


def bench_sweep(quick: str | Path | None = None, *, n_cases: int = 8,
                workers: Sequence[int] = (1, 2), paper: str | Path | None = None,
                paper_cases: int = 4, out: Path | None = None) -> dict[str, Any]:
    """Measure sweep throughput (cases per hour) and project the paper sweep's wall time.

    Runs the same ``n_cases`` cases of the quick sweep once per worker count in
    ``workers``, then ``paper_cases`` cases spread over the paper sweep's grid with
    ``max(workers)`` workers at once, and projects the full paper sweep from their mean
    time per case under that load.

    Parameters
    ----------
    quick : path, optional
        The small sweep (default ``runs/quick.yaml``).
    n_cases : int
        Cases of it to time per worker count (spread over its grid).
    workers : sequence of int
        Worker counts to compare (default 1 and 2).
    paper : path, optional
        The paper sweep (default ``runs/komori2022.yaml``); ``paper_cases = 0`` skips it.
    paper_cases : int
        Cases of it to time.
    out : Path, optional
        Folder for the runs (default: a temporary folder, removed afterwards).

    Returns
    -------
    dict
        ``quick`` (per worker count: wall s, cases/hour, mean s per case), ``speedup``
        (cases/hour of the largest over the smallest worker count), ``paper`` (mean s per
        case, cases run, projected hours of the whole sweep with ``max(workers)``
        workers, and core-hours), ``machine`` (cores, load averages before and after:
        other work on the machine skews the timings).
    """
    quick_sweep = load_sweep(quick or resources.example("quick"))
    ids = [c.id for c in _spread(quick_sweep.cases(), n_cases)]
    result: dict[str, Any] = {
        "machine": {"cores": default_jobs(), "host": socket.gethostname(),
                    "python": sys.version.split()[0], "load_before": _load()},
        "quick": {"sweep": quick_sweep.name, "cases": ids, "runs": []},
    }
    with _tmpdir(out) as base:
        for w in workers:
            r = _timed_local(quick_sweep, base / f"quick_w{w}", ids, w)
            log.info("bench: %d worker(s): %d cases in %.1f s = %.0f cases/h", w, r["cases"],
                     r["wall_s"], r["cases_per_hour"] or 0)
            result["quick"]["runs"].append(r)
        runs = result["quick"]["runs"]
        if len(runs) >= 2 and runs[0]["cases_per_hour"]:
            result["speedup"] = runs[-1]["cases_per_hour"] / runs[0]["cases_per_hour"]
            result["speedup_workers"] = [runs[0]["jobs"], runs[-1]["jobs"]]
        if paper_cases > 0:
            paper_sweep = load_sweep(paper or resources.example("komori2022"))
            all_cases = paper_sweep.cases()
            ordered = sorted(all_cases, key=lambda c: cost_estimate(c.spec))
            pick = [c.id for c in _spread(ordered, paper_cases)]
            w = max(workers)
            r = _timed_local(paper_sweep, base / "paper", pick, w)
            n = len(all_cases)
            mean = r["mean_case_s"]
            result["paper"] = {
                "sweep": paper_sweep.name, "cases": pick, "total_cases": n, "workers": w,
                **{k: r[k] for k in ("wall_s", "mean_case_s", "failed", "case_s")},
                "projected_hours": n * mean / w / 3600.0 if mean else None,
                "core_hours": n * mean / 3600.0 if mean else None,
            }
    result["machine"]["load_after"] = _load()
    return result


def _load() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews the timings)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None
