"""Unit conversion between user-facing named units and LAMMPS ``units micro``.

LAMMPS ``units micro``: length µm, mass pg, time µs, force pN·... precisely:
force = pg·µm/µs² = 1e-9 N (nN), pressure = pg/(µm·µs²) = 1e3 Pa (kPa),
energy = pg·µm²/µs² = 1e-15 J (fJ), density pg/µm³ = g/cm³.

All conversions of the toolkit happen here, nowhere else.
"""

from __future__ import annotations

#: kPa (LAMMPS micro pressure) per GPa.
KPA_PER_GPA = 1.0e6
#: kPa per MPa.
KPA_PER_MPA = 1.0e3


def gpa_to_kpa(value_gpa: float) -> float:
    """Convert a modulus or stress from GPa to LAMMPS micro pressure (kPa)."""
    return value_gpa * KPA_PER_GPA


def mpa_to_kpa(value_mpa: float) -> float:
    """Convert a pressure from MPa to LAMMPS micro pressure (kPa)."""
    return value_mpa * KPA_PER_MPA


def kpa_to_mpa(value_kpa: float) -> float:
    """Convert a LAMMPS micro pressure (kPa) to MPa."""
    return value_kpa / KPA_PER_MPA


def g_cm3_to_micro(value: float) -> float:
    """Density in g/cm³ to LAMMPS micro density (pg/µm³); numerically equal."""
    return value


def j_m2_to_micro(value_j_m2: float) -> float:
    """Surface energy from J/m² to LAMMPS micro energy per area (fJ/µm² = 1e-3 J/m²)."""
    return value_j_m2 * 1.0e3
