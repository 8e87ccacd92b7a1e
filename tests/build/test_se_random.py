"""Random polydisperse SE packing: reproducible, overlap-free, on target, fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assb_lmp.build import datafile, packing
from assb_lmp.core.errors import PackingError, SpecError
from assb_lmp.materials.physics import critical_timestep_us, rayleigh_time_us
from assb_lmp.materials.resolve import case_cards, parse_case
from assb_lmp.spec.case import CaseSpec, se_diameter_bounds_um


def _spec(fraction=0.55, width=50.0, seed=1, boundary="walls", dimension=2, height=40.0,
          **packing_kw) -> CaseSpec:
    pk = {"am_area_fraction": fraction, "se_packing": "random", **packing_kw}
    geo = {"width_um": width, "height_um": height, "boundary": boundary}
    if dimension == 3:
        geo.update(dimension=3, height_um=12, depth_um=12)
        pk.setdefault("am_diameter_mean_um", 4.0)
        pk.setdefault("am_diameter_sd_um", 0.3)
    return CaseSpec.model_validate({
        "name": "r", "seed": seed, "geometry": geo, "packing": pk,
        "stages": [{"kind": "press", "mode": "width", "final_width_um": 0.8 * width}],
    })


def _gaps(s: packing.Structure, periodic_axes: tuple[bool, ...]) -> np.ndarray:
    dim = 3 if s.info.get("dimension") == 3 else 2
    p, r = s.positions[:, :dim], 0.5 * s.diameters
    lengths = ([s.height, s.depth, s.width] if dim == 3 else [s.width, s.height])
    d = p[:, None, :] - p[None, :, :]
    for a, per in enumerate(periodic_axes):
        if per:
            d[..., a] -= lengths[a] * np.round(d[..., a] / lengths[a])
    dist = np.sqrt((d**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    return dist - r[:, None] - r[None, :]


def test_same_seed_same_structure_bit_for_bit():
    spec = _spec(se_diameter_sd_um=0.2, se_fill_fraction=0.7)
    a, b = packing.generate(spec), packing.generate(spec)
    dens = {1: 4.72, 2: 1.99, 3: 1.0}
    assert datafile.data_text(a, dens) == datafile.data_text(b, dens)
    assert "collective rearrangement" in a.info["se_densify"]
    c = packing.generate(spec, seed=2)
    assert not np.array_equal(a.positions, c.positions)


@pytest.mark.parametrize("dist", ["normal", "lognormal"])
def test_fill_sizes_and_no_overlap(dist):
    spec = _spec(se_diameter_sd_um=0.25, se_size_distribution=dist, se_fill_fraction=0.7)
    s = packing.generate(spec)
    se = s.types == packing.TYPE_SE
    d = s.diameters[se]
    lo, hi = se_diameter_bounds_um(spec.packing)
    assert d.min() >= lo and d.max() <= hi
    assert np.mean(d) == pytest.approx(1.0, abs=0.03)
    assert np.std(d) == pytest.approx(0.25, abs=0.03)
    free = 50 * 40 - s.info["am_area_um2"]
    assert np.sum(np.pi / 4 * d**2) / free == pytest.approx(0.7, abs=0.002)
    tol = 1e-3 * d.min()  # the rearrangement's overlap tolerance
    assert _gaps(s, (False, False)).min() >= -tol
    r = 0.5 * s.diameters
    x, y = s.positions[:, 0], s.positions[:, 1]
    assert np.all(x - r >= -tol) and np.all(x + r <= 50 + tol)
    assert np.all(y - r >= -tol) and np.all(y + r <= 40 + tol)


def test_periodic_random_packing_has_no_overlap_across_the_boundary():
    s = packing.generate(_spec(boundary="periodic", se_fill_fraction=0.65,
                               se_diameter_sd_um=0.2))
    tol = 1e-3 * s.diameters[s.types == packing.TYPE_SE].min()
    assert _gaps(s, (True, True)).min() >= -tol


def test_3d_random_packing():
    spec = _spec(width=14.0, dimension=3, fraction=0.3, se_fill_fraction=0.5,
                 se_diameter_sd_um=0.15)
    s = packing.generate(spec)
    assert s.n_se > 500
    tol = 1e-3 * s.diameters[s.types == packing.TYPE_SE].min()
    assert _gaps(s, (True, True, False)).min() >= -tol
    z, r = s.positions[:, 2], 0.5 * s.diameters
    assert np.all(z - r >= -1e-3) and np.all(z + r <= 14.0 + 1e-3)
    assert s.info["se_fill_reached"] == pytest.approx(0.5, abs=0.01)


def test_a_thousand_discs_in_a_40_um_cell_pack_in_seconds():
    spec = _spec(fraction=0.05, width=40.0, se_fill_fraction=0.52, se_diameter_sd_um=0.1)
    t0 = time.process_time()
    s = packing.generate(spec)
    elapsed = time.process_time() - t0
    assert 900 <= s.n_se <= 1100
    assert elapsed < 5.0  # CPU seconds; measured 0.3-0.8 s


def test_a_fill_the_free_space_cannot_hold_is_an_error():
    # AM 0.6 of the initial cell, SE 0.8 of the rest: a solid fraction of 0.92
    spec = _spec(fraction=0.75, width=20.0, height=16.0, seed=3, se_fill_fraction=0.8,
                 am_diameter_mean_um=4.0, am_diameter_sd_um=0.2)
    with pytest.raises(PackingError, match="se_fill_fraction"):
        packing.generate(spec)


@pytest.mark.parametrize("packing_kw, message", [
    ({"se_diameter_sd_um": 0.2}, "se_packing: random only"),
    ({"se_fill_fraction": 0.7}, "se_packing: random only"),
    ({"se_packing": "random", "se_lattice": "hex"}, "lattice only"),
    ({"collapse": "geometric", "am_shape": {"kind": "ellipse", "aspect_ratio": 1.5}},
     "round AM"),
])
def test_options_that_do_not_apply_are_rejected(packing_kw, message):
    data = {"name": "x", "geometry": {"width_um": 50, "height_um": 40},
            "packing": {"am_area_fraction": 0.5, **packing_kw},
            "stages": [{"kind": "settle"}]}
    with pytest.raises(SpecError, match=message):
        parse_case(data)


def test_the_time_step_follows_the_smallest_se_particle():
    mono = _spec()
    poly = _spec(se_diameter_sd_um=0.25)
    lo = se_diameter_bounds_um(poly.packing)[0]
    assert lo == pytest.approx(0.5)  # mean − 3 SD = 0.25 µm is cut at half the mean
    cards = case_cards(poly)
    assert critical_timestep_us(poly, cards) == pytest.approx(
        rayleigh_time_us(0.5 * lo, cards["se"]))
    assert critical_timestep_us(poly, cards) < critical_timestep_us(mono, case_cards(mono))
