"""Initial packings as Komori et al. (2022) §2.1.1 describe them, made definite.

1. Per structure, draw an AM mean diameter and SD from their ranges.
2. AM discs: diameters from that normal distribution (truncated below at
   ``am_diameter_min_um``), placed at random positions by random sequential addition
   (RSA), rejecting any that overlap a placed particle or cross the cell, until the AM
   area equals the target fraction of the *compressed* cell
   (``am_area_fraction × reference_width × height``). The last disc is trimmed so the
   area is met exactly when its trimmed diameter stays above the minimum.
3. Densifying step: plain RSA stalls near a fraction of 0.55 of the cell it fills. When
   ``stall_attempts`` consecutive trials fail, the remaining discs are dropped at
   random positions and a *collective rearrangement* removes every overlap (each
   overlapping pair is pushed apart along its centre line by its overlap, discs are
   kept inside the cell, repeated until no overlap remains). A fraction that the
   rearrangement cannot make overlap-free is an error.
4. SE discs (diameter ``se_diameter_um``) at lattice positions scanned from the cell's
   lower-left corner (square lattice of pitch d, or hexagonal rows), keeping every
   position that overlaps no AM disc and lies inside the cell ("filled exhaustively").

3D (``dimension: 3``) follows the same recipe with spheres in a cell periodic in x and y
and bounded by walls along z, the press axis: ``am_area_fraction`` is then the AM *volume*
fraction of the compressed cell (``height × depth × reference width``), RSA is followed
by the same collective rearrangement where it stalls (near a volume fraction of 0.38;
the rearrangement is refused above 0.60), AM diameters are truncated at
:func:`assb_lmp.spec.case.largest_am_diameter_um`, and the SE lattice is simple cubic
(``se_lattice: square``) or face-centred cubic (``hex``), scanned from the corner
(0, 0, 0) and clipped to the cell along z.

The same seed gives the same structure, bit for bit. Lengths are in µm.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assb_lmp.build import multisphere
from assb_lmp.spec.case import CaseSpec, largest_am_diameter_um
from assb_lmp.core.errors import PackingError

log = logging.getLogger(__name__)

#: Type ids in data files and decks.
TYPE_AM, TYPE_SE = 1, 2


@dataclass(frozen=True)
class Structure:
    """A generated packing.

    Attributes
    ----------
    types : ndarray of int, shape (n,)
        1 = AM, 2 = SE.
    diameters : ndarray, shape (n,)
        Particle diameters (µm).
    positions : ndarray, shape (n, 3)
        Centres (µm); z = 0 in the quasi-2D mode.
    width, height, depth : float
        Initial cell (µm); depth is the nominal layer depth in quasi-2D.
    periodic : bool
        Whether the cell is periodic in x and y.
    info : dict
        Facts for ``structure.json`` (drawn mean/SD, counts, densifying step).
    """

    types: np.ndarray
    diameters: np.ndarray
    positions: np.ndarray
    width: float
    height: float
    depth: float
    periodic: bool
    info: dict = field(default_factory=dict)
    mol: np.ndarray | None = None

    @property
    def n_am(self) -> int:
        """Number of AM particles (rigid bodies when the AM is multisphere)."""
        if self.mol is not None:
            return int(np.unique(self.mol[self.types == TYPE_AM]).size)
        return int(np.count_nonzero(self.types == TYPE_AM))

    @property
    def multisphere(self) -> bool:
        """Whether the AM particles are multisphere rigid bodies (``mol`` = body id)."""
        return self.mol is not None

    @property
    def n_se(self) -> int:
        """Number of SE particles."""
        return int(np.count_nonzero(self.types == TYPE_SE))


@dataclass
class _Draw:
    mean: float
    sd: float
    rng: np.random.Generator
    dmin: float
    dmax: float

    def diameter(self) -> float:
        for _ in range(1000):
            d = self.rng.normal(self.mean, self.sd) if self.sd > 0 else self.mean
            if self.dmin <= d <= self.dmax:
                return float(d)
        return float(np.clip(self.mean, self.dmin, self.dmax))


def _uniform(rng: np.random.Generator, v: float | tuple[float, float]) -> float:
    if isinstance(v, int | float):
        return float(v)
    lo, hi = v
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _min_image(d: np.ndarray, length: float, periodic: bool) -> np.ndarray:
    if periodic:
        d = d - length * np.round(d / length)
    return d


def _overlaps(x: float, y: float, r: float, pos: np.ndarray, rad: np.ndarray,
              w: float, h: float, periodic: bool) -> bool:
    if len(rad) == 0:
        return False
    dx = _min_image(pos[:, 0] - x, w, periodic)
    dy = _min_image(pos[:, 1] - y, h, periodic)
    return bool(np.any(dx * dx + dy * dy < (rad + r) ** 2))


def _rearrange(pos: np.ndarray, rad: np.ndarray, w: float, h: float, periodic: bool,
               rng: np.random.Generator, max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """Collective rearrangement: push overlapping discs apart until none overlap.

    Returns the new positions and the number of iterations used; raises
    PackingError if overlaps remain after ``max_iter`` sweeps.
    """
    pos = pos.copy()
    n = len(rad)
    tol = 1e-9
    for it in range(1, max_iter + 1):
        dx = _min_image(pos[:, None, 0] - pos[None, :, 0], w, periodic)
        dy = _min_image(pos[:, None, 1] - pos[None, :, 1], h, periodic)
        dist = np.sqrt(dx * dx + dy * dy)
        np.fill_diagonal(dist, np.inf)
        ov = rad[:, None] + rad[None, :] - dist
        np.fill_diagonal(ov, 0.0)
        ov = np.where(ov > 0, ov, 0.0)
        wall_ok = True
        if not periodic:
            lo = np.minimum(pos[:, 0] - rad, pos[:, 1] - rad)
            hi = np.maximum(pos[:, 0] + rad - w, pos[:, 1] + rad - h)
            wall_ok = bool(np.all(lo >= -tol) and np.all(hi <= tol))
        if ov.max(initial=0.0) <= tol and wall_ok:
            return pos, it
        safe = np.where(dist > 1e-12, dist, 1e-12)
        # each disc of an overlapping pair moves half the overlap (slightly more, to converge)
        shift = 0.5 * 1.05 * ov / safe
        mx = np.sum(shift * dx, axis=1)
        my = np.sum(shift * dy, axis=1)
        # coincident centres: random kick
        stuck = np.any((dist < 1e-12) & (ov > 0), axis=1)
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


def _am_budget(spec: CaseSpec, rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw the structure's AM mean diameter and SD (µm) and the AM area to place (µm²).

    Raises
    ------
    PackingError
        If that area exceeds 0.80 of the initial cell, more than any packing with walls holds.
    """
    p = spec.packing
    w, h = spec.geometry.width_um, spec.geometry.height_um
    mean = _uniform(rng, p.am_diameter_mean_um)
    sd = _uniform(rng, p.am_diameter_sd_um)
    target_area = p.am_area_fraction * spec.reference_width_um * h
    cell_frac = target_area / (w * h)
    if cell_frac > 0.80:
        raise PackingError(
            f"packing.am_area_fraction = {p.am_area_fraction}: needs an AM area fraction of "
            f"{cell_frac:.3f} in the initial {w} × {h} µm cell; no disc packing with walls "
            "reaches more than 0.80 (allowed: am_area_fraction × reference width / initial "
            "width ≤ 0.80)"
        )
    return mean, sd, target_area


def _fit_to_budget(d: float, remaining: float, d_min: float) -> float | None:
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


def pack_am(spec: CaseSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Place the AM discs. Returns (positions (m, 2), diameters (m,), info)."""
    g, p = spec.geometry, spec.packing
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    mean, sd, target_area = _am_budget(spec, rng)
    draw = _Draw(mean, sd, rng, p.am_diameter_min_um, min(w, h))
    pos = np.zeros((0, 2))
    dia = np.zeros(0)
    area = 0.0
    stalled_at = None
    pending: list[float] = []
    d = draw.diameter()
    while True:
        d = _fit_to_budget(d, target_area - area, p.am_diameter_min_um)
        if d is None:
            break
        r = 0.5 * d
        placed = False
        if stalled_at is None:
            for _ in range(p.max_attempts // 40):
                if periodic:
                    x, y = rng.uniform(0, w), rng.uniform(0, h)
                else:
                    x, y = rng.uniform(r, w - r), rng.uniform(r, h - r)
                if not _overlaps(x, y, r, pos, 0.5 * dia, w, h, periodic):
                    pos = np.vstack([pos, [x, y]])
                    dia = np.append(dia, d)
                    placed = True
                    break
            if not placed:
                stalled_at = len(dia)
        if not placed:
            pending.append(d)
        area += 0.25 * math.pi * d * d
        d = draw.diameter()
    densify = "none (random sequential addition reached the target)"
    iters = 0
    if pending:
        r_p = 0.5 * np.asarray(pending)
        if periodic:
            xy = np.column_stack([rng.uniform(0, w, len(r_p)), rng.uniform(0, h, len(r_p))])
        else:
            xy = np.column_stack([rng.uniform(r_p, w - r_p), rng.uniform(r_p, h - r_p)])
        pos = np.vstack([pos, xy])
        dia = np.append(dia, pending)
        try:
            pos, iters = _rearrange(pos, 0.5 * dia, w, h, periodic, rng)
        except PackingError:
            raise PackingError(
                f"packing.am_area_fraction = {p.am_area_fraction}: random addition stalled at "
                f"{stalled_at} discs and the collective rearrangement could not place the "
                f"remaining {len(pending)} without overlap in the {w} × {h} µm cell; "
                "lower the fraction or widen the initial cell"
            ) from None
        densify = (
            f"collective rearrangement: RSA stalled after {stalled_at} discs, "
            f"{len(pending)} more placed and all overlaps removed in {iters} sweeps"
        )
    info = {
        "am_diameter_mean_um": mean,
        "am_diameter_sd_um": sd,
        "am_target_area_um2": target_area,
        "am_area_um2": float(np.sum(0.25 * math.pi * dia**2)),
        "densify": densify,
    }
    return pos, dia, info


def _aspect_draw(rng: np.random.Generator, v: float | tuple[float, float]) -> float:
    if isinstance(v, int | float):
        return float(v)
    lo, hi = v
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


@dataclass
class _Bodies:
    """Placed multisphere bodies: shapes, centres (m, 2), angles (m,)."""

    shapes: list[multisphere.BodyShape] = field(default_factory=list)
    centres: list[tuple[float, float]] = field(default_factory=list)
    angles: list[float] = field(default_factory=list)

    def spheres(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sub-sphere centres (N, 2), radii (N,), body index (N,)."""
        if not self.shapes:
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=np.int64)
        pos = [b.placed(c[0], c[1], a) for b, c, a in
               zip(self.shapes, self.centres, self.angles, strict=True)]
        rad = [b.radii for b in self.shapes]
        idx = [np.full(b.radii.size, k) for k, b in enumerate(self.shapes)]
        return np.vstack(pos), np.concatenate(rad), np.concatenate(idx)


def _inside(xy: np.ndarray, r: np.ndarray, w: float, h: float) -> bool:
    return bool(np.all(xy[:, 0] - r >= 0) and np.all(xy[:, 0] + r <= w)
                and np.all(xy[:, 1] - r >= 0) and np.all(xy[:, 1] + r <= h))


def _rearrange_bodies(bodies: _Bodies, w: float, h: float, periodic: bool,
                      rng: np.random.Generator, max_iter: int = 20000,
                      scale: float = 1.0) -> int:
    """Collective rearrangement of rigid bodies: overlapping sub-spheres of different
    bodies push their bodies apart (translation: the mean push of a body's overlapping
    sub-spheres; rotation: the least-squares rotation of those pushes about the body
    centre), bodies are kept inside the cell, until no overlap remains. ``scale``
    shrinks every body about its centre (the growth schedule of :func:`_grow_bodies`).

    Returns the number of sweeps; raises PackingError if overlaps remain.
    """
    tol = 1e-9
    cen = np.asarray(bodies.centres, dtype=float)
    ang = np.asarray(bodies.angles, dtype=float)
    off = [b.offsets * scale for b in bodies.shapes]
    rad = np.concatenate([b.radii * scale for b in bodies.shapes])
    bi = np.concatenate([np.full(b.radii.size, k) for k, b in enumerate(bodies.shapes)])
    loc = np.vstack(off)
    m = len(bodies.shapes)
    same = bi[:, None] == bi[None, :]
    for it in range(1, max_iter + 1):
        ca, sa = np.cos(ang[bi]), np.sin(ang[bi])
        rel = np.column_stack([ca * loc[:, 0] - sa * loc[:, 1], sa * loc[:, 0] + ca * loc[:, 1]])
        pos = cen[bi] + rel
        dx = _min_image(pos[:, None, 0] - pos[None, :, 0], w, periodic)
        dy = _min_image(pos[:, None, 1] - pos[None, :, 1], h, periodic)
        dist = np.sqrt(dx * dx + dy * dy)
        ov = rad[:, None] + rad[None, :] - dist
        ov[same] = 0.0
        ov = np.where(ov > 0, ov, 0.0)
        wall_ok = True
        if not periodic:
            wall_ok = bool(np.all(pos - rad[:, None] >= -tol)
                           and np.all(pos[:, 0] + rad <= w + tol)
                           and np.all(pos[:, 1] + rad <= h + tol))
        if ov.max(initial=0.0) <= tol and wall_ok:
            bodies.centres = [tuple(c) for c in cen]
            bodies.angles = ang.tolist()
            return it
        safe = np.where(dist > 1e-12, dist, 1e-12)
        shift = 0.5 * 1.05 * ov / safe
        px = np.sum(shift * dx, axis=1)
        py = np.sum(shift * dy, axis=1)
        hit = ov.max(axis=1) > 0
        cnt = np.bincount(bi, weights=hit.astype(float), minlength=m)
        tx = np.bincount(bi, weights=px, minlength=m) / np.maximum(cnt, 1.0)
        ty = np.bincount(bi, weights=py, minlength=m) / np.maximum(cnt, 1.0)
        torque = np.bincount(bi, weights=(rel[:, 0] * py - rel[:, 1] * px) * hit, minlength=m)
        inertia = np.bincount(bi, weights=(rel[:, 0] ** 2 + rel[:, 1] ** 2) * hit, minlength=m)
        dth = 0.5 * torque / np.where(inertia > 1e-12, inertia, np.inf)
        stuck = (cnt > 0) & (np.abs(tx) + np.abs(ty) < 1e-12)
        if np.any(stuck):
            tx[stuck] += rng.normal(0, 0.05, stuck.sum())
            ty[stuck] += rng.normal(0, 0.05, stuck.sum())
        cen[:, 0] += tx
        cen[:, 1] += ty
        ang += dth
        if periodic:
            cen[:, 0] %= w
            cen[:, 1] %= h
        else:
            ca, sa = np.cos(ang[bi]), np.sin(ang[bi])
            rel = np.column_stack([ca * loc[:, 0] - sa * loc[:, 1],
                                   sa * loc[:, 0] + ca * loc[:, 1]])
            lo_x = np.full(m, np.inf)
            hi_x = np.full(m, -np.inf)
            lo_y = np.full(m, np.inf)
            hi_y = np.full(m, -np.inf)
            np.minimum.at(lo_x, bi, rel[:, 0] - rad)
            np.maximum.at(hi_x, bi, rel[:, 0] + rad)
            np.minimum.at(lo_y, bi, rel[:, 1] - rad)
            np.maximum.at(hi_y, bi, rel[:, 1] + rad)
            cen[:, 0] = np.clip(cen[:, 0], -lo_x, w - hi_x)
            cen[:, 1] = np.clip(cen[:, 1], -lo_y, h - hi_y)
    raise PackingError("collective rearrangement of the bodies did not remove all overlaps")


def _grow_bodies(bodies: _Bodies, w: float, h: float, periodic: bool,
                 rng: np.random.Generator, start: float = 0.6, factor: float = 1.01) -> int:
    """Densifying step for bodies: shrink every body about its centre to ``start`` of its
    size, remove the overlaps (:func:`_rearrange_bodies`), then grow in steps of
    ``factor`` with a rearrangement after each, up to full size. Returns the total
    number of sweeps."""
    lam = start
    total = 0
    while True:
        total += _rearrange_bodies(bodies, w, h, periodic, rng,
                                   max_iter=20000 if lam >= 1.0 else 3000, scale=lam)
        if lam >= 1.0:
            return total
        lam = min(1.0, lam * factor)


def pack_am_bodies(spec: CaseSpec, rng: np.random.Generator) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, dict
]:
    """Place multisphere elliptical AM bodies (``packing.am_shape.kind: ellipse``).

    As :func:`pack_am`, with bodies instead of discs: the drawn diameter is the
    area-equivalent diameter of the body (its union area is π d²/4), each body draws its
    aspect ratio and (unless fixed) a random orientation; random sequential addition
    rejects any body whose sub-spheres overlap a placed one or cross the cell, and a
    collective rearrangement of rigid bodies (:func:`_rearrange_bodies`) places the rest
    where it stalls.

    Returns
    -------
    positions : numpy.ndarray, shape (N, 2)
        Sub-sphere centres (µm), body by body.
    diameters : numpy.ndarray, shape (N,)
        Sub-sphere diameters (µm).
    mol : numpy.ndarray of int, shape (N,)
        Body id (1, 2, ...) of every sub-sphere.
    info : dict
        Packing facts, with a ``bodies`` list (centre, angle, aspect ratio, diameter,
        sub-spheres, exact circularity of each body).
    """
    g, p = spec.geometry, spec.packing
    shape = p.am_shape
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    mean, sd, target_area = _am_budget(spec, rng)
    draw = _Draw(mean, sd, rng, p.am_diameter_min_um, min(w, h))
    bodies = _Bodies()
    pending: list[tuple[multisphere.BodyShape, float]] = []
    area = 0.0
    stalled_at = None
    d = draw.diameter()
    while True:
        d = _fit_to_budget(d, target_area - area, p.am_diameter_min_um)
        if d is None:
            break
        ar = _aspect_draw(rng, shape.aspect_ratio)
        body = multisphere.build_body(d, ar, shape.spheres)
        half_major = body.extent[0]
        if 2.0 * half_major > min(w, h) and not periodic:
            raise PackingError(
                f"an AM body of diameter {d:.3g} µm and aspect ratio {ar:.3g} is "
                f"{2 * half_major:.3g} µm long and does not fit in the {w} × {h} µm cell; "
                "lower the diameter or the aspect ratio"
            )
        placed = False
        if stalled_at is None:
            sub_pos, sub_rad, _ = bodies.spheres()
            for _ in range(p.max_attempts // 40):
                angle = (math.radians(shape.orientation_deg) if shape.orientation_deg is not None
                         else rng.uniform(-math.pi, math.pi))
                rel = body.placed(0.0, 0.0, angle)
                if periodic:
                    x, y = rng.uniform(0, w), rng.uniform(0, h)
                else:
                    x_lo = float(np.max(body.radii - rel[:, 0]))
                    x_hi = w - float(np.max(rel[:, 0] + body.radii))
                    y_lo = float(np.max(body.radii - rel[:, 1]))
                    y_hi = h - float(np.max(rel[:, 1] + body.radii))
                    if x_hi < x_lo or y_hi < y_lo:
                        continue
                    x, y = rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)
                xy = rel + np.array([x, y])
                ok = True
                for (sx, sy), sr in zip(xy, body.radii, strict=True):
                    if _overlaps(sx, sy, sr, sub_pos, sub_rad, w, h, periodic):
                        ok = False
                        break
                if ok:
                    bodies.shapes.append(body)
                    bodies.centres.append((x, y))
                    bodies.angles.append(angle)
                    placed = True
                    break
            if not placed:
                stalled_at = len(bodies.shapes)
        if not placed:
            pending.append((body, d))
        area += 0.25 * math.pi * d * d
        d = draw.diameter()
    densify = "none (random sequential addition reached the target)"
    if pending:
        for body, _ in pending:
            ex, ey = body.extent
            reach = max(ex, ey)
            angle = (math.radians(shape.orientation_deg) if shape.orientation_deg is not None
                     else rng.uniform(-math.pi, math.pi))
            if periodic:
                x, y = rng.uniform(0, w), rng.uniform(0, h)
            else:
                x = rng.uniform(min(reach, w / 2), max(w - reach, w / 2))
                y = rng.uniform(min(reach, h / 2), max(h - reach, h / 2))
            bodies.shapes.append(body)
            bodies.centres.append((x, y))
            bodies.angles.append(angle)
        try:
            iters = _grow_bodies(bodies, w, h, periodic, rng)
        except PackingError:
            raise PackingError(
                f"packing.am_area_fraction = {p.am_area_fraction}: random addition of "
                f"elliptical bodies stalled at {stalled_at} and the collective rearrangement "
                f"could not place the remaining {len(pending)} without overlap in the "
                f"{w} × {h} µm cell; lower the fraction or widen the initial cell"
            ) from None
        densify = (
            f"collective rearrangement of rigid bodies: RSA stalled after {stalled_at} bodies, "
            f"{len(pending)} more placed at random, all bodies shrunk to 0.6 of their size and "
            f"grown back in 1 % steps with overlaps removed after each ({iters} sweeps)"
        )
    pos, rad, idx = bodies.spheres()
    records = []
    for k, (b, c, a) in enumerate(zip(bodies.shapes, bodies.centres, bodies.angles,
                                      strict=True)):
        records.append({
            "mol": k + 1, "x_um": float(c[0]), "y_um": float(c[1]),
            "angle_deg": float(math.degrees(a)), "aspect_ratio": b.aspect_ratio,
            "diameter_um": b.diameter, "spheres": int(b.radii.size),
            "area_um2": b.area, "circularity_exact": b.circularity,
        })
    info = {
        "am_diameter_mean_um": mean,
        "am_diameter_sd_um": sd,
        "am_target_area_um2": target_area,
        "am_area_um2": float(sum(b.area for b in bodies.shapes)),
        "densify": densify,
        "am_shape": "ellipse (multisphere rigid bodies)",
        "n_am_spheres": int(rad.size),
        "bodies": records,
    }
    return pos, 2.0 * rad, idx.astype(np.int64) + 1, info


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
    """SE centres (k, 2): lattice sites that overlap no AM disc and lie in the cell."""
    g, p = spec.geometry, spec.packing
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    d = p.se_diameter_um
    sites = lattice_sites(w, h, d, p.se_lattice, p.se_lattice_pitch_um)
    inside = (sites[:, 0] + d / 2 <= w + 1e-9) & (sites[:, 1] + d / 2 <= h + 1e-9)
    sites = sites[inside]
    keep = np.ones(len(sites), dtype=bool)
    for (x, y), da in zip(am_pos, am_dia, strict=True):
        dx = _min_image(sites[:, 0] - x, w, periodic)
        dy = _min_image(sites[:, 1] - y, h, periodic)
        keep &= dx * dx + dy * dy >= (0.5 * da + 0.5 * d) ** 2
    return sites[keep]


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
        return _generate_3d(spec, seed, rng)
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
    return Structure(
        types=types,
        diameters=dia,
        positions=pos,
        width=w,
        height=h,
        depth=spec.depth_um,
        periodic=spec.geometry.boundary == "periodic",
        info=info,
        mol=mol,
    )


# ============================================================== 3D
def _min_image_3d(d: np.ndarray, lx: float, ly: float) -> np.ndarray:
    d = d.copy()
    d[..., 0] -= lx * np.round(d[..., 0] / lx)
    d[..., 1] -= ly * np.round(d[..., 1] / ly)
    return d


def _rearrange_3d(pos: np.ndarray, rad: np.ndarray, lx: float, ly: float, h: float,
                  rng: np.random.Generator, max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """Collective rearrangement of spheres in a cell periodic in x, y with walls along z."""
    pos = pos.copy()
    tol = 1e-9
    for it in range(1, max_iter + 1):
        d = _min_image_3d(pos[:, None, :] - pos[None, :, :], lx, ly)
        dist = np.sqrt(np.sum(d * d, axis=2))
        np.fill_diagonal(dist, np.inf)
        ov = rad[:, None] + rad[None, :] - dist
        np.fill_diagonal(ov, 0.0)
        ov = np.where(ov > 0, ov, 0.0)
        wall_ok = bool(np.all(pos[:, 2] - rad >= -tol) and np.all(pos[:, 2] + rad - h <= tol))
        if ov.max(initial=0.0) <= tol and wall_ok:
            return pos, it
        safe = np.where(dist > 1e-12, dist, 1e-12)
        shift = 0.5 * 1.05 * ov / safe
        move = np.einsum("ij,ijk->ik", shift, d)
        stuck = np.any((dist < 1e-12) & (ov > 0), axis=1)
        if np.any(stuck):
            move[stuck] += rng.normal(0, 0.1, (int(stuck.sum()), 3))
        pos += move
        pos[:, 0] %= lx
        pos[:, 1] %= ly
        pos[:, 2] = np.clip(pos[:, 2], rad, h - rad)
    raise PackingError("collective rearrangement did not remove all overlaps")


def pack_am_3d(spec: CaseSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Place the AM spheres of a 3D cell. Returns (positions (m, 3), diameters (m,), info)."""
    g, p = spec.geometry, spec.packing
    lx, ly, h = g.height_um, spec.depth_um, g.width_um
    mean = _uniform(rng, p.am_diameter_mean_um)
    sd = _uniform(rng, p.am_diameter_sd_um)
    target = p.am_area_fraction * lx * ly * spec.reference_width_um
    cell_frac = target / (lx * ly * h)
    if cell_frac > 0.60:
        raise PackingError(
            f"packing.am_area_fraction = {p.am_area_fraction}: needs an AM volume fraction "
            f"of {cell_frac:.3f} in the initial {lx} × {ly} × {h} µm cell; the sphere packer "
            "reaches no more than 0.60 (allowed: am_area_fraction × reference width / "
            "initial width ≤ 0.60)"
        )
    dmax = min(largest_am_diameter_um(p), lx, ly, h)
    draw = _Draw(mean, sd, rng, p.am_diameter_min_um, dmax)
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
        r = 0.5 * d
        placed = False
        if stalled_at is None:
            for _ in range(p.max_attempts // 40):
                c = np.array([rng.uniform(0, lx), rng.uniform(0, ly), rng.uniform(r, h - r)])
                if len(dia):
                    dd = _min_image_3d(pos - c, lx, ly)
                    if np.any(np.sum(dd * dd, axis=1) < (0.5 * dia + r) ** 2):
                        continue
                pos = np.vstack([pos, c])
                dia = np.append(dia, d)
                placed = True
                break
            if not placed:
                stalled_at = len(dia)
        if not placed:
            pending.append(d)
        vol += math.pi / 6.0 * d**3
        d = draw.diameter()
    densify = "none (random sequential addition reached the target)"
    if pending:
        r_p = 0.5 * np.asarray(pending)
        xyz = np.column_stack([rng.uniform(0, lx, len(r_p)), rng.uniform(0, ly, len(r_p)),
                               rng.uniform(r_p, h - r_p)])
        pos = np.vstack([pos, xyz])
        dia = np.append(dia, pending)
        try:
            pos, iters = _rearrange_3d(pos, 0.5 * dia, lx, ly, h, rng)
        except PackingError:
            raise PackingError(
                f"packing.am_area_fraction = {p.am_area_fraction}: random addition stalled at "
                f"{stalled_at} spheres and the collective rearrangement could not place the "
                f"remaining {len(pending)} without overlap in the {lx} × {ly} × {h} µm cell; "
                "lower the fraction or thicken the initial cell"
            ) from None
        densify = (
            f"collective rearrangement: RSA stalled after {stalled_at} spheres, "
            f"{len(pending)} more placed and all overlaps removed in {iters} sweeps"
        )
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
    """SE centres (k, 3) of a 3D cell: lattice sites that overlap no AM sphere."""
    g, p = spec.geometry, spec.packing
    lx, ly, h = g.height_um, spec.depth_um, g.width_um
    d = p.se_diameter_um
    sites = lattice_sites_3d(lx, ly, h, d, p.se_lattice)
    keep = np.ones(len(sites), dtype=bool)
    for c, da in zip(am_pos, am_dia, strict=True):
        dd = _min_image_3d(sites - c, lx, ly)
        keep &= np.sum(dd * dd, axis=1) >= (0.5 * da + 0.5 * d) ** 2
    return sites[keep]


def _generate_3d(spec: CaseSpec, seed: int, rng: np.random.Generator) -> Structure:
    am_pos, am_dia, info = pack_am_3d(spec, rng)
    se_pos = pack_se_3d(spec, am_pos, am_dia)
    d_se = spec.packing.se_diameter_um
    types = np.concatenate([np.full(len(am_dia), TYPE_AM), np.full(len(se_pos), TYPE_SE)])
    dia = np.concatenate([am_dia, np.full(len(se_pos), d_se)])
    pos = np.vstack([am_pos, se_pos]) if len(se_pos) else am_pos
    lx, ly, h = spec.geometry.height_um, spec.depth_um, spec.geometry.width_um
    info.update(
        seed=seed,
        dimension=3,
        n_am=int(len(am_dia)),
        n_se=int(len(se_pos)),
        width_um=h,
        height_um=lx,
        depth_um=ly,
        am_volume_fraction_initial_cell=float(np.sum(np.pi / 6 * am_dia**3) / (lx * ly * h)),
        solid_volume_fraction_initial_cell=float(np.sum(np.pi / 6 * dia**3) / (lx * ly * h)),
        se_lattice={"square": "simple cubic", "hex": "fcc"}[spec.packing.se_lattice],
    )
    log.info("packed %d AM + %d SE spheres in 3D (%s)", info["n_am"], info["n_se"],
             info["densify"])
    return Structure(types=types, diameters=dia, positions=pos, width=h, height=lx,
                     depth=ly, periodic=False, info=info)


def write_data(structure: Structure, path: Path, densities: dict[int, float],
               margin: float = 1.0) -> None:
    """Write a LAMMPS data file (``atom_style sphere``: id type diameter density x y z).

    Multisphere structures get a ``Molecules`` section (atom id, body id) that the deck
    reads into ``fix property/atom mol``.

    Parameters
    ----------
    structure : Structure
        The packing.
    path : Path
        Output file.
    densities : dict
        Density (pg/µm³) per type id.
    margin : float
        Extra box room beyond the cell on each non-periodic side (µm).
    """
    s = structure
    if s.info.get("dimension") == 3:
        _write_data_3d(s, path, densities, margin)
        return
    m = 0.0 if s.periodic else margin
    lines = [
        f"assb_lmp packing: {s.n_am} AM + {s.n_se} SE, seed {s.info.get('seed')}",
        "",
        f"{len(s.types)} atoms",
        "3 atom types",
        "",
        f"{-m:.6f} {s.width + m:.6f} xlo xhi",
        f"{-m:.6f} {s.height + m:.6f} ylo yhi",
        "-0.5 0.5 zlo zhi",
        "",
        "Atoms # sphere",
        "",
    ]
    body = [
        f"{i + 1} {t} {d:.9f} {densities[int(t)]:.6f} {x:.9f} {y:.9f} {z:.9f}"
        for i, (t, d, (x, y, z)) in enumerate(zip(s.types, s.diameters, s.positions, strict=True))
    ]
    if s.mol is not None:
        body += ["", "Molecules", ""]
        body += [f"{i + 1} {int(m)}" for i, m in enumerate(s.mol)]
    Path(path).write_text("\n".join(lines + body) + "\n")


def _write_data_3d(s: Structure, path: Path, densities: dict[int, float],
                   margin: float) -> None:
    """3D data file: x in [0, height], y in [0, depth] (periodic), z in [−m, width + m]."""
    lines = [
        f"assb_lmp packing (3D): {s.n_am} AM + {s.n_se} SE, seed {s.info.get('seed')}",
        "",
        f"{len(s.types)} atoms",
        "3 atom types",
        "",
        f"0.0 {s.height:.6f} xlo xhi",
        f"0.0 {s.depth:.6f} ylo yhi",
        f"{-margin:.6f} {s.width + margin:.6f} zlo zhi",
        "",
        "Atoms # sphere",
        "",
    ]
    body = [
        f"{i + 1} {t} {d:.9f} {densities[int(t)]:.6f} {x:.9f} {y:.9f} {z:.9f}"
        for i, (t, d, (x, y, z)) in enumerate(zip(s.types, s.diameters, s.positions, strict=True))
    ]
    Path(path).write_text("\n".join(lines + body) + "\n")


def write_info(structure: Structure, path: Path) -> None:
    """Write ``structure.json`` (packing facts)."""
    Path(path).write_text(json.dumps(structure.info, indent=2) + "\n")


def _asdict(structure: Structure) -> dict:  # pragma: no cover - debugging aid
    return asdict(structure)
