"""Random polydisperse SE packing (``packing.se_packing: random``), 2D and 3D.

1. Diameters: drawn from ``se_size_distribution`` (mean ``se_diameter_um``, SD
   ``se_diameter_sd_um``), truncated to :func:`assb_lmp.spec.case.se_diameter_bounds_um`,
   until their area (3D: volume) is ``se_fill_fraction`` of the space the AM leaves free
   in the initial cell.
2. Random sequential addition, largest first: each particle tries up to
   :data:`RSA_ATTEMPTS` random centres (inside the walls, anywhere along periodic axes)
   and keeps the first that overlaps neither an AM particle nor a placed SE particle
   (a cell list of the placed SE makes each test cost the same however many are placed).
3. Where the addition stalls (no free centre found), the rest are dropped at random
   centres clear of the AM and a collective rearrangement removes every overlap: the
   soft-particle relaxation of :func:`assb_lmp.build.softpack.relax` with the AM held
   fixed, which moves all SE particles at once until none overlaps (below jamming the
   overlap energy reaches zero); where that stalls, a grow-and-rearrange schedule from a
   smaller size. A fill that neither makes overlap-free is an error.

The same seed gives the same packing, bit for bit. Lengths in µm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assb_lmp.build.softpack import Cell, RelaxResult, relax
from assb_lmp.core.errors import PackingError
from assb_lmp.spec.case import Packing, se_diameter_bounds_um

#: Candidate centres tried per SE particle before the addition counts as stalled, and the
#: batch size in which they are drawn and tested.
RSA_ATTEMPTS, RSA_BATCH = 256, 32
#: Densifying step: FIRE iterations of the relaxation at full size, and the schedule of the
#: grow-and-rearrange fallback (start size, growth per round).
DIRECT_ITERATIONS = 4000
GROW_START, GROW_FACTOR = 0.85, 1.04
#: Overlap left after the rearrangement, as a fraction of the smallest SE diameter.
OVERLAP_TOL_FRACTION = 1e-3


def _measure(d: np.ndarray | float, dim: int) -> np.ndarray | float:
    """Area (2D, µm²) or volume (3D, µm³) of discs / spheres of diameter d (µm)."""
    return np.pi / 4.0 * d**2 if dim == 2 else np.pi / 6.0 * d**3


def draw_diameters(p: Packing, amount: float, dim: int, rng: np.random.Generator
                   ) -> np.ndarray:
    """SE diameters (µm) whose total area (volume) is ``amount`` to within half a mean
    particle, in the order drawn; every draw outside the bounds is drawn again."""
    lo, hi = se_diameter_bounds_um(p)
    mean, sd = p.se_diameter_um, p.se_diameter_sd_um
    if sd == 0:
        n = int(round(amount / _measure(mean, dim)))
        return np.full(n, mean)
    kept: list[np.ndarray] = []
    total = 0.0
    while total < amount + _measure(mean, dim):
        if p.se_size_distribution == "normal":
            d = rng.normal(mean, sd, 1024)
        else:
            s = math.sqrt(math.log1p((sd / mean) ** 2))
            d = rng.lognormal(math.log(mean) - 0.5 * s * s, s, 1024)
        d = d[(d >= lo) & (d <= hi)]
        kept.append(d)
        total += float(np.sum(_measure(d, dim)))
    d = np.concatenate(kept)
    n = int(np.searchsorted(np.cumsum(_measure(d, dim)), amount + 0.5 * _measure(mean, dim)))
    return d[:n]


@dataclass
class _Grid:
    """Cell list of the placed SE particles: up to ``depth`` indices per cell (−1 empty)."""

    lengths: np.ndarray
    periodic: tuple[bool, ...]
    counts: np.ndarray   # cells per axis
    slots: np.ndarray    # (n_cells, depth) of particle indices
    fill: np.ndarray     # particles per cell

    @classmethod
    def empty(cls, lengths: np.ndarray, periodic: tuple[bool, ...], d_max: float,
              d_min: float) -> _Grid:
        counts = np.maximum(np.floor(lengths / d_max).astype(np.int64), 1)
        dim = len(lengths)
        depth = int(math.ceil((1.0 + d_max / d_min) ** dim)) + 1
        n_cells = int(np.prod(counts))
        return cls(lengths, periodic, counts, np.full((n_cells, depth), -1, np.int64),
                   np.zeros(n_cells, np.int64))

    def cell_of(self, x: np.ndarray) -> np.ndarray:
        """Integer cell coordinates (k, dim) of centres (k, dim)."""
        c = np.floor(x / self.lengths * self.counts).astype(np.int64)
        return np.clip(c, 0, self.counts - 1)

    def flat(self, c: np.ndarray) -> np.ndarray:
        """Flat cell index of (k, dim) coordinates; −1 outside a walled axis."""
        out = np.zeros(len(c), np.int64)
        bad = np.zeros(len(c), bool)
        for a, per in enumerate(self.periodic):
            ca = c[:, a]
            if per:
                ca = np.mod(ca, self.counts[a])
            else:
                bad |= (ca < 0) | (ca >= self.counts[a])
            out = out * self.counts[a] + np.clip(ca, 0, self.counts[a] - 1)
        out[bad] = -1
        return out

    def add(self, index: int, x: np.ndarray) -> None:
        """File particle ``index`` at centre x (dim,)."""
        f = int(self.flat(self.cell_of(x[None, :]))[0])
        if self.fill[f] >= self.slots.shape[1]:
            self.slots = np.hstack([self.slots, np.full_like(self.slots, -1)])
        self.slots[f, self.fill[f]] = index
        self.fill[f] += 1

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """Indices (k, 3^dim × depth) of the particles in the cells around each centre."""
        dim = len(self.lengths)
        offsets = np.stack(np.meshgrid(*[[-1, 0, 1]] * dim, indexing="ij"), -1).reshape(-1, dim)
        c = self.cell_of(x)[:, None, :] + offsets[None, :, :]
        f = self.flat(c.reshape(-1, dim)).reshape(len(x), -1)
        idx = self.slots[np.maximum(f, 0)]
        idx[f < 0] = -1
        return idx.reshape(len(x), -1)


@dataclass
class _Scene:
    """The cell and the fixed AM obstacles the SE particles are placed among."""

    lengths: np.ndarray
    periodic: tuple[bool, ...]
    am_pos: np.ndarray
    am_rad: np.ndarray

    def min_image(self, d: np.ndarray) -> np.ndarray:
        for a, per in enumerate(self.periodic):
            if per:
                d[..., a] -= self.lengths[a] * np.round(d[..., a] / self.lengths[a])
        return d

    def random_centres(self, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform centre per radius in ``r`` (k,), inside the walls (µm)."""
        lo = np.column_stack([np.zeros_like(r) if per else r for per in self.periodic])
        hi = np.column_stack([np.full_like(r, L) if per else L - r
                              for L, per in zip(self.lengths, self.periodic, strict=True)])
        return rng.uniform(lo, hi)

    def centres_clear_of_am(self, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random centre per radius in ``r`` that overlaps no AM particle (nor a wall):
        each is drawn again, up to :data:`RSA_ATTEMPTS` times, while it does."""
        x = self.random_centres(r, rng)
        for _ in range(RSA_ATTEMPTS):
            bad = np.array([not self.clear_of_am(xi[None, :], ri)[0] for xi, ri in zip(x, r,
                                                                                  strict=True)])
            if not np.any(bad):
                break
            x[bad] = self.random_centres(r[bad], rng)
        return x

    def clear_of_am(self, x: np.ndarray, r: float) -> np.ndarray:
        """Which candidate centres (k, dim) keep a particle of radius r off every AM one."""
        if len(self.am_rad) == 0:
            return np.ones(len(x), bool)
        d = self.min_image(x[:, None, :] - self.am_pos[None, :, :])
        return np.all(np.sum(d * d, axis=2) >= (self.am_rad + r) ** 2, axis=1)


def _first_free(scene: _Scene, grid: _Grid, pos: np.ndarray, rad: np.ndarray, r: float,
                rng: np.random.Generator) -> np.ndarray | None:
    """A random centre for a particle of radius r that overlaps nothing placed, or None."""
    for _ in range(RSA_ATTEMPTS // RSA_BATCH):
        x = scene.random_centres(np.full(RSA_BATCH, r), rng)
        ok = scene.clear_of_am(x, r)
        idx = grid.neighbours(x)
        valid = idx >= 0
        d = scene.min_image(x[:, None, :] - pos[np.maximum(idx, 0)])
        hit = valid & (np.sum(d * d, axis=2) < (rad[np.maximum(idx, 0)] + r) ** 2)
        ok &= ~np.any(hit, axis=1)
        if np.any(ok):
            return x[int(np.argmax(ok))]
    return None


def _rsa(scene: _Scene, dia: np.ndarray, rng: np.random.Generator
         ) -> tuple[np.ndarray, int]:
    """Random sequential addition of SE particles (diameters in placement order).

    Returns the centres of the first ``k`` placed particles (array sized for all) and k.
    """
    dim = len(scene.lengths)
    pos = np.zeros((len(dia), dim))
    rad = 0.5 * dia
    grid = _Grid.empty(scene.lengths, scene.periodic, float(dia.max(initial=1.0)),
                       float(dia.min(initial=1.0)))
    for k, r in enumerate(rad):
        x = _first_free(scene, grid, pos, rad, float(r), rng)
        if x is None:
            return pos, k
        pos[k] = x
        grid.add(k, x)
    return pos, len(dia)


def pack_se_random(p: Packing, lengths: np.ndarray, periodic: tuple[bool, ...],
                   am_pos: np.ndarray, am_dia: np.ndarray, rng: np.random.Generator,
                   am_amount: float | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Place random polydisperse SE particles among fixed AM ones.

    Parameters
    ----------
    p : Packing
        The packing parameters (SE size distribution and fill).
    lengths, periodic
        The initial cell (µm) along each axis and which axes are periodic.
    am_pos, am_dia : ndarray
        AM centres (m, dim) and diameters (m,) (µm): discs, spheres, or the sub-spheres
        of multisphere bodies.
    am_amount : float, optional
        AM area (3D: volume) in the cell (µm², µm³); default the sum over ``am_dia``
        (give the union area of multisphere bodies, whose sub-spheres overlap).

    Returns
    -------
    positions : ndarray, shape (k, dim)
        SE centres (µm).
    diameters : ndarray, shape (k,)
        SE diameters (µm).
    info : dict
        Counts, fill reached, and the densifying step used.
    """
    dim = len(lengths)
    scene = _Scene(np.asarray(lengths, float), tuple(periodic), am_pos, 0.5 * am_dia)
    if am_amount is None:
        am_amount = float(np.sum(_measure(am_dia, dim)))
    free = float(np.prod(lengths)) - am_amount
    dia = draw_diameters(p, p.se_fill_fraction * free, dim, rng)
    dia = dia[np.argsort(-dia, kind="stable")]
    pos, placed = _rsa(scene, dia, rng)
    densify = "none (random sequential addition reached the fill)"
    if placed < len(dia):
        pos[placed:] = scene.centres_clear_of_am(0.5 * dia[placed:], rng)
        pos, iters, how = _rearrange(scene, pos, dia, placed)
        densify = (f"collective rearrangement: random addition stalled after {placed} of "
                   f"{len(dia)} SE particles; the rest were dropped at random and every "
                   f"overlap removed by a soft-particle relaxation {how} ({iters} FIRE "
                   "iterations, AM fixed)")
    info = {
        "se_packing": "random",
        "se_size_distribution": p.se_size_distribution,
        "se_diameter_mean_um": float(np.mean(dia)) if len(dia) else p.se_diameter_um,
        "se_diameter_sd_um": float(np.std(dia)) if len(dia) else 0.0,
        "se_fill_target": p.se_fill_fraction,
        "se_fill_reached": float(np.sum(_measure(dia, dim))) / free,
        "se_rsa_placed": int(placed),
        "se_densify": densify,
    }
    return pos, dia, info


def _relax_se(scene: _Scene, pos: np.ndarray, dia: np.ndarray, scale: float, max_iter: int
              ) -> RelaxResult:
    """Remove the overlaps of the SE particles at ``scale`` × their size, the AM fixed."""
    n_am = len(scene.am_rad)
    all_pos = np.vstack([scene.am_pos, pos]) if n_am else pos
    rad = np.concatenate([scene.am_rad, 0.5 * scale * dia])
    mobile = np.arange(len(rad)) >= n_am
    return relax(all_pos, rad, Cell(scene.lengths, scene.periodic), mobile=mobile,
                 max_iter=max_iter, overlap_tol=OVERLAP_TOL_FRACTION * float(dia.min()))


def _rearrange(scene: _Scene, pos: np.ndarray, dia: np.ndarray, placed: int
               ) -> tuple[np.ndarray, int, str]:
    """Remove every overlap of the SE particles, the AM fixed.

    First at full size (:data:`DIRECT_ITERATIONS` FIRE iterations at most); where that
    does not suffice, grow and rearrange: from the placed state, shrink every SE particle
    to :data:`GROW_START` of its size, remove the overlaps, grow by :data:`GROW_FACTOR`
    per round with the overlaps removed after each, up to full size.

    Returns the SE centres, the FIRE iterations and how it went; PackingError where the
    last round cannot remove every overlap.
    """
    n_am = len(scene.am_rad)
    res = _relax_se(scene, pos, dia, 1.0, DIRECT_ITERATIONS)
    total, how = res.iterations, "at full size"
    lam = GROW_START
    while not res.converged and lam <= 1.0:
        last = lam >= 1.0
        res = _relax_se(scene, pos, dia, lam, 10000 if last else 2000)
        total += res.iterations
        pos = res.positions[n_am:]
        how = (f"at full size, then grown from {GROW_START:g} of their size in "
               f"{100 * (GROW_FACTOR - 1):.0f} % steps with a relaxation after each")
        # a round below full size that cannot remove its overlaps: the fill is too high
        lam = 2.0 if last or not res.converged else min(1.0, lam * GROW_FACTOR)
    if not res.converged:
        raise PackingError(
            f"packing.se_fill_fraction: random addition stalled after {placed} of {len(dia)} "
            f"SE particles and the rearrangement could not remove every overlap (largest "
            f"{res.max_overlap_um:.3g} µm left after {total} iterations): the fill is above "
            "what the space between the AM particles holds; lower se_fill_fraction"
        )
    return res.positions[n_am:], total, how
