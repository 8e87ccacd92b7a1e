"""Extended XYZ frames: what OVITO and the ASE GUI read back is what was written."""

from __future__ import annotations

import numpy as np
import pytest

from assb_lmp.analysis import xyz


def _frame(n=5, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 10, size=(n, 3))
    pos[:, 2] = 0.0
    phases = np.array(["AM", "SE", "SE", "AM", "SE"][:n])
    cols = {"radius_um": rng.uniform(0.5, 5, n), "stress_mpa": rng.normal(100, 30, n),
            "id": np.arange(1, n + 1)}
    box = np.array([[-1.0, 11.0], [0.0, 10.0], [-0.5, 0.5]])
    return pos, phases, box, cols


def test_round_trip(tmp_path):
    pos, phases, box, cols = _frame()
    atoms = xyz.frame_atoms(pos, phases, box, (True, False, False), cols)
    path = xyz.write_extxyz(tmp_path / "press.xyz", atoms, comment="stage press")
    back = xyz.read_extxyz(path)
    np.testing.assert_allclose(back.positions + box[:, 0], pos, atol=1e-6)
    np.testing.assert_allclose(back.arrays["radius_um"], cols["radius_um"], rtol=1e-6)
    np.testing.assert_allclose(back.arrays["stress_mpa"], cols["stress_mpa"], rtol=1e-6)
    assert back.get_chemical_symbols() == ["Co", "S", "S", "Co", "S"]
    assert list(back.pbc) == [True, False, False]
    np.testing.assert_allclose(np.diag(back.cell), [12.0, 10.0, 1.0])
    assert back.info["units"] == "um MPa"
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_bad_input_is_named():
    pos, phases, box, cols = _frame()
    with pytest.raises(ValueError, match="phases"):
        xyz.frame_atoms(pos, np.array(["AM", "XX", "SE", "AM", "SE"]), box,
                        (False,) * 3, cols)
    cols["stress_mpa"] = cols["stress_mpa"][:3]
    with pytest.raises(ValueError, match="stress_mpa"):
        xyz.frame_atoms(pos, phases, box, (False,) * 3, cols)


def test_the_analysis_writes_each_stage_frame(tiny_pressure_run):
    import csv

    from assb_lmp.analysis.case import analyze_case

    _, case_dir, _ = tiny_pressure_run
    analyze_case(case_dir, figures=False)
    for prefix in ("press/", "release/", ""):
        atoms = xyz.read_extxyz(case_dir / f"{prefix}frame.xyz")
        with open(case_dir / f"{prefix}particles.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(atoms) == len(rows)
        np.testing.assert_array_equal(atoms.arrays["id"], [int(r["id"]) for r in rows])
        np.testing.assert_allclose(atoms.arrays["stress_mpa"],
                                   [float(r["stress_mpa"]) for r in rows], rtol=1e-5, atol=1e-8)
        per_sphere = [float(r["stress_mpa_per_sphere"]) for r in rows]
        np.testing.assert_allclose(atoms.arrays["stress_mpa_per_sphere"], per_sphere,
                                   rtol=1e-5, atol=1e-8)
        assert set(atoms.get_chemical_symbols()) == {"Co", "S"}
