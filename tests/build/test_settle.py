"""The pre-load with real LAMMPS: the servo settles every case, a collapsed packing settles
in fewer steps to the same press."""

from __future__ import annotations

from pathlib import Path

import pytest

from assb_lmp.core.io import read_json
from assb_lmp.materials.resolve import load_case, parse_case
from assb_lmp.pipeline import runner
from assb_lmp.sweep import load_sweep

REPO = Path(__file__).resolve().parents[2]


def _run(spec, out: Path) -> dict:
    summary = runner.run_case(spec, out, analyze=False)
    return {s["name"]: s for s in summary["stages"]}


def test_the_quick_sweep_case_that_never_settled_now_settles(tmp_path):
    """f0p65_w18_s00 of runs/quick.yaml: one heavy AM particle alone touches the moving
    wall; the wall contact's damping answered the servo's velocity within one step and
    the servo locked into a +/- rate-cap cycle of period two (mean pressure 11 % off the
    target, 300,000 steps without converging). It settled in about 20,000 steps once the
    servo read a 10-step average; with the exact AM-SE tangential stiffness (explicit
    unlike-pair coefficients) it settles in 114,650 steps, converged, well inside the
    sweep's 300,000-step cap where it used to fail."""
    case = next(c for c in load_sweep(REPO / "runs" / "quick.yaml").cases()
                if c.id == "f0p65_w18_s00")
    stages = _run(case.spec, tmp_path / "case")
    assert stages["settle"]["converged"]
    assert stages["settle"]["steps"] < 200_000
    assert stages["press"]["converged"]


def test_a_collapsed_packing_settles_in_fewer_steps_to_the_same_press(tmp_path):
    plain = load_case(REPO / "tests" / "specs" / "tiny_width.yaml")
    data = plain.model_dump(mode="json")
    data["packing"]["collapse"] = "geometric"
    collapsed = parse_case(data)
    a = _run(plain, tmp_path / "plain")
    b = _run(collapsed, tmp_path / "collapsed")
    width = read_json(tmp_path / "collapsed" / "structure.json")["collapse"]["collapsed_width_um"]
    for st in (a, b):
        assert st["settle"]["converged"] and st["press"]["converged"]
        assert st["press"]["cell_um"][0] == pytest.approx(10.5, abs=0.01)
        assert st["settle"]["pressure_mpa"]["xhi"] == pytest.approx(1.0, rel=0.05)
    assert b["settle"]["steps"] < a["settle"]["steps"]
    # the settle finds the force balance close to where the packer left the cell
    assert b["settle"]["cell_um"][0] == pytest.approx(width, rel=0.01)
