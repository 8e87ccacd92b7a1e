"""One case end to end: the summary agrees with the dumps it was made from, and a run whose
stages do not converge leaves error.json instead of summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.analysis import dumps
from assb_lmp.core.errors import EngineError
from assb_lmp.materials.resolve import load_case
from assb_lmp.pipeline import runner

SPECS = Path(__file__).parents[1] / "specs"


def _energy_and_overlap(case_dir: Path, stage: str) -> tuple[float, float]:
    """Σ 2/5 F δ and the largest δ/d of a stage, straight from the raw dumps (pairs by
    atom radius; walls from the wall-force columns and the wall positions of cell.json)."""
    p = dumps.stage_paths(case_dir, stage)
    atoms, cont = dumps.read_last_frame(p["atoms"]), dumps.read_last_frame(p["contacts"])
    cell = dumps.read_cell(p["cell"])
    r = dict(zip(atoms["id"].tolist(), atoms["radius"].tolist(), strict=True))
    r1 = np.array([r[i] for i in cont["id1"].tolist()])
    r2 = np.array([r[i] for i in cont["id2"].tolist()])
    delta = r1 + r2 - cont["dist"]
    touching = delta > 0
    energy = float(np.sum(0.4 * np.clip(cont["fn"], 0, None)[touching] * delta[touching]))
    ratio = list(delta[touching] / (2 * np.minimum(r1, r2)[touching]))
    for wall, (ax, sign) in {"xlo": ("x", 1), "xhi": ("x", -1), "ylo": ("y", 1),
                             "yhi": ("y", -1)}.items():
        col = f"wall_{wall}_f{ax}"
        if col not in atoms:
            continue
        fn = sign * atoms[col]
        hit = np.nonzero(fn != 0)[0]
        ov = atoms["radius"][hit] - sign * (atoms[ax][hit] - cell[f"{wall}_um"])
        energy += float(np.sum(0.4 * np.clip(fn[hit], 0, None) * np.clip(ov, 0, None)))
        ratio += list(ov / (2 * atoms["radius"][hit]))
    return energy, max(ratio)


def test_summary_agrees_with_the_dumps(tiny_pressure_run):
    spec, out, summary = tiny_pressure_run
    assert json.loads((out / runner.SUMMARY).read_text()) == json.loads(
        json.dumps(summary, default=float))
    assert summary["status"] == "complete" and not (out / runner.ERROR).exists()
    assert [s["name"] for s in summary["stages"]] == [s.name for s in spec.stages]
    for st in summary["stages"]:
        energy, ratio = _energy_and_overlap(out, st["name"])
        assert st["elastic_energy_fj"] == pytest.approx(energy, rel=1e-12)
        assert st["max_overlap_fraction"] == pytest.approx(ratio, rel=1e-12)
        assert st["ke_to_elastic"] == pytest.approx(st["kinetic_energy_fj"] / energy)
        cell = dumps.read_cell(dumps.stage_paths(out, st["name"])["cell"])
        assert st["pressure_mpa"] == {k[2:-4]: v for k, v in cell.items()
                                      if k.startswith("p_") and k.endswith("_mpa")}
        assert st["converged"] and st["steps"] > 0


def test_unconverged_run_leaves_error_json(tmp_path):
    spec = load_case(SPECS / "tiny_pressure.yaml")
    spec = spec.model_copy(update={"control": spec.control.model_copy(
        update={"max_steps_per_stage": 100})})
    with pytest.raises(EngineError, match="did not reach their target within 100 steps"):
        runner.run_case(spec, tmp_path / "c", analyze=False)
    error = json.loads((tmp_path / "c" / runner.ERROR).read_text())
    assert error["status"] == "failed" and error["stage"] == "summary"
    assert not (tmp_path / "c" / runner.SUMMARY).exists()
