"""Preparing a sweep folder and claiming its cases one at a time.

Started again, a sweep skips finished cases (when their spec equals the sweep's), redoes
unfinished ones and (unless asked to retry them) skips recorded failures. The cases still
to run start longest first, by :func:`cost_estimate`. Nothing is cleared when a folder is
prepared: a case is claimed (:mod:`assb_lmp.sweep.claims`) just before it runs, checked
again (another runner may have finished it meanwhile), and only then are the leftovers of
an earlier, dead runner of that case removed. Several runners may so share one folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assb_lmp.core.errors import SpecError
from assb_lmp.spec.case import CaseSpec
from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S, Claim, ClaimSet, drop_stale
from assb_lmp.sweep.expand import Case, Sweep, default_out
from assb_lmp.sweep.shard import Shard
from assb_lmp.sweep.store import (
    TMP_DIR,
    clear_leftovers,
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Plan:
    """A prepared sweep folder: which cases are done, failed and still to run.

    ``cases`` are the cases of this run (its shard, its ``only``); ``elsewhere`` collects
    those that another live runner held, or finished, when this one came to them.
    """

    sweep: Sweep
    out: Path
    cases: list[Case]
    todo: list[Case]
    done: list[str]
    failed: list[str]
    claims: ClaimSet
    retry_failed: bool = False
    shard: Shard | None = None
    elsewhere: list[str] = field(default_factory=list)
    started: str = field(default_factory=_now)

    def claim(self, case: Case) -> Claim | None:
        """Claim a case to run it now; None when it is held or was finished meanwhile."""
        claim = self.claims.claim(case.id)
        if claim is None:
            self.elsewhere.append(case.id)
            return None
        if is_done(self.out, case.id) or self._failed_meanwhile(case):
            self.claims.release(case.id)
            self.elsewhere.append(case.id)
            return None
        clear_leftovers(self.out, case.id)
        return claim

    def _failed_meanwhile(self, case: Case) -> bool:
        rec = read_failure(self.out, case.id)
        if rec is None or rec.get("spec_hash") != case.spec_hash:
            return False
        return not self.retry_failed or str(rec.get("time", "")) >= self.started

    def release(self) -> None:
        """Release every claim still held."""
        self.claims.release_all()


def _selected(sweep: Sweep, only: Sequence[str] | None, shard: Shard | None) -> list[Case]:
    cases = sweep.cases()
    if shard is not None:
        cases = shard.select(cases, lambda c: cost_estimate(c.spec))
    if only is None:
        return cases
    want = set(only)
    missing = sorted(want - {c.id for c in sweep.cases()})
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
            only: Sequence[str] | None = None, shard: Shard | None = None,
            claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> Plan:
    """Describe a sweep folder and list the cases still to run.

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
    shard : Shard, optional
        Run only this part of the sweep (:mod:`assb_lmp.sweep.shard`).
    claim_timeout_s : float
        Age (s) after which a claim of another host counts as stale.

    Returns
    -------
    Plan
        Whose claims are released by :meth:`Plan.release`.

    Raises
    ------
    SpecError
        The folder holds another sweep, or finished cases with other specs.
    """
    if not claim_timeout_s >= 0:
        raise SpecError(f"claim timeout = {claim_timeout_s!r} s: allowed range >= 0")
    out = Path(out) if out is not None else default_out(sweep)
    out.mkdir(parents=True, exist_ok=True)
    cases = _selected(sweep, only, shard)
    prev = folder_sweep_name(out)
    if prev and prev != sweep.name:
        raise SpecError(f"{out} holds sweep {prev!r}, not {sweep.name!r}; use another --out")
    (out / TMP_DIR).mkdir(exist_ok=True)
    done, failed, todo = _classify(sweep, out, cases, retry_failed)
    drop_stale(out, done, claim_timeout_s)
    write_description(out, sweep)
    return Plan(sweep, out, cases, todo, done, failed, ClaimSet(out, claim_timeout_s),
                retry_failed, shard)
