"""Hertz contact quantities: effective moduli, contact radii (Komori eq. 15).

* ``R* = R_i R_j / (R_i + R_j)`` (wall: ``R* = R_i``),
  ``1/E* = (1 − ν_i²)/E_i + (1 − ν_j²)/E_j`` from the material cards (wall: the particle's
  card against the wall card).
* Hertz contact radius ``a = (3 P R* / (4 E*))^(1/3)``; for a purely elastic contact at
  rest ``a² = R* δ``.
* Contact radius of the elastic-plastic ``mdr`` decks: the circle in which the two spheres
  intersect (:func:`overlap_contact_radius`); every mdr contact takes the SE card's model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from assb_lmp.core.units import KPA_PER_GPA
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics


def hertz_contact_radius(
    normal_force_nn: np.ndarray | float, r_star_um: np.ndarray | float,
    e_star_kpa: np.ndarray | float,
) -> np.ndarray:
    """Hertz contact radius ``a = (3 P R* / (4 E*))^(1/3)`` (Komori eq. 15), in µm.

    Parameters
    ----------
    normal_force_nn : array-like
        Normal force ``P`` (nN); negative values (damping pulling) give ``a = 0``.
    r_star_um : array-like
        Effective radius ``R* = R_i R_j / (R_i + R_j)`` (µm; ``R_i`` for a wall).
    e_star_kpa : array-like
        Effective modulus ``E*`` (kPa = nN/µm²).

    Returns
    -------
    numpy.ndarray
        Contact radius (µm). For a Hertz contact ``a² = R* δ``.
    """
    p = np.clip(np.asarray(normal_force_nn, dtype=float), 0.0, None)
    return np.cbrt(3.0 * p * np.asarray(r_star_um, dtype=float)
                   / (4.0 * np.asarray(e_star_kpa, dtype=float)))


def overlap_contact_radius(
    dist_um: np.ndarray, r_i_um: np.ndarray, r_j_um: np.ndarray | None
) -> np.ndarray:
    """Radius of the circle in which two overlapping spheres intersect (µm).

    ``a² = R_i² − l_i²`` with ``l_i = (dist² + R_i² − R_j²) / (2 dist)`` the distance from
    centre ``i`` to the radical plane; for a wall (``r_j_um`` None, ``dist_um`` the centre–
    plane distance) ``a² = R_i² − dist²``. This is the contact radius of a fully plastic
    (truncated) contact: for two equal spheres ``a² = R δ − δ²/4 ≈ 2 R* δ``, twice the
    Hertz area ``π R* δ`` at the same overlap. Zero where the spheres do not overlap.
    """
    dist = np.asarray(dist_um, dtype=float)
    r_i = np.asarray(r_i_um, dtype=float)
    if r_j_um is None:
        l_i = dist
    else:
        r_j = np.asarray(r_j_um, dtype=float)
        l_i = (dist**2 + r_i**2 - r_j**2) / (2.0 * np.where(dist > 0, dist, 1.0))
    return np.sqrt(np.clip(r_i**2 - l_i**2, 0.0, None))



def effective_moduli_kpa(cards: Mapping[str, materials.Material], normal: str = "hertz",
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Hertz ``E*`` (kPa) of the particle pairs, ``[role_i, role_j]`` with roles 0 AM and
    1 SE, and of each role against the wall.

    ``normal == "mdr"``: every contact has the SE card's model (LAMMPS allows one mdr
    parameter set per deck) and the walls are rigid: ``E*`` = that of two SE spheres for
    every pair, ``E/(1 − ν²)`` of the SE card against a wall.
    """
    if normal == "mdr":
        se = cards["se"]
        e_pair = physics.effective_modulus_gpa(se, se) * KPA_PER_GPA
        e_wall = se.E_gpa / (1.0 - se.nu**2) * KPA_PER_GPA
        return np.full((2, 2), e_pair), np.full(2, e_wall)
    roles = ("am", "se")
    e_pp = np.array([[physics.effective_modulus_gpa(cards[a], cards[b]) * KPA_PER_GPA
                      for b in roles] for a in roles])
    e_pw = np.array([physics.effective_modulus_gpa(cards[a], cards["wall"]) * KPA_PER_GPA
                     for a in roles])
    return e_pp, e_pw
