"""Soft-particle relaxation of a packing: FIRE minimisation of the overlap energy.

Every overlapping pair of particles (and every particle overlapping a wall) carries a
repulsive normal force, no friction. The force law (:class:`ContactLaw`) is harmonic,
f = k δ with k = E*_ij √(R*_ij / r_ref), or Hertzian, f = ⅔ k δ^(3/2) / √δ_ref, in
reduced units in which the contact stiffness is of order one (the Hertz law with the
cards' E* and ν is the engine's normal law; :func:`hertz_law` gives the force unit that
turns reduced forces into nN). :func:`relax` minimises the overlap energy with FIRE
(Bitzek et al., Phys. Rev. Lett. 97, 170201 (2006)):

* at a fixed cell (``stress=None``) it removes the overlaps of a packing below jamming
  (a *collective rearrangement* that moves every particle at once, the densifying step
  of the random SE packer); where the energy cannot reach zero the packing is jammed;
* with a target ``stress`` it also moves the press-axis length of the cell (an affine
  barostat: the cell length is one more degree of freedom, and the particle coordinates
  along the axis scale with it) until the stress along the press axis, from the contact
  virial, equals the target: the frictionless, static packing of the same particles at
  that stress. With the Hertz law and the pre-load's stress this is the state that a
  quasi-static, frictionless pre-load reaches (:func:`collapse`).

Neighbour lists come from a k-d tree (small particles) and brute force (the few large
ones), rebuilt when a particle has moved half the skin. Pair lists are sorted and forces
summed with ``numpy.bincount``, so the result is a deterministic function of the input,
bit for bit. Works in 2D and 3D; periodic or walled along each axis. Lengths in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

#: FIRE constants (Bitzek et al. 2006); reduced units: stiffness and mass of order one.
FIRE_NMIN, FIRE_FINC, FIRE_FDEC, FIRE_A0, FIRE_FA = 5, 1.1, 0.5, 0.1, 0.99
FIRE_DT0, FIRE_DT_MAX = 0.05, 0.2
#: Creep criterion of :func:`collapse` (strain per :data:`CREEP_WINDOW` iterations).
COLLAPSE_CREEP = 1e-3
#: Iterations over which the cell length must have settled (creep criterion of :func:`relax`).
CREEP_WINDOW = 200


@dataclass
class Cell:
    """A rectangular cell [0, L_a] along each axis a (µm).

    Attributes
    ----------
    lengths : ndarray, shape (dim,)
        Cell lengths (µm).
    periodic : tuple of bool
        Periodic along each axis; the other axes have walls at 0 and L_a.
    """

    lengths: np.ndarray
    periodic: tuple[bool, ...]

    @property
    def volume(self) -> float:
        """Cell area (2D, µm²) or volume (3D, µm³)."""
        return float(np.prod(self.lengths))


@dataclass(frozen=True)
class ContactLaw:
    """Normal contact law of the relaxation, in reduced units.

    Attributes
    ----------
    compliance : ndarray, shape (n,), optional
        (1 − ν²)/E of every particle over that of the reference (E*_ij = 1 / (c_i + c_j)
        in units of the reference E*); None: 0.5 for all (E* = 1 everywhere).
    wall_compliance : float
        The same for the walls.
    hertz : bool
        f ∝ δ^(3/2) (Hertz) instead of f ∝ δ.
    r_ref, delta_ref : float
        Reference contact radius R* and overlap (µm) of the reduced units; r_ref None:
        the median particle radius.
    """

    compliance: np.ndarray | None = None
    wall_compliance: float = 0.5
    hertz: bool = False
    r_ref: float | None = None
    delta_ref: float = 1e-3

    def resolved(self, rad: np.ndarray) -> ContactLaw:
        """The law with its per-particle compliances and reference radius filled in."""
        c = np.full(len(rad), 0.5) if self.compliance is None else np.asarray(self.compliance)
        r_ref = float(np.median(rad)) if self.r_ref is None and len(rad) else (self.r_ref or 1.0)
        return ContactLaw(c, self.wall_compliance, self.hertz, r_ref, self.delta_ref)

    def force(self, k: np.ndarray, ov: np.ndarray) -> np.ndarray:
        """Force (reduced, µm) of contacts of stiffness factor k at overlaps ov ≥ 0 (µm)."""
        if self.hertz:
            return (2.0 / 3.0) * k * ov * np.sqrt(ov / self.delta_ref)
        return k * ov


def hertz_law(rad: np.ndarray, e_star_ref_kpa: float, compliance: np.ndarray,
              wall_compliance: float) -> tuple[ContactLaw, float]:
    """The Hertz law of a packing and its force unit K (nN/µm: F = K f_reduced).

    Parameters
    ----------
    rad : ndarray
        Particle radii (µm); the reference R* is half their median (a pair of median ones).
    e_star_ref_kpa : float
        The reference E* (kPa) that the compliances are relative to.
    compliance, wall_compliance
        (1 − ν²)/E of every particle and of the walls, times ``e_star_ref_kpa``.
    """
    r_ref = 0.5 * float(np.median(rad))
    law = ContactLaw(np.asarray(compliance, float), float(wall_compliance), True, r_ref,
                     1e-3 * r_ref)
    return law, 2.0 * e_star_ref_kpa * float(np.sqrt(r_ref * law.delta_ref))


@dataclass
class RelaxResult:
    """The relaxed packing.

    Attributes
    ----------
    positions : ndarray, shape (n, dim)
        Centres (µm), wrapped into the cell along periodic axes.
    lengths : ndarray, shape (dim,)
        Cell lengths (µm); only the press axis changes, and only with a target stress.
    iterations : int
        FIRE iterations used.
    max_overlap_um : float
        Largest overlap left (pairs and walls, µm).
    stress : float
        Stress along the press axis from the contact virial (k = 1 units: 1 in 2D, µm⁻¹
        in 3D).
    converged : bool
        Whether the stopping criterion was met within the iteration limit.
    """

    positions: np.ndarray
    lengths: np.ndarray
    iterations: int
    max_overlap_um: float
    stress: float
    converged: bool


def _min_image(d: np.ndarray, cell: Cell) -> np.ndarray:
    for a, per in enumerate(cell.periodic):
        if per:
            d[:, a] -= cell.lengths[a] * np.round(d[:, a] / cell.lengths[a])
    return d


def neighbour_pairs(pos: np.ndarray, rad: np.ndarray, cell: Cell, skin: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) closer than r_i + r_j + skin (µm), sorted by (i, j)."""
    n = len(rad)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    big = rad > 2.0 * np.median(rad)
    small = np.flatnonzero(~big)
    keys = [np.zeros(0, dtype=np.int64)]
    if small.size > 1:
        box = np.array([cell.lengths[a] if per else 4.0 * (cell.lengths[a] + 4.0 * rad.max())
                        for a, per in enumerate(cell.periodic)])
        p = pos[small].copy()
        for a, per in enumerate(cell.periodic):
            p[:, a] = np.mod(p[:, a], box[a]) if per else p[:, a] + 2.0 * rad.max()
        p = np.minimum(p, np.nextafter(box, 0))
        tree = cKDTree(p, boxsize=box)
        pr = small[tree.query_pairs(2.0 * rad[small].max() + skin, output_type="ndarray")]
        keys.append(_keys(pos, rad, pr[:, 0], pr[:, 1], cell, skin, n))
    for b in np.flatnonzero(big):
        others = np.delete(np.arange(n), b)
        keys.append(_keys(pos, rad, np.full(others.size, b), others, cell, skin, n))
    k = np.unique(np.concatenate(keys))  # big-big pairs appear twice; unique also sorts
    return k // n, k % n


def _keys(pos: np.ndarray, rad: np.ndarray, i: np.ndarray, j: np.ndarray, cell: Cell,
          skin: float, n: int) -> np.ndarray:
    """Keys min(i,j)·n + max(i,j) of the candidate pairs closer than r_i + r_j + skin."""
    d = _min_image(pos[j] - pos[i], cell)
    near = np.einsum("ij,ij->i", d, d) < (rad[i] + rad[j] + skin) ** 2
    i, j = i[near], j[near]
    return np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j)


@dataclass
class _Pairs:
    """A neighbour list with what the force loop needs of every pair."""

    i: np.ndarray
    j: np.ndarray
    k: np.ndarray       # stiffness factor E*_ij √(R*_ij / r_ref)
    reach: np.ndarray   # r_i + r_j (µm)
    scatter: np.ndarray  # bincount indices: force components on j, then on i

    @classmethod
    def build(cls, pos: np.ndarray, rad: np.ndarray, cell: Cell, skin: float,
              law: ContactLaw) -> _Pairs:
        i, j = neighbour_pairs(pos, rad, cell, skin)
        dim = pos.shape[1]
        r_star = rad[i] * rad[j] / (rad[i] + rad[j])
        k = np.sqrt(r_star / law.r_ref) / (law.compliance[i] + law.compliance[j])
        scatter = np.concatenate([j * dim + a for a in range(dim)]
                                 + [i * dim + a for a in range(dim)])
        return cls(i, j, k, rad[i] + rad[j], scatter)


def _pair_forces(pos: np.ndarray, pairs: _Pairs, cell: Cell, axis: int, law: ContactLaw
                 ) -> tuple[np.ndarray, float, float]:
    """Pair forces (n, dim), their virial along ``axis`` (Σ f d_a²/r, µm²) and the
    largest overlap (µm)."""
    n, dim = pos.shape
    if pairs.i.size == 0:
        return np.zeros((n, dim)), 0.0, 0.0
    d = _min_image(pos[pairs.j] - pos[pairs.i], cell)
    r = np.maximum(np.sqrt(np.einsum("ij,ij->i", d, d)), 1e-12)
    ov = np.maximum(pairs.reach - r, 0.0)
    fr = law.force(pairs.k, ov) / r
    fvec = fr[:, None] * d  # force on j, away from i
    w = np.concatenate([fvec.T.ravel(), -fvec.T.ravel()])
    force = np.bincount(pairs.scatter, w, minlength=n * dim).reshape(n, dim)
    return force, float(np.dot(fr, d[:, axis] ** 2)), float(ov.max())


def _wall_forces(pos: np.ndarray, rad: np.ndarray, cell: Cell, axis: int, law: ContactLaw
                 ) -> tuple[np.ndarray, float, float]:
    """Wall forces (R* = r, E* from the particle's and the wall's compliance) (n, dim), their
    virial along ``axis`` (µm²) and the largest wall overlap (µm)."""
    force = np.zeros_like(pos)
    virial = 0.0
    worst = 0.0
    k = np.sqrt(rad / law.r_ref) / (law.compliance + law.wall_compliance)
    for a, per in enumerate(cell.periodic):
        if per:
            continue
        lo = np.maximum(rad - pos[:, a], 0.0)
        hi = np.maximum(rad - (cell.lengths[a] - pos[:, a]), 0.0)
        f_lo, f_hi = law.force(k, lo), law.force(k, hi)
        force[:, a] += f_lo - f_hi
        worst = max(worst, float(lo.max(initial=0.0)), float(hi.max(initial=0.0)))
        if a == axis:
            virial += float(np.sum(f_lo * pos[:, a])
                            + np.sum(f_hi * (cell.lengths[a] - pos[:, a])))
    return force, virial, worst


@dataclass
class _Fire:
    """FIRE state: time step, mixing parameter, steps since the power was last negative."""

    dt: float = FIRE_DT0
    dt_max: float = FIRE_DT_MAX
    alpha: float = FIRE_A0
    n_pos: int = 0

    def mix(self, v: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Velocities after the FIRE mixing step (zero and a smaller step when going uphill)."""
        power = float(np.sum(f * v))
        if power > 0.0:
            fn = float(np.sqrt(np.sum(f * f)))
            if fn > 0.0:
                v = (1.0 - self.alpha) * v + self.alpha * float(np.sqrt(np.sum(v * v))) * f / fn
            self.n_pos += 1
            if self.n_pos > FIRE_NMIN:
                self.dt = min(self.dt * FIRE_FINC, self.dt_max)
                self.alpha *= FIRE_FA
            return v
        self.n_pos = 0
        self.dt *= FIRE_FDEC
        self.alpha = FIRE_A0
        return np.zeros_like(v)


@dataclass
class _State:
    """What one iteration sees: forces, the stress along the axis, the worst overlap."""

    force: np.ndarray
    stress: float
    worst: float


def _evaluate(pos: np.ndarray, rad: np.ndarray, pairs: _Pairs, cell: Cell, axis: int,
              law: ContactLaw, mobile: np.ndarray) -> _State:
    fp, vp, op = _pair_forces(pos, pairs, cell, axis, law)
    fw, vw, ow = _wall_forces(pos, rad, cell, axis, law)
    force = fp + fw
    force[~mobile] = 0.0
    return _State(force, (vp + vw) / cell.volume, max(op, ow))


def relax(pos: np.ndarray, rad: np.ndarray, cell: Cell, mobile: np.ndarray | None = None,
          law: ContactLaw | None = None, stress: float | None = None, axis: int = 0,
          max_iter: int = 20000, overlap_tol: float = 1e-6, stress_tol: float = 0.05,
          creep_tol: float = 2e-4) -> RelaxResult:
    """Minimise the overlap energy, at a target stress along ``axis`` if one is given.

    Parameters
    ----------
    pos, rad : ndarray
        Centres (n, dim) and radii (n,) (µm).
    cell : Cell
        The cell; with a target stress its length along ``axis`` (a walled axis) changes.
    mobile : ndarray of bool, optional
        Particles that may move (default all); the others are fixed obstacles.
    law : ContactLaw, optional
        The force law (default harmonic with E* = 1).
    stress : float, optional
        Target stress along ``axis`` (reduced units: the virial over the cell volume). None
        keeps the cell and stops when no overlap exceeds ``overlap_tol`` (µm).
    stress_tol, creep_tol : float
        With a target stress: stop when the stress is within ``stress_tol`` of the target
        and the cell length moved less than ``creep_tol`` (strain) over the last
        :data:`CREEP_WINDOW` iterations.

    Returns
    -------
    RelaxResult
    """
    pos = np.array(pos, dtype=float)
    n, dim = pos.shape
    cell = Cell(np.array(cell.lengths, dtype=float), tuple(cell.periodic))
    mob = np.ones(n, bool) if mobile is None else np.asarray(mobile, bool)
    law = (law or ContactLaw()).resolved(rad)
    skin = 0.5 * float(np.min(rad)) if n else 0.1
    # masses ∝ r^dim (uniform density): the stiff contacts of large particles then ring no
    # faster than those of small ones, and one FIRE step suits them all
    inv_mass = np.append(np.repeat((np.median(rad) / rad) ** dim if n else rad, dim), 1.0)
    fire = _Fire()
    v = np.zeros(n * dim + 1)
    pairs = _Pairs.build(pos, rad, cell, skin, law)
    ref = pos.copy()
    history = [float(cell.lengths[axis])]
    it = 0
    for it in range(1, max_iter + 1):
        st = _evaluate(pos, rad, pairs, cell, axis, law, mob)
        if _finished(st, stress, history, overlap_tol, stress_tol, creep_tol):
            return RelaxResult(_wrapped(pos, cell), cell.lengths, it, st.worst, st.stress, True)
        f_len = 0.0 if stress is None else (st.stress - stress) * cell.volume / cell.lengths[axis]
        acc = np.append(st.force.ravel(), f_len) * inv_mass
        v = fire.mix(v, acc) + fire.dt * acc
        pos += fire.dt * v[:-1].reshape(n, dim)
        if stress is not None:
            new = max(cell.lengths[axis] + fire.dt * v[-1], 0.5 * cell.lengths[axis])
            pos[:, axis] *= new / cell.lengths[axis]
            cell.lengths[axis] = new
            history.append(new)
        if np.max(np.abs(pos - ref), initial=0.0) > 0.5 * skin:
            pairs = _Pairs.build(pos, rad, cell, skin, law)
            ref = pos.copy()
    st = _evaluate(pos, rad, pairs, cell, axis, law, mob)
    return RelaxResult(_wrapped(pos, cell), cell.lengths, it, st.worst, st.stress, False)


def _finished(st: _State, stress: float | None, history: list[float], overlap_tol: float,
              stress_tol: float, creep_tol: float) -> bool:
    if stress is None:
        return st.worst <= overlap_tol
    if len(history) <= CREEP_WINDOW or abs(st.stress - stress) > stress_tol * stress:
        return False
    return abs(history[-1] / history[-1 - CREEP_WINDOW] - 1.0) < creep_tol


def _wrapped(pos: np.ndarray, cell: Cell) -> np.ndarray:
    out = pos.copy()
    for a, per in enumerate(cell.periodic):
        if per:
            out[:, a] = np.mod(out[:, a], cell.lengths[a])
    return out


@dataclass
class CollapseResult:
    """The outcome of :func:`collapse`.

    Attributes
    ----------
    positions : ndarray, shape (n, dim)
        Centres (µm), with the overlaps that carry the target stress.
    length : float
        Cell length along the press axis (µm).
    iterations : int
        FIRE iterations.
    converged : bool
        Whether the stress was held and the length had stopped creeping.
    max_overlap_um : float
        Largest overlap (µm).
    stress : float
        Stress reached (reduced units).
    """

    positions: np.ndarray
    length: float
    iterations: int
    converged: bool
    max_overlap_um: float
    stress: float


def collapse(pos: np.ndarray, rad: np.ndarray, cell: Cell, law: ContactLaw, stress: float,
             axis: int = 0, max_iter: int = 6000) -> CollapseResult:
    """Collapse a loose packing along ``axis`` to the static state at ``stress``.

    :func:`relax` with the target stress: the cell length follows the stress (an affine
    barostat) while FIRE rearranges the particles, until the stress is within 5 % of the
    target and the length creeps by less than :data:`COLLAPSE_CREEP` per
    :data:`CREEP_WINDOW` iterations, or ``max_iter`` iterations. The packing then carries
    the stress with the overlaps that its contact law needs for it.
    """
    res = relax(pos, rad, cell, law=law, stress=stress, axis=axis, max_iter=max_iter,
                creep_tol=COLLAPSE_CREEP)
    return CollapseResult(res.positions, float(res.lengths[axis]), res.iterations,
                          res.converged, res.max_overlap_um, res.stress)
