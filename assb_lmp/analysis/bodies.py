"""Multisphere bodies in the analysis: which atoms make one particle, and its geometry.

When the atoms dump carries a ``mol`` column (the body id of every atom, 0 for atoms that
are particles on their own), every AM body counts as *one* particle:

* its centre is the centre of mass of its sub-spheres (dumped masses; across a periodic
  boundary the sub-spheres are unwrapped about the body's first atom);
* its section area is the exact area of the union of its sub-spheres' sections
  (:func:`assb_lmp.build.multisphere.union_area_perimeter`), its radius the area-equivalent
  ``√(A/π)``; its volume for the stress average is ``A t`` in the quasi-2D mode (the
  same convention as ``π r² t`` for a sphere) and the volume of the union of its spheres
  in 3D;
* its surface for the SE coverage is the surface of the union of its spheres (the
  analogue of ``4π r²`` of a sphere), its section perimeter that of the union;
* its Love–Weber stress sums the contacts of all its sub-spheres, with branch vectors
  from the body centre to each contact point.

Atoms with ``mol = 0`` (SE, and AM spheres of a sphere case) are particles of their own,
with the geometry of a sphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assb_lmp.build.multisphere import union_area_perimeter, union_volume_surface_3d


@dataclass(frozen=True)
class Grouping:
    """Atoms grouped into particles.

    Attributes
    ----------
    particle_of_atom : numpy.ndarray of int, shape (n_atoms,)
        Particle index of every atom.
    ids : numpy.ndarray of int, shape (n,)
        Particle id: the atom id of a single sphere, the smallest atom id of a body.
    mol : numpy.ndarray of int, shape (n,)
        Body id (0 for a single sphere).
    phase : numpy.ndarray of int, shape (n,)
        Phase code of the particle.
    pos : numpy.ndarray, shape (n, 3)
        Particle centre (µm).
    radius : numpy.ndarray, shape (n,)
        Sphere radius, or the area-equivalent radius of a body's section (µm).
    area : numpy.ndarray, shape (n,)
        Section area (µm²): π r² or the union area.
    perimeter : numpy.ndarray, shape (n,)
        Section perimeter (µm).
    volume3d : numpy.ndarray, shape (n,)
        3D volume (µm³): sphere, or union of the body's spheres.
    surface : numpy.ndarray, shape (n,)
        3D surface (µm²): sphere, or union of the body's spheres.
    n_spheres : numpy.ndarray of int, shape (n,)
        Atoms per particle.
    aspect_ratio : numpy.ndarray, shape (n,)
        Length / width of the section: along the principal axis of the sphere centres and
        across it (1 for single spheres).
    rel : numpy.ndarray, shape (n_atoms, 3)
        Vector from each atom's particle centre to the atom (µm; 0 for single spheres).
    """

    particle_of_atom: np.ndarray
    ids: np.ndarray
    mol: np.ndarray
    phase: np.ndarray
    pos: np.ndarray
    radius: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    volume3d: np.ndarray
    surface: np.ndarray
    n_spheres: np.ndarray
    aspect_ratio: np.ndarray
    rel: np.ndarray


def group(ids: np.ndarray, phase: np.ndarray, radius: np.ndarray, pos: np.ndarray,
          mass: np.ndarray, mol: np.ndarray,
          periodic_lengths: tuple[float | None, float | None, float | None] = (None,) * 3,
          box_lo: np.ndarray | None = None, surface_samples: int = 2000) -> Grouping:
    """Group atoms (sorted by id) into particles by their body id ``mol``.

    Raises
    ------
    ValueError
        If a body mixes phases.
    """
    n_atoms = ids.size
    mol = np.asarray(mol, dtype=np.int64)
    body_ids = np.unique(mol[mol > 0])
    first_of_body = {int(m): int(np.nonzero(mol == m)[0][0]) for m in body_ids}
    # particle order: by the smallest atom id (atoms are sorted by id)
    key = np.arange(n_atoms)
    for m, k0 in first_of_body.items():
        key[mol == m] = k0
    leaders, particle_of_atom = np.unique(key, return_inverse=True)
    n = leaders.size
    p_ids = ids[leaders]
    p_mol = mol[leaders]
    p_phase = phase[leaders]
    p_pos = pos[leaders].astype(float).copy()
    p_rad = radius[leaders].astype(float).copy()
    area = math.pi * p_rad**2
    perim = 2.0 * math.pi * p_rad
    vol3 = 4.0 / 3.0 * math.pi * p_rad**3
    surf = 4.0 * math.pi * p_rad**2
    n_sph = np.bincount(particle_of_atom, minlength=n).astype(np.int64)
    aspect = np.ones(n)
    rel = np.zeros((n_atoms, 3))
    for m in body_ids.tolist():
        sel = np.nonzero(mol == m)[0]
        k = int(particle_of_atom[sel[0]])
        if np.unique(phase[sel]).size != 1:
            raise ValueError(f"body {m} mixes atom types {sorted(set(phase[sel].tolist()))}")
        d = pos[sel] - pos[sel[0]]
        for ax, length in enumerate(periodic_lengths):
            if length:
                d[:, ax] -= length * np.round(d[:, ax] / length)
        w = np.asarray(mass[sel], dtype=float)
        com_rel = (d * w[:, None]).sum(axis=0) / w.sum()
        com = pos[sel[0]] + com_rel
        if box_lo is not None:
            for ax, length in enumerate(periodic_lengths):
                if length:
                    com[ax] = box_lo[ax] + (com[ax] - box_lo[ax]) % length
        rel[sel] = d - com_rel
        r = radius[sel].astype(float)
        a, p = union_area_perimeter(rel[sel, :2], r)
        v, s = union_volume_surface_3d(rel[sel], r, samples=surface_samples)
        p_pos[k] = com
        area[k], perim[k], vol3[k], surf[k] = a, p, v, s
        p_rad[k] = math.sqrt(a / math.pi)
        aspect[k] = section_aspect_ratio(rel[sel, :2], r)
    return Grouping(particle_of_atom=particle_of_atom.astype(np.int64), ids=p_ids, mol=p_mol,
                    phase=p_phase, pos=p_pos, radius=p_rad, area=area, perimeter=perim,
                    volume3d=vol3, surface=surf, n_spheres=n_sph, aspect_ratio=aspect,
                    rel=rel)


def section_aspect_ratio(rel: np.ndarray, radii: np.ndarray) -> float:
    """Length over width of a body's section: extents of its discs along the principal
    axis of the disc centres (largest eigenvector of their scatter) and across it."""
    rel = np.asarray(rel, dtype=float)[:, :2]
    r = np.asarray(radii, dtype=float)
    if r.size < 2 or not np.any(np.abs(rel) > 0):
        return 1.0
    _, vecs = np.linalg.eigh(rel.T @ rel)
    u, v = vecs[:, 1], vecs[:, 0]
    length = float(np.max(rel @ u + r) - np.min(rel @ u - r))
    width = float(np.max(rel @ v + r) - np.min(rel @ v - r))
    return length / width

