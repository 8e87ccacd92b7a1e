"""3D packing (``geometry.dimension: 3``): spheres in a cell periodic in x and y and
bounded by walls along z, the press axis.

The recipe of the quasi-2D packer: ``am_area_fraction`` is the AM *volume* fraction of the
compressed cell (``height × depth × reference width``); random sequential addition is
followed by the collective rearrangement (:func:`assb_lmp.build.densify.rearrange_3d`)
where it stalls (near a volume fraction of 0.38; refused above 0.60); AM diameters are
truncated at :func:`assb_lmp.spec.case.largest_am_diameter_um`; the SE lattice is simple
cubic (``se_lattice: square``) or face-centred cubic (``hex``), scanned from the corner
(0, 0, 0) and clipped to the cell along z. Lengths are in µm, volumes in µm³.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from assb_lmp.build.collapse import collapse_cell
from assb_lmp.build.densify import SizeDraw, draw_value, min_image_3d, rearrange_3d
from assb_lmp.build.se_random import pack_se_random
from assb_lmp.build.structure import TYPE_AM, TYPE_SE, Structure
from assb_lmp.core.errors import PackingError
from assb_lmp.spec.case import CaseSpec, largest_am_diameter_um

log = logging.getLogger(__name__)

#: The most AM volume the sphere packer reaches, as a fraction of the initial cell.
MAX_AM_CELL_FRACTION_3D = 0.60


def _am_budget_3d(spec: CaseSpec, rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw the AM mean diameter and SD (µm) and the AM volume to place (µm³)."""
    g, p = spec.geometry, spec.packing
    lx, ly, h = g.height_um, spec.depth_um, g.width_um
    mean = draw_value(rng, p.am_diameter_mean_um)
    sd = draw_value(rng, p.am_diameter_sd_um)
    target = p.am_area_fraction * lx * ly * spec.reference_width_um
    cell_frac = target / (lx * ly * h)
    if cell_frac > MAX_AM_CELL_FRACTION_3D:
        raise PackingError(
            f"packing.am_area_fraction = {p.am_area_fraction}: needs an AM volume fraction "
            f"of {cell_frac:.3f} in the initial {lx} × {ly} × {h} µm cell; the sphere packer "
            "reaches no more than 0.60 (allowed: am_area_fraction × reference width / "
            "initial width ≤ 0.60)"
        )
    return mean, sd, target


def _try_place_3d(r: float, pos: np.ndarray, dia: np.ndarray, lx: float, ly: float, h: float,
                  attempts: int, rng: np.random.Generator) -> np.ndarray | None:
    """A random overlap-free centre (3,) for a sphere of radius r (µm), or None."""
    for _ in range(attempts):
        c = np.array([rng.uniform(0, lx), rng.uniform(0, ly), rng.uniform(r, h - r)])
        if len(dia):
            dd = min_image_3d(pos - c, lx, ly)
            if np.any(np.sum(dd * dd, axis=1) < (0.5 * dia + r) ** 2):
                continue
        return c
    return None


def _rsa_spheres(spec: CaseSpec, draw: SizeDraw, target: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, list[float], int | None]:
    """Random sequential addition up to the AM volume budget (see ``packing2d._rsa_discs``)."""
    g, p = spec.geometry, spec.packing
    lx, ly, h = g.height_um, spec.depth_um, g.width_um
    pos = np.zeros((0, 3))
    dia = np.zeros(0)
    vol = 0.0
    stalled_at = None
    pending: list[float] = []
    v_min = math.pi / 6.0 * p.am_diameter_min_um**3
    d = draw.diameter()
    while True:
        remaining = target - vol
        if remaining <= 0.5 * v_min:
            break
        if math.pi / 6.0 * d**3 > remaining:
            d_trim = (6.0 * remaining / math.pi) ** (1.0 / 3.0)
            if d_trim < p.am_diameter_min_um:
                break
            d = d_trim
        c = None
        if stalled_at is None:
            c = _try_place_3d(0.5 * d, pos, dia, lx, ly, h, p.max_attempts // 40, rng)
            if c is None:
                stalled_at = len(dia)
            else:
                pos = np.vstack([pos, c])
                dia = np.append(dia, d)
        if c is None:
            pending.append(d)
        vol += math.pi / 6.0 * d**3
        d = draw.diameter()
    return pos, dia, pending, stalled_at


def _place_pending_3d(spec: CaseSpec, pos: np.ndarray, dia: np.ndarray, pending: list[float],
                      stalled_at: int | None, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, str]:
    """Drop the spheres RSA could not place at random and remove every overlap."""
    lx, ly, h = spec.geometry.height_um, spec.depth_um, spec.geometry.width_um
    r_p = 0.5 * np.asarray(pending)
    xyz = np.column_stack([rng.uniform(0, lx, len(r_p)), rng.uniform(0, ly, len(r_p)),
                           rng.uniform(r_p, h - r_p)])
    pos = np.vstack([pos, xyz])
    dia = np.append(dia, pending)
    try:
        pos, iters = rearrange_3d(pos, 0.5 * dia, lx, ly, h, rng)
    except PackingError:
        raise PackingError(
            f"packing.am_area_fraction = {spec.packing.am_area_fraction}: random addition "
            f"stalled at {stalled_at} spheres and the collective rearrangement could not place "
            f"the remaining {len(pending)} without overlap in the {lx} × {ly} × {h} µm cell; "
            "lower the fraction or thicken the initial cell"
        ) from None
    densify = (
        f"collective rearrangement: RSA stalled after {stalled_at} spheres, "
        f"{len(pending)} more placed and all overlaps removed in {iters} sweeps"
    )
    return pos, dia, densify


def pack_am_3d(spec: CaseSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Place the AM spheres of a 3D cell. Returns (positions (m, 3), diameters (m,), info)."""
    g, p = spec.geometry, spec.packing
    mean, sd, target = _am_budget_3d(spec, rng)
    dmax = min(largest_am_diameter_um(p), g.height_um, spec.depth_um, g.width_um)
    draw = SizeDraw(mean, sd, rng, p.am_diameter_min_um, dmax)
    pos, dia, pending, stalled_at = _rsa_spheres(spec, draw, target, rng)
    densify = "none (random sequential addition reached the target)"
    if pending:
        pos, dia, densify = _place_pending_3d(spec, pos, dia, pending, stalled_at, rng)
    info = {
        "am_diameter_mean_um": mean,
        "am_diameter_sd_um": sd,
        "am_target_volume_um3": target,
        "am_volume_um3": float(np.sum(math.pi / 6.0 * dia**3)),
        "densify": densify,
    }
    return pos, dia, info


def lattice_sites_3d(lx: float, ly: float, h: float, d: float, kind: str) -> np.ndarray:
    """SE lattice sites of a 3D cell (µm): simple cubic (``square``) or fcc (``hex``) of
    nearest-neighbour distance d, from the corner (0, 0, 0); whole cells only along the
    periodic x and y (so the periodic seam never overlaps), z in [d/2, h − d/2]."""
    if kind == "square":
        nx, ny = int(math.floor(lx / d + 1e-9)), int(math.floor(ly / d + 1e-9))
        nz = int(math.floor(h / d + 1e-9))
        g = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"),
                     axis=-1).reshape(-1, 3)
        return d / 2 + d * g.astype(float)
    a = d * math.sqrt(2.0)
    nx, ny = int(math.floor(lx / a + 1e-9)), int(math.floor(ly / a + 1e-9))
    nz = int(math.floor((h - d) / (a / 2) + 1e-9)) + 1  # layers a/2 apart
    sites = []
    for k in range(nz):
        z = d / 2 + k * a / 2
        off = 0.0 if k % 2 == 0 else a / 2
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        for bx, by in ((0.0, 0.0), (a / 2, a / 2)):
            x = (ix * a + bx + off) % (nx * a)
            y = iy * a + by
            sites.append(np.column_stack([x.ravel(), y.ravel(), np.full(x.size, z)]))
    out = np.vstack(sites)
    return out[np.lexsort((out[:, 0], out[:, 1], out[:, 2]))]


def pack_se_3d(spec: CaseSpec, am_pos: np.ndarray, am_dia: np.ndarray) -> np.ndarray:
    """SE centres (k, 3) of a 3D cell (µm): lattice sites that overlap no AM sphere."""
    g, p = spec.geometry, spec.packing
    lx, ly, h = g.height_um, spec.depth_um, g.width_um
    d = p.se_diameter_um
    sites = lattice_sites_3d(lx, ly, h, d, p.se_lattice)
    keep = np.ones(len(sites), dtype=bool)
    for c, da in zip(am_pos, am_dia, strict=True):
        dd = min_image_3d(sites - c, lx, ly)
        keep &= np.sum(dd * dd, axis=1) >= (0.5 * da + 0.5 * d) ** 2
    return sites[keep]


def _se_3d(spec: CaseSpec, am_pos: np.ndarray, am_dia: np.ndarray, info: dict,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SE centres (k, 3) and diameters (k,) of a 3D cell (µm): lattice or random."""
    p = spec.packing
    if p.se_packing == "random":
        lengths = np.array([spec.geometry.height_um, spec.depth_um, spec.geometry.width_um])
        se_pos, se_dia, se_info = pack_se_random(p, lengths, (True, True, False), am_pos,
                                                 am_dia, rng, am_amount=info["am_volume_um3"])
        info.update(se_info)
        return se_pos, se_dia
    se_pos = pack_se_3d(spec, am_pos, am_dia)
    return se_pos, np.full(len(se_pos), p.se_diameter_um)


def generate_3d(spec: CaseSpec, seed: int, rng: np.random.Generator) -> Structure:
    """The 3D packing of a case (AM spheres first, then the SE), drawn from ``rng``."""
    am_pos, am_dia, info = pack_am_3d(spec, rng)
    se_pos, se_dia = _se_3d(spec, am_pos, am_dia, info, rng)
    types = np.concatenate([np.full(len(am_dia), TYPE_AM), np.full(len(se_pos), TYPE_SE)])
    dia = np.concatenate([am_dia, se_dia])
    pos = np.vstack([am_pos, se_pos]) if len(se_pos) else am_pos
    lx, ly, h0 = spec.geometry.height_um, spec.depth_um, spec.geometry.width_um
    h = h0
    if spec.packing.collapse == "geometric":
        pos, h = collapse_cell(spec, types, pos, dia, np.array([lx, ly, h0]),
                               (True, True, False), 2, info)
    info.update(
        seed=seed,
        dimension=3,
        n_am=int(len(am_dia)),
        n_se=int(len(se_pos)),
        width_um=h,
        height_um=lx,
        depth_um=ly,
        am_volume_fraction_initial_cell=float(np.sum(np.pi / 6 * am_dia**3) / (lx * ly * h0)),
        solid_volume_fraction_initial_cell=float(np.sum(np.pi / 6 * dia**3) / (lx * ly * h0)),
    )
    if spec.packing.se_packing == "lattice":
        info["se_lattice"] = {"square": "simple cubic", "hex": "fcc"}[spec.packing.se_lattice]
    log.info("packed %d AM + %d SE spheres in 3D (%s)", info["n_am"], info["n_se"],
             info["densify"])
    return Structure(types=types, diameters=dia, positions=pos, width=h, height=lx,
                     depth=ly, periodic=False, info=info)
