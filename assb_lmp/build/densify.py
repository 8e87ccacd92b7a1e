"""Shared geometry of the packers: size draws, minimum images, overlap tests and the
collective rearrangement that removes overlaps where random sequential addition stalls.

Collective rearrangement: every overlapping pair is pushed apart along its centre line by
slightly more than half its overlap each, particles are kept inside the cell (or wrapped
in a periodic one), and the sweep is repeated until no overlap remains. Coincident centres
get a small random kick from the packing's generator, so the result stays a function of
the seed. Lengths are in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assb_lmp.core.errors import PackingError

#: Overlap (µm) below which two particles, or a particle and a wall, count as touching.
TOL_UM = 1e-9
#: Each particle of an overlapping pair moves half the overlap times this (converges).
PUSH = 0.5 * 1.05


@dataclass
class SizeDraw:
    """Diameters (µm) from a normal distribution, redrawn until inside [dmin, dmax]."""

    mean: float
    sd: float
    rng: np.random.Generator
    dmin: float
    dmax: float

    def diameter(self) -> float:
        """One diameter (µm); the clipped mean if 1000 draws all fall outside."""
        for _ in range(1000):
            d = self.rng.normal(self.mean, self.sd) if self.sd > 0 else self.mean
            if self.dmin <= d <= self.dmax:
                return float(d)
        return float(np.clip(self.mean, self.dmin, self.dmax))


def draw_value(rng: np.random.Generator, v: float | tuple[float, float]) -> float:
    """A number, or one uniform draw from a ``(lo, hi)`` range (no draw when lo == hi)."""
    if isinstance(v, int | float):
        return float(v)
    lo, hi = v
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def min_image(d: np.ndarray, length: float, periodic: bool) -> np.ndarray:
    """Minimum-image separation along one axis of period ``length`` (µm)."""
    if periodic:
        d = d - length * np.round(d / length)
    return d


def min_image_3d(d: np.ndarray, lx: float, ly: float) -> np.ndarray:
    """Minimum image of separations (..., 3) in a cell periodic in x and y (µm)."""
    d = d.copy()
    d[..., 0] -= lx * np.round(d[..., 0] / lx)
    d[..., 1] -= ly * np.round(d[..., 1] / ly)
    return d


def overlaps(x: float, y: float, r: float, pos: np.ndarray, rad: np.ndarray,
             w: float, h: float, periodic: bool) -> bool:
    """Whether a disc of radius r at (x, y) overlaps any disc (pos, rad) of a w × h cell."""
    if len(rad) == 0:
        return False
    dx = min_image(pos[:, 0] - x, w, periodic)
    dy = min_image(pos[:, 1] - y, h, periodic)
    return bool(np.any(dx * dx + dy * dy < (rad + r) ** 2))


def _pair_overlaps(pos: np.ndarray, rad: np.ndarray, w: float, h: float, periodic: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dy, dist, overlap) of every pair of discs; the diagonal is excluded."""
    dx = min_image(pos[:, None, 0] - pos[None, :, 0], w, periodic)
    dy = min_image(pos[:, None, 1] - pos[None, :, 1], h, periodic)
    dist = np.sqrt(dx * dx + dy * dy)
    np.fill_diagonal(dist, np.inf)
    ov = rad[:, None] + rad[None, :] - dist
    np.fill_diagonal(ov, 0.0)
    return dx, dy, dist, np.where(ov > 0, ov, 0.0)


def _inside_walls(pos: np.ndarray, rad: np.ndarray, w: float, h: float) -> bool:
    lo = np.minimum(pos[:, 0] - rad, pos[:, 1] - rad)
    hi = np.maximum(pos[:, 0] + rad - w, pos[:, 1] + rad - h)
    return bool(np.all(lo >= -TOL_UM) and np.all(hi <= TOL_UM))


def rearrange(pos: np.ndarray, rad: np.ndarray, w: float, h: float, periodic: bool,
              rng: np.random.Generator, max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """Collective rearrangement of discs in a w × h cell (µm) until none overlap.

    Returns
    -------
    positions : ndarray, shape (n, 2)
        The new centres (µm).
    sweeps : int
        Number of sweeps used.

    Raises
    ------
    PackingError
        If overlaps remain after ``max_iter`` sweeps.
    """
    pos = pos.copy()
    n = len(rad)
    for it in range(1, max_iter + 1):
        dx, dy, dist, ov = _pair_overlaps(pos, rad, w, h, periodic)
        wall_ok = periodic or _inside_walls(pos, rad, w, h)
        if ov.max(initial=0.0) <= TOL_UM and wall_ok:
            return pos, it
        safe = np.where(dist > 1e-12, dist, 1e-12)
        shift = PUSH * ov / safe
        mx = np.sum(shift * dx, axis=1)
        my = np.sum(shift * dy, axis=1)
        stuck = np.any((dist < 1e-12) & (ov > 0), axis=1)  # coincident centres: random kick
        if np.any(stuck):
            mx[stuck] += rng.normal(0, 0.1, stuck.sum())
            my[stuck] += rng.normal(0, 0.1, stuck.sum())
        pos[:, 0] += mx
        pos[:, 1] += my
        if periodic:
            pos[:, 0] %= w
            pos[:, 1] %= h
        else:
            pos[:, 0] = np.clip(pos[:, 0], rad, w - rad)
            pos[:, 1] = np.clip(pos[:, 1], rad, h - rad)
        if n == 0:
            break
    raise PackingError("collective rearrangement did not remove all overlaps")


def rearrange_3d(pos: np.ndarray, rad: np.ndarray, lx: float, ly: float, h: float,
                 rng: np.random.Generator, max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """Collective rearrangement of spheres in a cell periodic in x, y with walls along z.

    As :func:`rearrange`; z is kept in [r, h − r]. Returns the new centres (n, 3) and the
    number of sweeps; raises PackingError if overlaps remain after ``max_iter`` sweeps.
    """
    pos = pos.copy()
    for it in range(1, max_iter + 1):
        d = min_image_3d(pos[:, None, :] - pos[None, :, :], lx, ly)
        dist = np.sqrt(np.sum(d * d, axis=2))
        np.fill_diagonal(dist, np.inf)
        ov = rad[:, None] + rad[None, :] - dist
        np.fill_diagonal(ov, 0.0)
        ov = np.where(ov > 0, ov, 0.0)
        wall_ok = bool(np.all(pos[:, 2] - rad >= -TOL_UM)
                       and np.all(pos[:, 2] + rad - h <= TOL_UM))
        if ov.max(initial=0.0) <= TOL_UM and wall_ok:
            return pos, it
        safe = np.where(dist > 1e-12, dist, 1e-12)
        shift = PUSH * ov / safe
        move = np.einsum("ij,ijk->ik", shift, d)
        stuck = np.any((dist < 1e-12) & (ov > 0), axis=1)
        if np.any(stuck):
            move[stuck] += rng.normal(0, 0.1, (int(stuck.sum()), 3))
        pos += move
        pos[:, 0] %= lx
        pos[:, 1] %= ly
        pos[:, 2] = np.clip(pos[:, 2], rad, h - rad)
    raise PackingError("collective rearrangement did not remove all overlaps")
