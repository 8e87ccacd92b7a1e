"""Initial packings as Komori et al. (2022) §2.1.1 describe them, made definite.

1. Per structure, draw an AM mean diameter and SD from their ranges.
2. AM particles (discs, multisphere bodies, or spheres in 3D) placed by random sequential
   addition until the AM area (volume) equals the target fraction of the *compressed* cell,
   with a collective rearrangement where the addition stalls
   (:mod:`assb_lmp.build.packing2d`, :mod:`assb_lmp.build.packing_bodies`,
   :mod:`assb_lmp.build.packing3d`; shared geometry in :mod:`assb_lmp.build.densify`).
3. SE particles: at lattice positions that overlap no AM particle ("filled
   exhaustively", ``se_packing: lattice``, the reproduction), or random and polydisperse,
   placed by random addition and densified to ``se_fill_fraction`` of the free space
   (``se_packing: random``, :mod:`assb_lmp.build.se_random`).
4. Optionally (``collapse: geometric``, :mod:`assb_lmp.build.collapse`) the cell is
   collapsed along the press axis to the static state of the pre-load, so that the
   settle stage only has to find the force balance.

The same seed gives the same structure, bit for bit. Lengths are in µm. This module is the
packing's public face: :func:`generate`, :class:`Structure`, the type ids and the writers
(:mod:`assb_lmp.build.datafile`).
"""

from __future__ import annotations

import logging

import numpy as np

from assb_lmp.build.collapse import collapse_cell
from assb_lmp.build.datafile import data_text, write_data, write_info
from assb_lmp.build.packing2d import lattice_sites, pack_am, pack_se
from assb_lmp.build.packing3d import generate_3d, lattice_sites_3d, pack_am_3d, pack_se_3d
from assb_lmp.build.packing_bodies import pack_am_bodies
from assb_lmp.build.se_random import pack_se_random
from assb_lmp.build.structure import TYPE_AM, TYPE_SE, Structure
from assb_lmp.spec.case import CaseSpec

__all__ = [
    "TYPE_AM", "TYPE_SE", "Structure", "data_text", "generate", "lattice_sites",
    "lattice_sites_3d", "pack_am", "pack_am_3d", "pack_am_bodies", "pack_se", "pack_se_3d",
    "write_data", "write_info",
]

log = logging.getLogger(__name__)


def _se_2d(spec: CaseSpec, am_pos: np.ndarray, am_dia: np.ndarray, info: dict,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SE centres (k, 2) and diameters (k,) of the quasi-2D packing (µm)."""
    p, g = spec.packing, spec.geometry
    if p.se_packing == "random":
        per = g.boundary == "periodic"
        se_pos, se_dia, se_info = pack_se_random(
            p, np.array([g.width_um, g.height_um]), (per, per), am_pos, am_dia, rng,
            am_amount=info["am_area_um2"])
        info.update(se_info)
        return se_pos, se_dia
    se_pos = pack_se(spec, am_pos, am_dia)
    info["se_lattice"] = p.se_lattice
    return se_pos, np.full(len(se_pos), p.se_diameter_um)


def _generate_2d(spec: CaseSpec, seed: int, rng: np.random.Generator) -> Structure:
    """The quasi-2D packing: AM discs or bodies first, then the SE."""
    mol = None
    if spec.packing.am_shape.kind == "ellipse":
        am_pos, am_dia, am_mol, info = pack_am_bodies(spec, rng)
    else:
        am_pos, am_dia, info = pack_am(spec, rng)
    se_pos, se_dia = _se_2d(spec, am_pos, am_dia, info, rng)
    if spec.packing.am_shape.kind == "ellipse":
        mol = np.concatenate([am_mol, np.zeros(len(se_pos), dtype=np.int64)])
    types = np.concatenate([np.full(len(am_dia), TYPE_AM), np.full(len(se_pos), TYPE_SE)])
    dia = np.concatenate([am_dia, se_dia])
    xy = np.vstack([am_pos, se_pos]) if len(se_pos) else am_pos
    w0 = w = spec.geometry.width_um
    h = spec.geometry.height_um
    if spec.packing.collapse == "geometric":
        per = spec.geometry.boundary == "periodic"
        xy, w = collapse_cell(spec, types, xy, dia, np.array([w0, h]), (per, per), 0, info)
    pos = np.column_stack([xy, np.zeros(len(xy))])
    info.update(
        seed=seed,
        n_am=int(len(am_dia)) if mol is None else int(am_mol.max(initial=0)),
        n_se=int(len(se_pos)),
        width_um=w,
        height_um=h,
        am_area_fraction_initial_cell=float(np.sum(np.pi / 4 * am_dia**2) / (w0 * h)),
        solid_area_fraction_initial_cell=float(np.sum(np.pi / 4 * dia**2) / (w0 * h)),
    )
    if spec.packing.se_packing == "lattice":
        info["se_lattice"] = info.pop("se_lattice")  # keep the key order of older files
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
