"""Particle stress (Love–Weber) and the stress balance of a stage.

``σ_p = (1/V_p) Σ_c f_c ⊗ r_pc`` with ``f_c`` the force on ``p`` at contact ``c`` (pair:
``fn n + ft``, ``n`` the unit vector from the other particle to ``p``; wall: the dumped wall
force) and ``r_pc`` from the centre of ``p`` to the contact point. The tensor is
tension-positive; the reported stress is the mean compressive normal stress
``p = −tr(σ_p)/d`` (MPa, compression positive). 3D: ``d = 3`` and ``V_p = 4/3 π r³``, one
convention, the true one.

Quasi-2D (``dimension: 2``): ``d = 2`` (``σ_zz = 0`` in the plane) and the particles are
spheres whose centres share one plane, so two volumes make sense and both are reported
(docs/stress.md):

* ``per_depth``: ``V_p = π r² t`` with ``t`` the nominal depth (wall pressure ``F/(L t)``,
  cell volume ``Lx Ly t``); comparable with Komori's 2D numbers; the default of the CNN
  targets;
* ``per_sphere``: ``V_p = 4/3 π r³``, the sphere's own mean stress.

The moment ``Σ_c f_c ⊗ r_pc`` is the same in both, so a particle's per-depth stress is
``4r/(3t)`` times its per-sphere stress (multisphere bodies: ``V_union / (A t)``). The cell
stress that balances the per-sphere stresses, ``Σ_p σ_p V_p = σ V``, is the wall force per
an *effective depth* ``t_eff = Σ_p V_p^sphere / Σ_p A_p`` (``A_p`` the section area
``π r²``): the depth of a slab that holds the spheres at the solid fraction of the section,
so that ``σ_cell = φ ⟨σ_p⟩_V`` holds with the same area fraction ``φ = Σ A_p / (Lx Ly)`` in
both conventions (:func:`effective_depth_um`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from assb_lmp.core.errors import AnalysisError
from assb_lmp.core.units import KPA_PER_MPA

if TYPE_CHECKING:
    from assb_lmp.analysis.result import StageResult


def love_weber_stress(
    n_particles: int,
    index: np.ndarray,
    force: np.ndarray,
    branch: np.ndarray,
    volume: np.ndarray,
) -> np.ndarray:
    """Love–Weber stress tensors ``σ_p = (1/V_p) Σ_c f_c ⊗ r_pc``.

    Each row ``c`` of the inputs is one (particle, contact) incidence: a pair contact
    contributes two rows (``+f`` on ``i`` with ``r_ic``, ``−f`` on ``j`` with ``r_jc``),
    a wall contact one.

    Parameters
    ----------
    n_particles : int
        Number of particles.
    index : numpy.ndarray of int, shape (m,)
        Particle index of each incidence.
    force : numpy.ndarray, shape (m, 3)
        Force on the particle at the contact (nN).
    branch : numpy.ndarray, shape (m, 3)
        Vector from the particle centre to the contact point (µm).
    volume : numpy.ndarray, shape (n_particles,)
        Particle volumes ``V_p`` (µm³).

    Returns
    -------
    numpy.ndarray, shape (n_particles, 3, 3)
        ``σ_p[a, b] = Σ f_a r_b / V_p`` in kPa (nN/µm²), tension positive; zero for a
        particle without contacts.
    """
    index = np.asarray(index, dtype=np.int64)
    force = np.asarray(force, dtype=float).reshape(-1, 3)
    branch = np.asarray(branch, dtype=float).reshape(-1, 3)
    outer = (force[:, :, None] * branch[:, None, :]).reshape(-1, 9)
    sums = np.empty((n_particles, 9))
    for k in range(9):
        sums[:, k] = np.bincount(index, weights=outer[:, k], minlength=n_particles)
    return sums.reshape(n_particles, 3, 3) / np.asarray(volume, dtype=float)[:, None, None]


def mean_compressive_stress(sigma: np.ndarray, dimension: int) -> np.ndarray:
    """Mean compressive normal stress ``p = −tr(σ)/d`` (same unit as ``sigma``).

    Parameters
    ----------
    sigma : numpy.ndarray, shape (n, 3, 3)
        Stress tensors, tension positive.
    dimension : {2, 3}
        ``d``: 2 for the quasi-2D mode (σ_zz is zero there), 3 for 3D.
    """
    if dimension not in (2, 3):
        raise ValueError(f"dimension must be 2 or 3, got {dimension!r}")
    tr = np.trace(sigma, axis1=1, axis2=2)
    return -tr / float(dimension)


def particle_volume(radius: np.ndarray, dimension: int, depth_um: float) -> np.ndarray:
    """Particle volume for the stress average (µm³).

    Quasi-2D (``dimension == 2``): ``π r² t`` with ``t = depth_um``; 3D: ``4/3 π r³``.
    """
    radius = np.asarray(radius, dtype=float)
    if dimension == 2:
        return math.pi * radius**2 * float(depth_um)
    return 4.0 / 3.0 * math.pi * radius**3


#: The two stress conventions of the quasi-2D mode (3D: ``per_sphere`` only).
CONVENTIONS: tuple[str, ...] = ("per_depth", "per_sphere")


def sphere_volume(radius: np.ndarray) -> np.ndarray:
    """``4/3 π r³`` (µm³)."""
    return 4.0 / 3.0 * math.pi * np.asarray(radius, dtype=float) ** 3


def resolve_convention(requested: str | None, dimension: int) -> str:
    """The convention of the targets: the spec's choice, ``per_depth`` by default in
    quasi-2D; always ``per_sphere`` in 3D.

    Raises
    ------
    AnalysisError
        For ``per_depth`` in 3D (a 3D cell has no nominal depth) or an unknown name.
    """
    if requested is not None and requested not in CONVENTIONS:
        raise AnalysisError(f"analysis.stress_convention = {requested!r}; allowed: "
                            f"{', '.join(CONVENTIONS)}")
    if dimension == 3:
        if requested == "per_depth":
            raise AnalysisError("analysis.stress_convention = 'per_depth' applies to the "
                                "quasi-2D mode only; 3D stresses are per sphere volume")
        return "per_sphere"
    return requested or "per_depth"


def effective_depth_um(sphere_volume_um3: np.ndarray, section_area_um2: np.ndarray) -> float:
    """Effective depth ``t_eff = Σ_p V_p^sphere / Σ_p A_p`` of a quasi-2D cell (µm).

    With it the cell volume ``Lx Ly t_eff`` holds the spheres at the solid fraction of the
    section (``Σ V^sphere / (Lx Ly t_eff) = Σ A / (Lx Ly)``), and the wall force per
    ``t_eff`` balances the per-sphere stresses: ``Σ_p σ_p^sphere V_p^sphere = Σ_c f ⊗ r``
    = ``σ_cell Lx Ly t_eff`` with ``σ_cell = F / (L t_eff)``. For equal spheres of radius r,
    ``t_eff = 4r/3``.
    """
    area = float(np.sum(section_area_um2))
    return float(np.sum(sphere_volume_um3)) / area if area > 0 else float("nan")


def convention_info(res: StageResult) -> dict:
    """The ``info.stress_convention`` block of the labels: which stress the targets hold,
    the depths, and the cell pressures in both conventions."""
    if res.dimension == 3:
        return {"targets": "per_sphere", "available": ["per_sphere"],
                "per_sphere": "V_p = 4/3 pi r^3 (3D: the only convention); cell pressure "
                              "= wall force / (Lx Ly)"}
    t, t_eff = float(res.depth_um), float(res.effective_depth_um)
    walls = {k[2:-4]: float(v) for k, v in res.cell.items()
             if k.startswith("p_") and k.endswith("_mpa") and v is not None}
    ratio = {}
    for name, code in (("AM", 1), ("SE", 2)):
        f = (res.sphere_volume_um3 / res.depth_volume_um3)[res.phase == code]
        ratio[name] = [float(f.min()), float(f.max())] if f.size else None
    return {
        "targets": res.stress_convention,
        "available": list(CONVENTIONS),
        "keys": "<label>_per_depth and <label>_per_sphere hold both; the plain target names "
                "hold the 'targets' convention",
        "per_depth": "V_p = pi r^2 t (t = depth_um); cell pressure = wall force / (L t); "
                     "comparable with Komori's 2D numbers",
        "per_sphere": "V_p = 4/3 pi r^3, the sphere's own mean stress; cell pressure = wall "
                      "force / (L t_eff)",
        "depth_um": t,
        "effective_depth_um": t_eff,
        "effective_depth": "t_eff = sum_p V_p(sphere) / sum_p A_p(section): the slab that "
                           "holds the spheres at the section's solid fraction",
        "per_depth_over_per_sphere": ratio,
        "cell_pressure_mpa": {"per_depth": walls,
                              "per_effective_depth": {k: v * t / t_eff
                                                      for k, v in walls.items()}},
    }


def stress_balance(res: StageResult) -> dict | None:
    """Compare ``Σ_p σ_p V_p`` with the stress the boundaries carry.

    Returns
    -------
    dict or None
        ``{"wall_pressure": {"xx": ratio, "yy": ratio}, "wall_forces": {...}}``:

        * ``wall_pressure``: ``−Σ σ_aa V_p / (P_a V)`` with ``P_a`` the mean of the two
          wall pressures on the axis (``p_xlo_mpa``, ``p_xhi_mpa`` ...) or the cell stress
          ``p_xx_mpa`` of a periodic cell, and ``V`` the cell volume. Near 1 for a packing
          at rest; wall friction that is not spread evenly along the walls moves it by a
          few per cent.
        * ``wall_forces``: ``Σ σ_aa V_p / Σ_w f_a x_a`` with the sum over every wall
          contact (force on the particle, contact point). Exactly 1 for a packing in
          static equilibrium, whatever the friction; None without walls.

        None when the cell file has no pressures.
    """
    c = res.cell
    total = res.stress_volume_sum()
    vol = res.cell_volume_um3()
    pressure = {}
    walled = []
    axes = (("x", 0), ("y", 1), ("z", 2)) if res.dimension == 3 else (("x", 0), ("y", 1))
    for ax, k in axes:
        lo, hi = c.get(f"p_{ax}lo_mpa"), c.get(f"p_{ax}hi_mpa")
        if lo is not None and hi is not None:
            p = 0.5 * (float(lo) + float(hi))
            walled.append((ax, k))
        elif c.get(f"p_{ax}{ax}_mpa") is not None:
            p = float(c[f"p_{ax}{ax}_mpa"])
        else:
            return None
        pressure[ax + ax] = float(-total[k, k] / (p * KPA_PER_MPA * vol)) if p != 0 else None
    forces = None
    if res.boundary_moment is not None:
        b = res.boundary_moment
        forces = {ax + ax: (float(total[k, k] / b[k, k]) if b[k, k] != 0 else None)
                  for ax, k in walled}
    return {"wall_pressure": pressure, "wall_forces": forces}
