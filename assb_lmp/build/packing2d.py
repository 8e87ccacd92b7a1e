"""Quasi-2D packing of round AM discs and of the SE lattice (Komori §2.1.1, made definite).

AM discs: diameters from the structure's normal distribution (truncated below at
``am_diameter_min_um``), placed by random sequential addition (RSA), rejecting any that
overlap a placed disc or cross the cell, until the AM area equals the target fraction of
the *compressed* cell; the last disc is trimmed so the area is met exactly when its
trimmed diameter stays above the minimum. Where RSA stalls (``max_attempts // 40``
consecutive failures) the remaining discs are dropped at random and a collective
rearrangement (:func:`assb_lmp.build.densify.rearrange`) removes every overlap.

SE: discs at lattice positions scanned from the lower-left corner (square lattice or
hexagonal rows), keeping every position that overlaps no AM disc and lies in the cell.
Lengths are in µm, areas in µm².
"""

from __future__ import annotations

import math

import numpy as np

from assb_lmp.build.densify import SizeDraw, draw_value, min_image, overlaps, rearrange
from assb_lmp.core.errors import PackingError
from assb_lmp.spec.case import CaseSpec

#: The most AM area a disc packing with walls holds, as a fraction of the initial cell.
MAX_AM_CELL_FRACTION_2D = 0.80


def am_budget(spec: CaseSpec, rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw the structure's AM mean diameter and SD (µm) and the AM area to place (µm²).

    Raises
    ------
    PackingError
        If that area exceeds 0.80 of the initial cell, more than any packing with walls holds.
    """
    p = spec.packing
    w, h = spec.geometry.width_um, spec.geometry.height_um
    mean = draw_value(rng, p.am_diameter_mean_um)
    sd = draw_value(rng, p.am_diameter_sd_um)
    target_area = p.am_area_fraction * spec.reference_width_um * h
    cell_frac = target_area / (w * h)
    if cell_frac > MAX_AM_CELL_FRACTION_2D:
        raise PackingError(
            f"packing.am_area_fraction = {p.am_area_fraction}: needs an AM area fraction of "
            f"{cell_frac:.3f} in the initial {w} × {h} µm cell; no disc packing with walls "
            "reaches more than 0.80 (allowed: am_area_fraction × reference width / initial "
            "width ≤ 0.80)"
        )
    return mean, sd, target_area


def fit_to_budget(d: float, remaining: float, d_min: float) -> float | None:
    """The next AM diameter (µm) given the AM area still to place (µm²), or None to stop.

    A disc larger than the remaining area is trimmed to meet it exactly, unless the trimmed
    diameter would fall below ``d_min``; less than half a minimum disc left also stops.
    """
    if remaining <= 0.25 * math.pi * d_min**2 * 0.5:
        return None
    if 0.25 * math.pi * d * d > remaining:
        d_trim = math.sqrt(4.0 * remaining / math.pi)
        return None if d_trim < d_min else d_trim
    return d


def _try_place(r: float, pos: np.ndarray, dia: np.ndarray, w: float, h: float,
               periodic: bool, attempts: int, rng: np.random.Generator
               ) -> tuple[float, float] | None:
    """A random overlap-free centre for a disc of radius r (µm), or None after ``attempts``."""
    for _ in range(attempts):
        if periodic:
            x, y = rng.uniform(0, w), rng.uniform(0, h)
        else:
            x, y = rng.uniform(r, w - r), rng.uniform(r, h - r)
        if not overlaps(x, y, r, pos, 0.5 * dia, w, h, periodic):
            return x, y
    return None


def _rsa_discs(spec: CaseSpec, draw: SizeDraw, target_area: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[float], int | None]:
    """Random sequential addition up to the AM area budget.

    Returns the placed centres (m, 2) and diameters (m,), the diameters left over after
    RSA stalled, and the number of discs placed when it stalled (None: it never did).
    """
    g, p = spec.geometry, spec.packing
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    pos = np.zeros((0, 2))
    dia = np.zeros(0)
    area = 0.0
    stalled_at = None
    pending: list[float] = []
    d = draw.diameter()
    while True:
        d = fit_to_budget(d, target_area - area, p.am_diameter_min_um)
        if d is None:
            break
        xy = None
        if stalled_at is None:
            xy = _try_place(0.5 * d, pos, dia, w, h, periodic, p.max_attempts // 40, rng)
            if xy is None:
                stalled_at = len(dia)
            else:
                pos = np.vstack([pos, xy])
                dia = np.append(dia, d)
        if xy is None:
            pending.append(d)
        area += 0.25 * math.pi * d * d
        d = draw.diameter()
    return pos, dia, pending, stalled_at


def _place_pending(spec: CaseSpec, pos: np.ndarray, dia: np.ndarray, pending: list[float],
                   stalled_at: int | None, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """Drop the discs RSA could not place at random and remove every overlap."""
    g = spec.geometry
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    r_p = 0.5 * np.asarray(pending)
    if periodic:
        xy = np.column_stack([rng.uniform(0, w, len(r_p)), rng.uniform(0, h, len(r_p))])
    else:
        xy = np.column_stack([rng.uniform(r_p, w - r_p), rng.uniform(r_p, h - r_p)])
    pos = np.vstack([pos, xy])
    dia = np.append(dia, pending)
    try:
        pos, iters = rearrange(pos, 0.5 * dia, w, h, periodic, rng)
    except PackingError:
        raise PackingError(
            f"packing.am_area_fraction = {spec.packing.am_area_fraction}: random addition "
            f"stalled at {stalled_at} discs and the collective rearrangement could not place "
            f"the remaining {len(pending)} without overlap in the {w} × {h} µm cell; "
            "lower the fraction or widen the initial cell"
        ) from None
    densify = (
        f"collective rearrangement: RSA stalled after {stalled_at} discs, "
        f"{len(pending)} more placed and all overlaps removed in {iters} sweeps"
    )
    return pos, dia, densify


def pack_am(spec: CaseSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Place the AM discs.

    Returns
    -------
    positions : ndarray, shape (m, 2)
        Centres (µm).
    diameters : ndarray, shape (m,)
        Diameters (µm).
    info : dict
        Drawn mean and SD (µm), target and placed AM area (µm²), the densifying step used.
    """
    g, p = spec.geometry, spec.packing
    mean, sd, target_area = am_budget(spec, rng)
    draw = SizeDraw(mean, sd, rng, p.am_diameter_min_um, min(g.width_um, g.height_um))
    pos, dia, pending, stalled_at = _rsa_discs(spec, draw, target_area, rng)
    densify = "none (random sequential addition reached the target)"
    if pending:
        pos, dia, densify = _place_pending(spec, pos, dia, pending, stalled_at, rng)
    info = {
        "am_diameter_mean_um": mean,
        "am_diameter_sd_um": sd,
        "am_target_area_um2": target_area,
        "am_area_um2": float(np.sum(0.25 * math.pi * dia**2)),
        "densify": densify,
    }
    return pos, dia, info


def lattice_sites(w: float, h: float, d: float, kind: str, pitch: float | None = None
                  ) -> np.ndarray:
    """SE lattice sites scanned from the lower-left corner of a w × h cell (µm).

    The first site touches the cell edges (d/2 in); sites are ``pitch`` apart (default d),
    in a square lattice or hexagonal rows; every site keeps a disc of diameter d inside.
    """
    a = d if pitch is None else pitch
    if kind == "square":
        xs = d / 2 + a * np.arange(int(math.floor((w - d) / a + 1e-9)) + 1)
        ys = d / 2 + a * np.arange(int(math.floor((h - d) / a + 1e-9)) + 1)
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])
    dy = a * math.sqrt(3) / 2
    rows = []
    for j in range(int(math.floor((h - d) / dy + 1e-9)) + 1):
        off = 0.0 if j % 2 == 0 else a / 2
        xs = d / 2 + off + a * np.arange(int(math.floor((w - d - off) / a + 1e-9)) + 1)
        rows.append(np.column_stack([xs, np.full_like(xs, d / 2 + j * dy)]))
    return np.vstack(rows)


def pack_se(spec: CaseSpec, am_pos: np.ndarray, am_dia: np.ndarray) -> np.ndarray:
    """SE centres (k, 2) (µm): lattice sites that overlap no AM disc and lie in the cell."""
    g, p = spec.geometry, spec.packing
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    d = p.se_diameter_um
    sites = lattice_sites(w, h, d, p.se_lattice, p.se_lattice_pitch_um)
    inside = (sites[:, 0] + d / 2 <= w + 1e-9) & (sites[:, 1] + d / 2 <= h + 1e-9)
    sites = sites[inside]
    keep = np.ones(len(sites), dtype=bool)
    for (x, y), da in zip(am_pos, am_dia, strict=True):
        dx = min_image(sites[:, 0] - x, w, periodic)
        dy = min_image(sites[:, 1] - y, h, periodic)
        keep &= dx * dx + dy * dy >= (0.5 * da + 0.5 * d) ** 2
    return sites[keep]
