"""The pre-load with real LAMMPS: the servo settles every case."""

from __future__ import annotations

from pathlib import Path

from assb_lmp.pipeline import runner
from assb_lmp.sweep.sweep import load_sweep

REPO = Path(__file__).resolve().parents[2]


def _run(spec, out: Path) -> dict:
    summary = runner.run_case(spec, out, analyze=False)
    return {s["name"]: s for s in summary["stages"]}


def test_the_quick_sweep_case_that_never_settled_now_settles(tmp_path):
    """f0p65_w18_s00 of runs/quick.yaml: one heavy AM particle alone touches the moving
    wall; the wall contact's damping answered the servo's velocity within one step and
    the servo locked into a +/- rate-cap cycle of period two (mean pressure 11 % off the
    target, 300,000 steps without converging). It settled in about 20,000 steps once the
    servo read a 10-step average."""
    case = next(c for c in load_sweep(REPO / "runs" / "quick.yaml").cases()
                if c.id == "f0p65_w18_s00")
    stages = _run(case.spec, tmp_path / "case")
    assert stages["settle"]["converged"]
    assert stages["settle"]["steps"] < 60_000
    assert stages["press"]["converged"]
