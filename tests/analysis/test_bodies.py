"""Multisphere bodies in the analysis: grouping, centre of mass, union geometry, aspect
ratio, a body across a periodic edge, and a body that mixes phases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assb_lmp.analysis import bodies


def _two_lens(r: float, s: float) -> tuple[float, float]:
    """Area and perimeter of the union of two discs of radius r at distance s < 2r."""
    theta = math.acos(s / (2.0 * r))
    lens = 2.0 * r * r * theta - 0.5 * s * math.sqrt(4.0 * r * r - s * s)
    return 2.0 * math.pi * r * r - lens, 2.0 * r * (2.0 * math.pi - 2.0 * theta)


def _case():
    """Atoms 1, 2: one AM body (mol 7) of two r = 1 spheres 1.2 µm apart, masses 1 and 3;
    atom 3: a single SE sphere (mol 0)."""
    ids = np.array([1, 2, 3])
    phase = np.array([1, 1, 2])
    radius = np.array([1.0, 1.0, 0.5])
    pos = np.array([[2.0, 5.0, 0.0], [3.2, 5.0, 0.0], [8.0, 5.0, 0.0]])
    mass = np.array([1.0, 3.0, 1.0])
    return ids, phase, radius, pos, mass, np.array([7, 7, 0])


def test_body_is_one_particle_with_exact_union_geometry():
    g = bodies.group(*_case())
    assert g.ids.tolist() == [1, 3] and g.mol.tolist() == [7, 0]
    assert g.particle_of_atom.tolist() == [0, 0, 1]
    assert g.n_spheres.tolist() == [2, 1]
    # centre of mass: (1·2.0 + 3·3.2) / 4 = 2.9
    np.testing.assert_allclose(g.pos[0], [2.9, 5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(g.rel[:2], [[-0.9, 0, 0], [0.3, 0, 0]], atol=1e-12)
    area, perimeter = _two_lens(1.0, 1.2)
    assert g.area[0] == pytest.approx(area, rel=1e-9)
    assert g.perimeter[0] == pytest.approx(perimeter, rel=1e-9)
    assert g.radius[0] == pytest.approx(math.sqrt(area / math.pi), rel=1e-9)
    # length (1.2 + 2) over width 2 along / across the axis of the two centres
    assert g.aspect_ratio[0] == pytest.approx(3.2 / 2.0, rel=1e-12)
    # the single sphere keeps a sphere's geometry
    assert g.area[1] == pytest.approx(math.pi * 0.25)
    assert g.volume3d[1] == pytest.approx(4.0 / 3.0 * math.pi * 0.125)
    assert g.surface[1] == pytest.approx(math.pi)
    assert g.aspect_ratio[1] == 1.0 and not g.rel[2].any()
    # the 3D volume of two spheres on a line lies between one sphere and two
    assert 4.0 / 3.0 * math.pi < g.volume3d[0] < 8.0 / 3.0 * math.pi


def test_body_across_a_periodic_edge():
    ids, phase, radius, pos, mass, mol = _case()
    # move the body so that its second sphere wraps to the other side of a 10 µm box
    pos[0, 0], pos[1, 0] = 9.5, 0.7  # 9.5 and 10.7 - 10
    g = bodies.group(ids, phase, radius, pos, mass, mol, (10.0, None, None),
                     box_lo=np.zeros(3))
    # centre (1·9.5 + 3·10.7) / 4 = 10.4 → wrapped into the box at 0.4
    assert g.pos[0, 0] == pytest.approx(0.4, abs=1e-12)
    np.testing.assert_allclose(g.rel[:2, 0], [-0.9, 0.3], atol=1e-12)
    assert g.area[0] == pytest.approx(_two_lens(1.0, 1.2)[0], rel=1e-9)


def test_body_mixing_phases_is_refused():
    ids, phase, radius, pos, mass, mol = _case()
    mol[2] = 7
    with pytest.raises(ValueError, match="body 7 mixes atom types"):
        bodies.group(ids, phase, radius, pos, mass, mol)
