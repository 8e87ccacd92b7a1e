"""Geometric collapse to the pre-load (packing.collapse: geometric) and its relaxation core."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.build import deck, packing, softpack
from assb_lmp.build.collapse import collapse_cell
from assb_lmp.build.render import number
from assb_lmp.core.units import gpa_to_kpa
from assb_lmp.materials import cards as materials
from assb_lmp.materials.physics import effective_modulus_gpa
from assb_lmp.materials.resolve import load_case, parse_case

SPECS = Path(__file__).resolve().parents[1] / "specs"


def _collapsed(name: str = "tiny_width.yaml", **packing_kw):
    data = load_case(SPECS / name).model_dump(mode="json")
    data["packing"].update(collapse="geometric", **packing_kw)
    return parse_case(data)


def test_two_overlapping_discs_are_pushed_to_contact():
    pos = np.array([[5.0, 5.0], [5.8, 5.0]])
    rad = np.array([0.5, 0.5])
    res = softpack.relax(pos, rad, softpack.Cell(np.array([10.0, 10.0]), (False, False)),
                         overlap_tol=1e-6)
    gap = np.linalg.norm(res.positions[1] - res.positions[0]) - 1.0
    assert res.converged and -1e-6 <= gap < 0.05
    assert np.allclose(res.positions.mean(axis=0), [5.4, 5.0], atol=1e-9)  # no net drift


def test_reduced_hertz_force_is_the_engines_hertz_force():
    """K f_reduced = 4/3 E* √R* δ^{3/2} for an LCO–LGPS pair and an LGPS–wall contact."""
    am, se, wall = (materials.get(n) for n in ("LCO", "LGPS", "steel"))
    e_ref = effective_modulus_gpa(se, se)
    c = {k: (1 - m.nu**2) / m.E_gpa * e_ref for k, m in (("am", am), ("se", se), ("w", wall))}
    rad = np.array([5.0, 0.5, 0.5])
    law, unit = softpack.hertz_law(rad, gpa_to_kpa(e_ref), np.array([c["am"], c["se"], c["se"]]),
                                   c["w"])
    delta = 0.004
    cases = [(5.0 * 0.5 / 5.5, c["am"] + c["se"], effective_modulus_gpa(am, se)),  # pair
             (0.5, c["se"] + c["w"], effective_modulus_gpa(se, wall))]          # wall: R* = r
    for r_star, compliance, e_star in cases:
        k = math.sqrt(r_star / law.r_ref) / compliance
        f = unit * float(law.force(np.array([k]), np.array([delta]))[0])
        assert f == pytest.approx(4 / 3 * gpa_to_kpa(e_star) * math.sqrt(r_star) * delta**1.5,
                                  rel=1e-12)


def test_barostat_reaches_the_target_stress_and_it_is_the_wall_pressure():
    rng = np.random.default_rng(0)
    n = 150
    rad = rng.uniform(0.4, 0.6, n)
    pos = np.column_stack([rng.uniform(0.6, 29.4, n), rng.uniform(0.6, 9.4, n)])
    cell = softpack.Cell(np.array([30.0, 10.0]), (False, False))
    free = softpack.relax(pos, rad, cell, overlap_tol=1e-6, max_iter=20000)
    res = softpack.relax(free.positions, rad, cell, stress=1e-3, max_iter=20000,
                         creep_tol=1e-5)
    assert res.converged and res.stress == pytest.approx(1e-3, rel=0.05)
    assert res.lengths[0] < 30.0 and res.lengths[1] == 10.0
    # force on the moving wall over its height: the same stress, from the contacts there
    x, w = res.positions[:, 0], res.lengths[0]
    k = np.sqrt(rad / np.median(rad))
    wall_force = float(np.sum(k * np.maximum(rad - (w - x), 0.0)))
    assert wall_force / 10.0 == pytest.approx(res.stress, rel=0.05)


def test_collapse_keeps_the_material_and_narrows_the_cell_to_the_preload():
    plain = packing.generate(load_case(SPECS / "tiny_width.yaml"))
    spec = _collapsed()
    s = packing.generate(spec)
    assert np.array_equal(s.types, plain.types) and np.array_equal(s.diameters, plain.diameters)
    c = s.info["collapse"]
    assert c["converged"] and c["pressure_reached_mpa"] == pytest.approx(1.0, rel=0.05)
    assert 10.5 < s.width == c["collapsed_width_um"] < plain.width == 13.0
    assert c["max_overlap_um"] < 0.02 * 1.0  # a few 0.1 % of the SE diameter
    r = 0.5 * s.diameters
    assert np.all(s.positions[:, 0] + r <= s.width + c["max_overlap_um"] + 1e-12)
    again = packing.generate(spec)
    assert np.array_equal(again.positions, s.positions) and again.width == s.width


def test_collapse_info_and_periodic_cell():
    spec = _collapsed("tiny_periodic.yaml")
    s = packing.generate(spec)
    assert s.periodic and s.width < spec.geometry.width_um
    assert s.info["collapse"]["initial_width_um"] == spec.geometry.width_um


def test_the_deck_starts_the_moving_wall_at_the_collapsed_width():
    spec = _collapsed()
    d = deck.build(spec)
    w = d.structure.width
    assert d.context.width == w < spec.geometry.width_um
    assert f"create_atoms    3 single {number(w)} " in d.text


def test_collapse_cell_records_a_3d_collapse_along_z():
    spec = _collapsed("tiny_3d.yaml")
    s = packing.generate(spec)
    assert s.width < spec.geometry.width_um
    assert s.info["collapse"]["converged"]
    assert collapse_cell.__doc__  # the physics note lives with the function
