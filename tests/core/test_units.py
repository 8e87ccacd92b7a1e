"""Unit conversions between the named units of specs and LAMMPS ``units micro``."""

from __future__ import annotations

import pytest

from assb_lmp.core import units


def test_moduli_and_pressures_to_kpa():
    assert units.gpa_to_kpa(264.0) == 2.64e8  # E(LCO) in the deck
    assert units.mpa_to_kpa(500.0) == 5.0e5
    assert units.kpa_to_mpa(units.mpa_to_kpa(25.0)) == 25.0
    assert units.KPA_PER_GPA == 1000 * units.KPA_PER_MPA


def test_micro_units_are_consistent():
    """kPa = pg/(µm µs²): 1 pg = 1e-15 kg, 1 µm = 1e-6 m, 1 µs = 1e-6 s."""
    pa_per_micro_pressure = 1e-15 / (1e-6 * 1e-12)
    assert pa_per_micro_pressure == pytest.approx(1e3)  # one micro pressure unit = 1 kPa
    assert units.gpa_to_kpa(1.0) * pa_per_micro_pressure == pytest.approx(1e9)
    # density: pg/µm³ = 1e-15 kg / 1e-18 m³ = 1000 kg/m³ = 1 g/cm³
    assert units.g_cm3_to_micro(4.72) == 4.72


def test_surface_energy_to_micro():
    """J/m² = 1e15 fJ / 1e12 µm² = 1000 fJ/µm²."""
    assert units.j_m2_to_micro(0.5) == pytest.approx(500.0)
