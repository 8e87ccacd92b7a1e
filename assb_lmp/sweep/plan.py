"""Preparing a sweep folder: take its lock, clear a killed run's leftovers, list the work.

Started again, a sweep skips finished cases (when their spec equals the sweep's), redoes
unfinished ones and (unless asked to retry them) skips recorded failures. The cases still
to run start longest first, by :func:`cost_estimate`.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assb_lmp.core.errors import SpecError
from assb_lmp.spec.case import CaseSpec
from assb_lmp.sweep.expand import Case, Sweep, default_out
from assb_lmp.sweep.store import (
    TMP_DIR,
    SweepLock,
    done_spec_matches,
    folder_sweep_name,
    is_done,
    read_failure,
    write_description,
)


def cost_estimate(spec: CaseSpec) -> float:
    """Relative cost of a case (particle count × compression), for longest-first order."""
    g, p = spec.geometry, spec.packing
    am_area = p.am_area_fraction * spec.reference_width_um * g.height_um
    se = max(g.width_um * g.height_um - am_area, 0.0) / p.se_diameter_um ** 2
    strain = 1.0 - spec.reference_width_um / g.width_um
    return se * (1.0 + 5.0 * strain)


@dataclass
class Plan:
    """A prepared sweep folder: which cases are done, failed and still to run."""

    sweep: Sweep
    out: Path
    cases: list[Case]
    todo: list[Case]
    done: list[str]
    failed: list[str]
    lock: SweepLock | None = None

    def release(self) -> None:
        """Drop the folder lock."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _selected(sweep: Sweep, only: Sequence[str] | None) -> list[Case]:
    cases = sweep.cases()
    if only is None:
        return cases
    want = set(only)
    missing = sorted(want - {c.id for c in cases})
    if missing:
        raise SpecError(f"{sweep.source}: no cases {missing[:5]} in this sweep")
    return [c for c in cases if c.id in want]


def _classify(sweep: Sweep, out: Path, cases: list[Case],
              retry_failed: bool) -> tuple[list[str], list[str], list[Case]]:
    """(done, failed, todo) of a folder; refuses finished cases run with other specs."""
    done, failed, todo, stale = [], [], [], []
    for c in cases:
        if is_done(out, c.id):
            (done if done_spec_matches(out, c) else stale).append(c.id)
            continue
        rec = read_failure(out, c.id)
        if rec is not None and rec.get("spec_hash") == c.spec_hash and not retry_failed:
            failed.append(c.id)
            continue
        todo.append(c)
    if stale:
        raise SpecError(
            f"{out}: {len(stale)} finished case(s) were run with other specs than "
            f"{sweep.source} gives them (e.g. {', '.join(stale[:3])}); use another --out "
            "or remove those case folders")
    order = {c.id: i for i, c in enumerate(todo)}
    todo.sort(key=lambda c: (-cost_estimate(c.spec), order[c.id]))
    return done, failed, todo


def prepare(sweep: Sweep, out: Path | None = None, *, retry_failed: bool = False,
            only: Sequence[str] | None = None) -> Plan:
    """Lock a sweep folder, clear a killed run's leftovers and list the cases to run.

    Writes ``DIR/sweep.yaml`` and ``DIR/cases.json``. A finished case is kept only when its
    spec equals the sweep's; a folder whose finished cases were run with other specs is
    refused (use another ``--out``), and so is a folder of another sweep.

    Parameters
    ----------
    sweep : Sweep
    out : Path, optional
        Sweep folder (default ``runs/<name>``).
    retry_failed : bool
        Run recorded failures again.
    only : sequence of str, optional
        Restrict the sweep to these case ids.

    Returns
    -------
    Plan
        Holding the folder lock until :meth:`Plan.release`.

    Raises
    ------
    SpecError
        Another sweep runs in the folder, or its finished cases have other specs.
    """
    out = Path(out) if out is not None else default_out(sweep)
    out.mkdir(parents=True, exist_ok=True)
    lock = SweepLock(out).acquire()
    try:
        cases = _selected(sweep, only)
        prev = folder_sweep_name(out)
        if prev and prev != sweep.name:
            raise SpecError(f"{out} holds sweep {prev!r}, not {sweep.name!r}; use another --out")
        tmp_root = out / TMP_DIR
        if tmp_root.exists():
            shutil.rmtree(tmp_root, ignore_errors=True)
        tmp_root.mkdir()
        done, failed, todo = _classify(sweep, out, cases, retry_failed)
        write_description(out, sweep)
    except BaseException:
        lock.release()
        raise
    return Plan(sweep, out, cases, todo, done, failed, lock)
