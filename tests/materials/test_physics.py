"""Derived physics of a case: contact moduli, Rayleigh time, time step, Vegard strains."""

from __future__ import annotations

import math

import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics, vegard
from assb_lmp.spec.case import DT_STABILITY_FRACTION, validate_case

CARDS = {"am": materials.get("LCO"), "se": materials.get("LGPS"), "wall": materials.get("steel")}
BASE = {
    "name": "p", "geometry": {"width_um": 50, "height_um": 40},
    "packing": {"am_area_fraction": 0.63}, "stages": [{"kind": "settle"}],
}


def _spec(**sections):
    return validate_case(BASE | sections)


def test_effective_moduli_of_lco_and_lgps_by_hand():
    """E* and G* of Komori's Table 1 (LCO 264 GPa / 0.32, LGPS 26.7 GPa / 0.37)."""
    lco, lgps = CARDS["am"], CARDS["se"]
    e_star = 1 / ((1 - 0.32**2) / 264.0 + (1 - 0.37**2) / 26.7)
    g_lco, g_lgps = 264.0 / (2 * 1.32), 26.7 / (2 * 1.37)
    g_star = 1 / ((2 - 0.32) / g_lco + (2 - 0.37) / g_lgps)
    assert physics.effective_modulus_gpa(lco, lgps) == pytest.approx(e_star, rel=1e-12)
    assert physics.effective_shear_gpa(lco, lgps) == pytest.approx(g_star, rel=1e-12)
    assert physics.effective_modulus_gpa(lgps, lco) == physics.effective_modulus_gpa(lco, lgps)
    assert 27.99 < e_star < 28.0  # the deck's 1-2 pair: E = 2 E* = 55.98 GPa


def test_like_pair_moduli_are_lammps_self_mixing():
    """For two equal cards E* = E / (2 (1 − ν²)) and G* = G / (2 (2 − ν))."""
    c = CARDS["se"]
    assert physics.effective_modulus_gpa(c, c) == pytest.approx(c.E_gpa / (2 * (1 - c.nu**2)))
    assert physics.effective_shear_gpa(c, c) == pytest.approx(c.G_gpa / (2 * (2 - c.nu)))


def test_rayleigh_time_of_a_1um_lgps_particle():
    """T_R = π r √(ρ/G) / (0.1631 ν + 0.8766), G in kPa, ρ in pg/µm³: about 0.76 ns."""
    c = CARDS["se"]
    g_kpa = c.E_gpa / (2 * (1 + c.nu)) * 1e6
    t = math.pi * 0.5 * math.sqrt(c.rho / g_kpa) / (0.1631 * c.nu + 0.8766)
    assert physics.rayleigh_time_us(0.5, c) == pytest.approx(t, rel=1e-12)
    assert 7.0e-4 < t < 8.0e-4
    assert physics.rayleigh_time_us(1.0, c) == pytest.approx(2 * t)


def test_time_step_choice_and_limit():
    spec = _spec()
    t_r = physics.critical_timestep_us(spec, CARDS)
    # the smallest AM the packing may draw (2 µm LCO) is stiffer than the 1 µm SE here
    assert t_r == pytest.approx(physics.rayleigh_time_us(1.0, CARDS["am"]))
    assert t_r < physics.rayleigh_time_us(0.5, CARDS["se"])
    assert physics.timestep_us(spec, CARDS) == pytest.approx(0.15 * t_r)
    mdr = _spec(contact={"normal": "mdr"})
    assert physics.timestep_us(mdr, CARDS) == pytest.approx(physics.MDR_DT_FACTOR * 0.15 * t_r)
    limit = physics.timestep_limit_us(spec, CARDS)
    assert limit == pytest.approx(DT_STABILITY_FRACTION * t_r)
    given = _spec(control={"timestep_us": 0.9 * limit})
    assert physics.timestep_us(given, CARDS) == 0.9 * limit
    with pytest.raises(SpecError, match="stability limit"):
        physics.timestep_us(_spec(control={"timestep_us": 1.1 * limit}), CARDS)


def test_expand_volume_strain_given_or_from_vegard():
    given = _spec(stages=[{"kind": "settle"}, {"kind": "expand", "volume_strain": 0.1}])
    assert physics.expand_volume_strain(given.stages[-1], CARDS["am"]) == 0.1
    veg = _spec(stages=[{"kind": "settle"},
                        {"kind": "expand", "vegard": {"state_of_charge": 0.5}}])
    assert physics.expand_volume_strain(veg.stages[-1], CARDS["am"]) == pytest.approx(
        vegard.volume_strain(CARDS["am"], 0.0, 0.5), rel=1e-12)
    # Si swells by about +280 %, beyond what the growth can follow (at most +300 % allowed)
    si = materials.get("Si")
    assert physics.expand_volume_strain(veg.stages[-1], si) < 3.0
    full = _spec(stages=[{"kind": "settle"}, {"kind": "expand", "vegard": {
        "state_of_charge": 1.0}}])
    assert 2.7 < physics.expand_volume_strain(full.stages[-1], si) <= 3.0


def test_damping_ratio_of_a_restitution():
    assert physics.damping_ratio(1.0) == 0.0
    ln = math.log(0.5)
    assert physics.damping_ratio(0.5) == pytest.approx(-ln / math.sqrt(math.pi**2 + ln**2))
