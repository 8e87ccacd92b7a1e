"""The quasi-static controller of a deck, run end to end on a tiny case (real LAMMPS):
pressure targets reached and held, and the virial sum equal to the wall traction."""

from __future__ import annotations

import numpy as np
import pytest

from assb_lmp.analysis import dumps


def test_pressure_mode_press_and_release_reach_targets(tiny_pressure_run):
    """Press reaches its target within 2 %, release holds the stack pressure within 5 %."""
    spec, _, summary = tiny_pressure_run
    stages = {s["name"]: s for s in summary["stages"]}
    assert summary["status"] == "complete"
    assert all(s["converged"] for s in summary["stages"])
    assert stages["press"]["pressure_mpa"]["xhi"] == pytest.approx(100.0, rel=0.02)
    assert stages["release"]["pressure_mpa"]["xhi"] == pytest.approx(10.0, rel=0.05)
    assert stages["settle"]["pressure_mpa"]["xhi"] == pytest.approx(1.0, rel=0.02)
    # the press compacted the cell and the release let it spring back
    assert stages["press"]["cell_um"][0] < stages["settle"]["cell_um"][0]
    assert stages["release"]["cell_um"][0] > stages["press"]["cell_um"][0]
    for s in summary["stages"]:
        assert s["ke_to_elastic"] < 0.05


def test_virial_sum_matches_wall_pressure(tiny_pressure_run):
    """Sum of per-atom pair virial (+ wall-contact branch terms) = P_wall x cell volume, 3 %.

    At static equilibrium, sum_contacts f (x) branch = sum_walls x_contact f = the traction of
    each wall times the cell size; the pair part is LAMMPS's per-atom virial.
    """
    spec, case_dir, summary = tiny_pressure_run
    for stage in ("press", "release"):
        paths = dumps.stage_paths(case_dir, stage)
        cell = dumps.read_cell(paths["cell"])
        atoms = dumps.read_last_frame(paths["atoms"])
        t = spec.depth_um
        lx = cell["xhi_um"] - cell["xlo_um"]
        ly = cell["yhi_um"] - cell["ylo_um"]
        # Love-Weber: sum_p sigma_p V_p = sum_contacts f (x) (contact point - centre).
        # Pair part: -sum_pairs r_ij f_ij = the sum of LAMMPS's stress/atom (S = -virial).
        s_xx = float(np.sum(atoms["virial_xx"]))
        s_yy = float(np.sum(atoms["virial_yy"]))
        # wall contacts: branch from the centre to the contact point on the wall plane
        for wall, axis, pos in (("xlo", "x", cell["xlo_um"]), ("xhi", "x", cell["xhi_um"])):
            f = atoms[f"wall_{wall}_fx"]
            s_xx += float(np.sum((pos - atoms[axis]) * f))
        for wall, axis, pos in (("ylo", "y", cell["ylo_um"]), ("yhi", "y", cell["yhi_um"])):
            f = atoms[f"wall_{wall}_fy"]
            s_yy += float(np.sum((pos - atoms[axis]) * f))
        # every axis: the boundary moment sum_c x_c f over all wall contacts (friction of the
        # walls included) equals the Love-Weber sum at static equilibrium
        x, y = atoms["x"], atoms["y"]
        moment_xx = float(np.sum(cell["xhi_um"] * atoms["wall_xhi_fx"]
                                 + cell["xlo_um"] * atoms["wall_xlo_fx"]
                                 + x * (atoms["wall_ylo_fx"] + atoms["wall_yhi_fx"])))
        moment_yy = float(np.sum(cell["yhi_um"] * atoms["wall_yhi_fy"]
                                 + cell["ylo_um"] * atoms["wall_ylo_fy"]
                                 + y * (atoms["wall_xlo_fy"] + atoms["wall_xhi_fy"])))
        assert s_xx == pytest.approx(moment_xx, rel=0.03), stage
        assert s_yy == pytest.approx(moment_yy, rel=0.03), stage
        if stage == "press":
            # at the press the lateral-wall friction is a small share: the press-axis stress
            # times the volume equals the mean wall pressure times the volume
            p_x = 0.5 * (cell["p_xlo_mpa"] + cell["p_xhi_mpa"]) * 1000.0
            assert -s_xx == pytest.approx(p_x * lx * ly * t, rel=0.03), stage
