"""Initial packings as Komori et al. (2022) §2.1.1 describe them, made definite.

1. Per structure, draw an AM mean diameter and SD from their ranges.
2. AM particles (discs, multisphere bodies, or spheres in 3D) placed by random sequential
   addition until the AM area (volume) equals the target fraction of the *compressed* cell,
   with a collective rearrangement where the addition stalls
   (:mod:`assb_lmp.build.packing2d`, :mod:`assb_lmp.build.packing_bodies`,
   :mod:`assb_lmp.build.packing3d`; shared geometry in :mod:`assb_lmp.build.densify`).
3. SE particles at lattice positions that overlap no AM particle ("filled exhaustively").

The same seed gives the same structure, bit for bit. Lengths are in µm. This module is the
packing's public face: :func:`generate`, :class:`Structure`, the type ids and the writers
(:mod:`assb_lmp.build.datafile`).
"""

from __future__ import annotations

import logging

import numpy as np

from assb_lmp.build.datafile import data_text, write_data, write_info
from assb_lmp.build.packing2d import lattice_sites, pack_am, pack_se
from assb_lmp.build.packing3d import generate_3d, lattice_sites_3d, pack_am_3d, pack_se_3d
from assb_lmp.build.packing_bodies import pack_am_bodies
from assb_lmp.build.structure import TYPE_AM, TYPE_SE, Structure
from assb_lmp.spec.case import CaseSpec

__all__ = [
    "TYPE_AM", "TYPE_SE", "Structure", "data_text", "generate", "lattice_sites",
    "lattice_sites_3d", "pack_am", "pack_am_3d", "pack_am_bodies", "pack_se", "pack_se_3d",
    "write_data", "write_info",
]

log = logging.getLogger(__name__)


def _generate_2d(spec: CaseSpec, seed: int, rng: np.random.Generator) -> Structure:
    """The quasi-2D packing: AM discs or bodies first, then the SE lattice."""
    mol = None
    if spec.packing.am_shape.kind == "ellipse":
        am_pos, am_dia, am_mol, info = pack_am_bodies(spec, rng)
    else:
        am_pos, am_dia, info = pack_am(spec, rng)
    se_pos = pack_se(spec, am_pos, am_dia)
    if spec.packing.am_shape.kind == "ellipse":
        mol = np.concatenate([am_mol, np.zeros(len(se_pos), dtype=np.int64)])
    d_se = spec.packing.se_diameter_um
    types = np.concatenate([np.full(len(am_dia), TYPE_AM), np.full(len(se_pos), TYPE_SE)])
    dia = np.concatenate([am_dia, np.full(len(se_pos), d_se)])
    xy = np.vstack([am_pos, se_pos]) if len(se_pos) else am_pos
    pos = np.column_stack([xy, np.zeros(len(xy))])
    w, h = spec.geometry.width_um, spec.geometry.height_um
    info.update(
        seed=seed,
        n_am=int(len(am_dia)) if mol is None else int(am_mol.max(initial=0)),
        n_se=int(len(se_pos)),
        width_um=w,
        height_um=h,
        am_area_fraction_initial_cell=float(np.sum(np.pi / 4 * am_dia**2) / (w * h)),
        solid_area_fraction_initial_cell=float(np.sum(np.pi / 4 * dia**2) / (w * h)),
        se_lattice=spec.packing.se_lattice,
    )
    log.info("packed %d AM + %d SE (%s)", info["n_am"], info["n_se"], info["densify"])
    return Structure(types=types, diameters=dia, positions=pos, width=w, height=h,
                     depth=spec.depth_um, periodic=spec.geometry.boundary == "periodic",
                     info=info, mol=mol)


def generate(spec: CaseSpec, seed: int | None = None) -> Structure:
    """Generate the packing of a case.

    Parameters
    ----------
    spec : CaseSpec
        The case; geometry and packing parameters are used.
    seed : int, optional
        Overrides ``spec.seed``.

    Returns
    -------
    Structure
        AM first (type 1), then SE (type 2), ids in that order. Multisphere AM
        (``packing.am_shape.kind: ellipse``): the AM atoms are the sub-spheres, body by
        body, and ``mol`` holds the body id of every atom (0 for SE).
    """
    seed = spec.seed if seed is None else seed
    rng = np.random.default_rng(seed)
    if spec.geometry.dimension == 3:
        return generate_3d(spec, seed, rng)
    return _generate_2d(spec, seed, rng)
