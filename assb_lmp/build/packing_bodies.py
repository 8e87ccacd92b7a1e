"""Quasi-2D packing of multisphere elliptical AM bodies (``packing.am_shape.kind: ellipse``).

As :func:`assb_lmp.build.packing2d.pack_am`, with rigid bodies instead of discs: the
drawn diameter is the area-equivalent diameter of the body (its union area is π d²/4),
each body draws its aspect ratio and (unless fixed) a random orientation; random
sequential addition rejects any body whose sub-spheres overlap a placed one or cross the
cell. Where it stalls, the rest are dropped at random, every body is shrunk to 0.6 of its
size about its centre and grown back in 1 % steps, with a collective rearrangement of
rigid bodies (translation and rotation) removing the overlaps after each step.
Lengths are in µm, angles in radians unless named ``_deg``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from assb_lmp.build.densify import PUSH, TOL_UM, SizeDraw, draw_value, min_image, overlaps
from assb_lmp.build.multisphere import BodyShape, build_body
from assb_lmp.build.packing2d import am_budget, fit_to_budget
from assb_lmp.core.errors import PackingError
from assb_lmp.spec.case import CaseSpec


@dataclass
class _Bodies:
    """Placed multisphere bodies: shapes, centres (m, 2), angles (m,)."""

    shapes: list[BodyShape] = field(default_factory=list)
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


def _rotated(loc: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Body-frame offsets (N, 2) rotated by the angle of their body (N,)."""
    ca, sa = np.cos(ang), np.sin(ang)
    return np.column_stack([ca * loc[:, 0] - sa * loc[:, 1], sa * loc[:, 0] + ca * loc[:, 1]])


def _body_push(rel: np.ndarray, dx: np.ndarray, dy: np.ndarray, dist: np.ndarray,
               ov: np.ndarray, bi: np.ndarray, m: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Translation (x, y) and rotation of every body from its sub-spheres' pushes."""
    safe = np.where(dist > 1e-12, dist, 1e-12)
    shift = PUSH * ov / safe
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
    return tx, ty, dth


def _clamp_bodies(cen: np.ndarray, rel: np.ndarray, rad: np.ndarray, bi: np.ndarray,
                  m: int, w: float, h: float) -> None:
    """Move body centres (in place) so that every sub-sphere lies inside the w × h cell."""
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


def _rearrange_bodies(bodies: _Bodies, w: float, h: float, periodic: bool,
                      rng: np.random.Generator, max_iter: int = 20000,
                      scale: float = 1.0) -> int:
    """Collective rearrangement of rigid bodies until no sub-spheres of different bodies
    overlap: translation is the mean push of a body's overlapping sub-spheres, rotation
    the least-squares rotation of those pushes about the body centre; bodies are kept
    inside the cell. ``scale`` shrinks every body about its centre (the growth schedule
    of :func:`_grow_bodies`).

    Returns the number of sweeps; raises PackingError if overlaps remain.
    """
    cen = np.asarray(bodies.centres, dtype=float)
    ang = np.asarray(bodies.angles, dtype=float)
    loc = np.vstack([b.offsets * scale for b in bodies.shapes])
    rad = np.concatenate([b.radii * scale for b in bodies.shapes])
    bi = np.concatenate([np.full(b.radii.size, k) for k, b in enumerate(bodies.shapes)])
    m = len(bodies.shapes)
    same = bi[:, None] == bi[None, :]
    for it in range(1, max_iter + 1):
        rel = _rotated(loc, ang[bi])
        pos = cen[bi] + rel
        dx = min_image(pos[:, None, 0] - pos[None, :, 0], w, periodic)
        dy = min_image(pos[:, None, 1] - pos[None, :, 1], h, periodic)
        dist = np.sqrt(dx * dx + dy * dy)
        ov = rad[:, None] + rad[None, :] - dist
        ov[same] = 0.0
        ov = np.where(ov > 0, ov, 0.0)
        wall_ok = True
        if not periodic:
            wall_ok = bool(np.all(pos - rad[:, None] >= -TOL_UM)
                           and np.all(pos[:, 0] + rad <= w + TOL_UM)
                           and np.all(pos[:, 1] + rad <= h + TOL_UM))
        if ov.max(initial=0.0) <= TOL_UM and wall_ok:
            bodies.centres = [tuple(c) for c in cen]
            bodies.angles = ang.tolist()
            return it
        tx, ty, dth = _body_push(rel, dx, dy, dist, ov, bi, m, rng)
        cen[:, 0] += tx
        cen[:, 1] += ty
        ang += dth
        if periodic:
            cen[:, 0] %= w
            cen[:, 1] %= h
        else:
            _clamp_bodies(cen, _rotated(loc, ang[bi]), rad, bi, m, w, h)
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


def _angle(spec: CaseSpec, rng: np.random.Generator) -> float:
    """The orientation (rad) of a new body: the fixed one, or a uniform draw."""
    deg = spec.packing.am_shape.orientation_deg
    return math.radians(deg) if deg is not None else rng.uniform(-math.pi, math.pi)


def _try_place_body(spec: CaseSpec, body: BodyShape, bodies: _Bodies,
                    rng: np.random.Generator) -> tuple[float, float, float] | None:
    """A random overlap-free (x, y, angle) for ``body``, or None after the attempts."""
    g = spec.geometry
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    sub_pos, sub_rad, _ = bodies.spheres()
    for _ in range(spec.packing.max_attempts // 40):
        angle = _angle(spec, rng)
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
        if not any(overlaps(sx, sy, sr, sub_pos, sub_rad, w, h, periodic)
                   for (sx, sy), sr in zip(xy, body.radii, strict=True)):
            return x, y, angle
    return None


def _new_body(spec: CaseSpec, d: float, rng: np.random.Generator) -> BodyShape:
    """Draw an aspect ratio and build the body of area-equivalent diameter d (µm)."""
    g = spec.geometry
    w, h = g.width_um, g.height_um
    ar = draw_value(rng, spec.packing.am_shape.aspect_ratio)
    body = build_body(d, ar, spec.packing.am_shape.spheres)
    if 2.0 * body.extent[0] > min(w, h) and g.boundary != "periodic":
        raise PackingError(
            f"an AM body of diameter {d:.3g} µm and aspect ratio {ar:.3g} is "
            f"{2 * body.extent[0]:.3g} µm long and does not fit in the {w} × {h} µm cell; "
            "lower the diameter or the aspect ratio"
        )
    return body


def _rsa_bodies(spec: CaseSpec, draw: SizeDraw, target_area: float, bodies: _Bodies,
                rng: np.random.Generator) -> tuple[list[BodyShape], int | None]:
    """Random sequential addition of bodies up to the AM area budget (into ``bodies``).

    Returns the bodies left over after RSA stalled and the number placed when it stalled.
    """
    pending: list[BodyShape] = []
    area = 0.0
    stalled_at = None
    d = draw.diameter()
    while True:
        d = fit_to_budget(d, target_area - area, spec.packing.am_diameter_min_um)
        if d is None:
            break
        body = _new_body(spec, d, rng)
        placed = None
        if stalled_at is None:
            placed = _try_place_body(spec, body, bodies, rng)
            if placed is None:
                stalled_at = len(bodies.shapes)
            else:
                bodies.shapes.append(body)
                bodies.centres.append(placed[:2])
                bodies.angles.append(placed[2])
        if placed is None:
            pending.append(body)
        area += 0.25 * math.pi * d * d
        d = draw.diameter()
    return pending, stalled_at


def _place_pending_bodies(spec: CaseSpec, bodies: _Bodies,
                          pending: list[BodyShape], stalled_at: int | None,
                          rng: np.random.Generator) -> str:
    """Drop the bodies RSA could not place at random and grow them into place."""
    g = spec.geometry
    w, h = g.width_um, g.height_um
    periodic = g.boundary == "periodic"
    for body in pending:
        reach = max(body.extent)
        angle = _angle(spec, rng)
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
            f"packing.am_area_fraction = {spec.packing.am_area_fraction}: random addition of "
            f"elliptical bodies stalled at {stalled_at} and the collective rearrangement "
            f"could not place the remaining {len(pending)} without overlap in the "
            f"{w} × {h} µm cell; lower the fraction or widen the initial cell"
        ) from None
    return (
        f"collective rearrangement of rigid bodies: RSA stalled after {stalled_at} bodies, "
        f"{len(pending)} more placed at random, all bodies shrunk to 0.6 of their size and "
        f"grown back in 1 % steps with overlaps removed after each ({iters} sweeps)"
    )


def _body_records(bodies: _Bodies) -> list[dict]:
    """One ``structure.json`` record per body (mol, centre, angle, shape facts)."""
    return [{
        "mol": k + 1, "x_um": float(c[0]), "y_um": float(c[1]),
        "angle_deg": float(math.degrees(a)), "aspect_ratio": b.aspect_ratio,
        "diameter_um": b.diameter, "spheres": int(b.radii.size),
        "area_um2": b.area, "circularity_exact": b.circularity,
    } for k, (b, c, a) in enumerate(zip(bodies.shapes, bodies.centres, bodies.angles,
                                        strict=True))]


def pack_am_bodies(spec: CaseSpec, rng: np.random.Generator) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, dict
]:
    """Place multisphere elliptical AM bodies (``packing.am_shape.kind: ellipse``).

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
    mean, sd, target_area = am_budget(spec, rng)
    draw = SizeDraw(mean, sd, rng, p.am_diameter_min_um, min(g.width_um, g.height_um))
    bodies = _Bodies()
    pending, stalled_at = _rsa_bodies(spec, draw, target_area, bodies, rng)
    densify = "none (random sequential addition reached the target)"
    if pending:
        densify = _place_pending_bodies(spec, bodies, pending, stalled_at, rng)
    pos, rad, idx = bodies.spheres()
    info = {
        "am_diameter_mean_um": mean,
        "am_diameter_sd_um": sd,
        "am_target_area_um2": target_area,
        "am_area_um2": float(sum(b.area for b in bodies.shapes)),
        "densify": densify,
        "am_shape": "ellipse (multisphere rigid bodies)",
        "n_am_spheres": int(rad.size),
        "bodies": _body_records(bodies),
    }
    return pos, 2.0 * rad, idx.astype(np.int64) + 1, info
