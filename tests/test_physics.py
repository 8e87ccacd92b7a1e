"""Physics of the decks against closed-form results, with real LAMMPS on tiny systems.

Contact parameters come from the same functions that write the decks
(:func:`assb_lmp.build.deck.pair_model`, :func:`assb_lmp.build.deck.wall_model`), so these
tests check what the toolkit actually runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from assb_lmp.analysis import dumps
from assb_lmp.build import deck
from assb_lmp.engines import lammps as engine
from assb_lmp.materials import cards as materials
from assb_lmp.materials.cards import effective_modulus_gpa
from assb_lmp.spec.case import CaseSpec


def _spec(**contact) -> CaseSpec:
    return CaseSpec.model_validate({
        "name": "t", "geometry": {"width_um": 20, "height_um": 20},
        "packing": {"am_area_fraction": 0.3}, "stages": [{"kind": "settle"}],
        "contact": contact,
    })


def _lmp():
    return engine.open_lammps("none")


def _hertz(e_star_gpa: float, r_star: float, delta: float) -> float:
    """4/3 E* sqrt(R*) delta^1.5 in nN (E* GPa -> kPa, lengths µm)."""
    return 4.0 / 3.0 * e_star_gpa * 1e6 * math.sqrt(r_star) * delta**1.5


BASE = """
units micro
dimension 3
atom_style sphere 1
atom_modify map array
newton off
comm_modify vel yes
boundary f f f
region box block -20 20 -20 20 -20 20
create_box 3 box
timestep 1e-5
"""


@pytest.mark.parametrize("pair", [("LCO", "LGPS"), ("LGPS", "LGPS"), ("LCO", "LCO")])
def test_hertz_pair_force_matches_closed_form(pair):
    """Two spheres pressed slowly together: F = 4/3 E* sqrt(R*) delta^1.5 within 1 %."""
    spec = _spec()
    a, b = materials.get(pair[0]), materials.get(pair[1])
    r1, r2 = 2.0, 0.5
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single 0 0 0
create_atoms 2 single {r1 + r2} 0 0
set atom 1 diameter {2 * r1} density {a.rho}
set atom 2 diameter {2 * r2} density {b.rho}
pair_style granular
pair_coeff 1 1 {deck.pair_model(spec, a)}
pair_coeff 2 2 {deck.pair_model(spec, b)}
pair_coeff 3 3 {deck.pair_model(spec, b)}
group one id 1
group two id 2
fix hold one setforce 0 0 0
fix push two move linear -0.02 0 0
fix nve one nve/sphere
run 0
""")
        e_star = effective_modulus_gpa(a, b)
        r_star = r1 * r2 / (r1 + r2)
        for _ in range(5):
            lmp.command("run 10000")
            pos = lmp.numpy.extract_atom("x")
            f = lmp.numpy.extract_atom("f")
            ids = lmp.numpy.extract_atom("id")
            i1, i2 = int(np.where(ids == 1)[0][0]), int(np.where(ids == 2)[0][0])
            delta = r1 + r2 - float(np.linalg.norm(pos[i2] - pos[i1]))
            # repulsive force on the pushed sphere (+x; setforce zeroes the fixed one's)
            fx = float(f[i2][0])
            expected = _hertz(e_star, r_star, delta)
            assert delta > 0
            assert fx == pytest.approx(expected, rel=0.01), (pair, delta)
    finally:
        lmp.close()


@pytest.mark.parametrize("card", ["LCO", "LGPS"])
def test_hertz_wall_force_uses_particle_and_wall_cards(card):
    """Sphere against a wall/gran plane: E* from the particle card and the wall card."""
    spec = _spec()
    c, w = materials.get(card), materials.get("steel")
    r = 1.0
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single {r} 0 0
set atom 1 diameter {2 * r} density {c.rho}
pair_style granular
pair_coeff * * {deck.pair_model(spec, c)}
fix wall all wall/gran granular {deck.wall_model(spec, c, w)} xplane 0.0 NULL
fix push all move linear -0.02 0 0
run 0
""")
        e_star = effective_modulus_gpa(c, w)
        for _ in range(4):
            lmp.command("run 10000")
            x = float(lmp.numpy.extract_atom("x")[0][0])
            fx = float(lmp.numpy.extract_atom("f")[0][0])
            delta = r - x
            assert delta > 0
            assert fx == pytest.approx(_hertz(e_star, r, delta), rel=0.01)
    finally:
        lmp.close()


def test_coefficient_of_restitution_head_on():
    """Head-on collision with coeff_restitution damping e = 0.8 rebounds with e +- 0.01."""
    spec = _spec(damping="coeff_restitution", restitution=0.8, friction=0.0)
    c = materials.get("LGPS")
    v0 = 0.5  # µm/µs
    lmp = _lmp()
    try:
        lmp.commands_string(BASE + f"""
create_atoms 1 single -0.6 0 0
create_atoms 1 single 0.6 0 0
set type 1 diameter 1.0 density {c.rho}
pair_style granular
pair_coeff * * {deck.pair_model(spec, c)}
velocity all set 0 0 0
set atom 1 vx {v0}
set atom 2 vx {-v0}
fix nve all nve/sphere
timestep 2e-5
run 20000
""")
        v = lmp.numpy.extract_atom("v")
        ids = lmp.numpy.extract_atom("id")
        v1 = float(v[np.where(ids == 1)[0][0]][0])
        v2 = float(v[np.where(ids == 2)[0][0]][0])
        e = (v2 - v1) / (2 * v0)
        assert e == pytest.approx(0.8, abs=0.01)
    finally:
        lmp.close()


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
