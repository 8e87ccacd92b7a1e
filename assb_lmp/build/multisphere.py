"""Multisphere AM particles: ellipses built from overlapping spheres (So et al. 2021).

A quasi-2D elliptical particle with semi-axes ``a ≥ b`` (aspect ratio ``AR = a / b``) is a
cluster of ``n`` spheres whose centres lie on the major axis, in the plane z = 0, moved as
one rigid body in LAMMPS (``fix rigid/small``). The spheres are the circles inscribed in
the ellipse with centres evenly spaced on ``[−x0, x0]``, ``x0 = a − b²/a`` (the centre of
curvature at the tip), radius ``r(x) = b √(1 − x² / (a² − b²))``: the ellipse is the
envelope of all such circles, and the union of ``n`` of them lies inside it with small
scallops between neighbours. The cluster is then scaled so that the *union* of its
sections has the area of the ellipse, ``π a b = π d²/4`` with ``d`` the area-equivalent
diameter the packing draws.

Sphere count: by default ``n = 2 ⌈6 (AR − 1)⌉ + 1`` (odd, one sphere at the centre; 1 for
a circle). The exact circularity ``4πA/P²`` of the union (arcs computed exactly, see
:func:`union_area_perimeter`) is then within about 1 % of the ellipse's for aspect ratios
1–5 (:func:`circularity_table` prints it). Fewer than
:func:`assb_lmp.spec.shapes.min_spheres` gives a chain of beads; more than
:func:`assb_lmp.spec.shapes.max_spheres` puts centres closer than
:data:`assb_lmp.spec.shapes.MIN_SPACING_FRACTION` of the minor semi-axis, which adds atoms
and nothing else (the case spec refuses both).

Circularity of an ellipse: ``C = 4π (π a b) / P²`` with Ramanujan's second perimeter
approximation ``P = π (a + b) (1 + 3h / (10 + √(4 − 3h)))``, ``h = ((a − b)/(a + b))²``
(relative error below 1e-9 for AR ≤ 10).

Validation a user can see (``python -m assb_lmp shapes``): every generated body is
rendered alone, its circularity and aspect ratio measured with scikit-image
``regionprops`` (``4π area / perimeter_crofton²``, ``axis_major_length /
axis_minor_length``) and plotted against the ellipse relation; see :func:`measure_bodies`
and :func:`measure_mask` for why the Crofton perimeter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assb_lmp.spec.shapes import default_spheres


# ============================================================== ellipse relations
def ellipse_perimeter(a: float, b: float) -> float:
    """Perimeter of an ellipse with semi-axes a, b (Ramanujan II), same unit as a."""
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1.0 + 3.0 * h / (10.0 + math.sqrt(4.0 - 3.0 * h)))


def ellipse_circularity(aspect_ratio: float | np.ndarray) -> float | np.ndarray:
    """Circularity ``4π A / P²`` of an ellipse of aspect ratio ``a / b`` (1 for a circle)."""
    ar = np.asarray(aspect_ratio, dtype=float)
    h = ((ar - 1.0) / (ar + 1.0)) ** 2
    p = np.pi * (ar + 1.0) * (1.0 + 3.0 * h / (10.0 + np.sqrt(4.0 - 3.0 * h)))
    c = 4.0 * np.pi * np.pi * ar / p**2
    return float(c) if c.ndim == 0 else c


# ============================================================== union of discs
def _free_arcs(i: int, c: np.ndarray, r: np.ndarray) -> list[tuple[float, float]] | None:
    """Arcs of circle i not covered by the other circles (angles, radians); None if the
    circle lies inside another one."""
    two_pi = 2.0 * math.pi
    covered: list[tuple[float, float]] = []
    for j in range(r.size):
        if j == i:
            continue
        d = math.hypot(c[j, 0] - c[i, 0], c[j, 1] - c[i, 1])
        if d >= r[i] + r[j]:
            continue
        if d <= r[j] - r[i]:  # i inside j (identical circles: keep the first)
            if d < r[j] - r[i] - 1e-12 or j < i:
                return None
            continue
        if d <= r[i] - r[j]:  # j inside i
            continue
        th = math.atan2(c[j, 1] - c[i, 1], c[j, 0] - c[i, 0])
        cos_al = (r[i] ** 2 + d * d - r[j] ** 2) / (2.0 * r[i] * d)
        al = math.acos(min(1.0, max(-1.0, cos_al)))
        lo = (th - al) % two_pi
        hi = lo + 2.0 * al
        if hi > two_pi:
            covered += [(lo, two_pi), (0.0, hi - two_pi)]
        else:
            covered.append((lo, hi))
    covered.sort()
    free, t = [], 0.0
    for lo, hi in covered:
        if lo > t:
            free.append((t, lo))
        t = max(t, hi)
    if t < two_pi:
        free.append((t, two_pi))
    return free


def union_area_perimeter(centres: np.ndarray, radii: np.ndarray) -> tuple[float, float]:
    """Exact area and perimeter of a union of discs (Green's theorem over the free arcs).

    Parameters
    ----------
    centres : numpy.ndarray, shape (n, 2)
        Disc centres (µm).
    radii : numpy.ndarray, shape (n,)
        Disc radii (µm).

    Returns
    -------
    (area, perimeter) : tuple of float
        µm² and µm. Holes enclosed by the discs count as part of the outer boundary
        (they cannot occur for discs on a line).
    """
    c = np.asarray(centres, dtype=float).reshape(-1, 2)
    r = np.asarray(radii, dtype=float).ravel()
    area = perim = 0.0
    for i in range(r.size):
        arcs = _free_arcs(i, c, r)
        if arcs is None:
            continue
        cx, cy, ri = c[i, 0], c[i, 1], r[i]
        for t1, t2 in arcs:
            area += 0.5 * (ri * ri * (t2 - t1) + ri * cx * (math.sin(t2) - math.sin(t1))
                           - ri * cy * (math.cos(t2) - math.cos(t1)))
            perim += ri * (t2 - t1)
    return area, perim


def union_volume_surface_3d(centres: np.ndarray, radii: np.ndarray,
                            samples: int = 4000) -> tuple[float, float]:
    """Volume and surface of a union of spheres (exact volume for centres on a line,
    surface by a Fibonacci lattice of ``samples`` points per sphere).

    Volume: the union of spheres whose centres lie on one line is a solid of revolution
    whose radius at ``s`` along the line is ``max_k √(r_k² − (s − s_k)²)``; integrated
    with Gauss–Legendre panels between the breakpoints (other arrangements: Monte Carlo
    with 200 000 points). Used for the 3D volume of a multisphere body (``basis:
    volume``) and its surface (SE coverage).
    """
    c = np.asarray(centres, dtype=float).reshape(-1, 3 if np.shape(centres)[-1] == 3 else 2)
    r = np.asarray(radii, dtype=float).ravel()
    if c.shape[1] == 2:
        c = np.column_stack([c, np.zeros(len(c))])
    # surface: points on each sphere not inside any other
    k = np.arange(samples) + 0.5
    phi = np.arccos(1.0 - 2.0 * k / samples)
    theta = math.pi * (1.0 + 5.0**0.5) * k
    unit = np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi),
                            np.cos(phi)])
    surface = 0.0
    for i in range(r.size):
        pts = c[i] + r[i] * unit
        d2 = ((pts[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        inside = d2 < (r[None, :] ** 2) * (1.0 - 1e-12)
        inside[:, i] = False
        surface += 4.0 * math.pi * r[i] ** 2 * float(np.mean(~inside.any(axis=1)))
    # volume: centres on a line (the bodies built here); general case by sampling
    if r.size == 1:
        return 4.0 / 3.0 * math.pi * r[0] ** 3, surface
    axis = c[-1] - c[0]
    length = float(np.linalg.norm(axis))
    u = axis / length if length > 0 else np.array([1.0, 0.0, 0.0])
    s_k = (c - c[0]) @ u
    off = np.linalg.norm((c - c[0]) - np.outer(s_k, u), axis=1)
    if np.any(off > 1e-6 * float(r.max())):  # dumps carry ~10 digits: allow the noise
        return _sampled_volume(c, r), surface
    brk = np.unique(np.concatenate([s_k - r, s_k + r]))
    # add the crossing points of neighbouring spheres' profiles
    extra = []
    for a_ in range(r.size):
        for b_ in range(a_ + 1, r.size):
            ds = s_k[b_] - s_k[a_]
            if ds != 0:
                extra.append(s_k[a_] + (ds * ds + r[a_] ** 2 - r[b_] ** 2) / (2.0 * ds))
    brk = np.unique(np.concatenate([brk, np.asarray(extra)]))
    brk = brk[(brk >= brk.min()) & (brk <= brk.max())]
    xg, wg = np.polynomial.legendre.leggauss(24)
    vol = 0.0
    for lo, hi in zip(brk[:-1], brk[1:], strict=True):
        s = 0.5 * (hi - lo) * xg + 0.5 * (hi + lo)
        rho2 = np.max(r[None, :] ** 2 - (s[:, None] - s_k[None, :]) ** 2, axis=1)
        vol += 0.5 * (hi - lo) * float(np.sum(wg * math.pi * np.clip(rho2, 0.0, None)))
    return vol, surface


def _sampled_volume(c: np.ndarray, r: np.ndarray, n: int = 200_000) -> float:
    rng = np.random.default_rng(0)
    lo = (c - r[:, None]).min(axis=0)
    hi = (c + r[:, None]).max(axis=0)
    pts = lo + (hi - lo) * rng.random((n, 3))
    inside = np.zeros(n, dtype=bool)
    for ci, ri in zip(c, r, strict=True):
        inside |= ((pts - ci) ** 2).sum(axis=1) <= ri * ri
    return float(np.prod(hi - lo) * inside.mean())


# ============================================================== body builder
@dataclass(frozen=True)
class BodyShape:
    """One multisphere body in its own frame (major axis along x, centre at the origin).

    Attributes
    ----------
    offsets : numpy.ndarray, shape (n, 2)
        Sub-sphere centres relative to the body centre (µm).
    radii : numpy.ndarray, shape (n,)
        Sub-sphere radii (µm).
    aspect_ratio : float
        Nominal a / b.
    diameter : float
        Area-equivalent diameter d of the union (µm): union area = π d²/4.
    area, perimeter : float
        Exact area (µm²) and perimeter (µm) of the union of the sections.
    """

    offsets: np.ndarray
    radii: np.ndarray
    aspect_ratio: float
    diameter: float
    area: float
    perimeter: float

    @property
    def circularity(self) -> float:
        """Exact ``4π A / P²`` of the union."""
        return 4.0 * math.pi * self.area / self.perimeter**2

    @property
    def extent(self) -> tuple[float, float]:
        """Half-lengths of the union along its major and minor axes (µm)."""
        return (float(np.max(np.abs(self.offsets[:, 0]) + self.radii)),
                float(np.max(np.abs(self.offsets[:, 1]) + self.radii)))

    def placed(self, x: float, y: float, angle_rad: float) -> np.ndarray:
        """Sub-sphere centres (n, 2) of the body centred at (x, y), rotated by angle."""
        ca, sa = math.cos(angle_rad), math.sin(angle_rad)
        rot = np.array([[ca, -sa], [sa, ca]])
        return self.offsets @ rot.T + np.array([x, y])


def unit_cluster(aspect_ratio: float, spheres: int | None = None) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Sub-sphere offsets (n, 2) and radii of the ellipse with b = 1, a = AR (inscribed
    circles, centres evenly spaced on the major axis)."""
    ar = float(aspect_ratio)
    if ar < 1.0:
        raise ValueError(f"aspect ratio must be ≥ 1, got {ar}")
    n = default_spheres(ar) if spheres is None else int(spheres)
    if ar <= 1.0 + 1e-12 or n == 1:
        if n != 1 and ar <= 1.0 + 1e-12:
            raise ValueError(f"a circle (aspect ratio 1) is one sphere, not {n}")
        if ar > 1.0 + 1e-12:
            raise ValueError(f"one sphere cannot make an ellipse of aspect ratio {ar:g}")
        return np.zeros((1, 2)), np.ones(1)
    a, b = ar, 1.0
    x0 = a - b * b / a
    xs = np.linspace(-x0, x0, n)
    rs = b * np.sqrt(np.clip(1.0 - xs**2 / (a * a - b * b), 0.0, None))
    rs = np.maximum(rs, b * b / a)  # the end spheres: radius of curvature at the tips
    return np.column_stack([xs, np.zeros(n)]), rs


def build_body(diameter_um: float, aspect_ratio: float, spheres: int | None = None) -> BodyShape:
    """A multisphere ellipse whose union has the area of a disc of ``diameter_um``."""
    off, rad = unit_cluster(aspect_ratio, spheres)
    area, perim = union_area_perimeter(off, rad)
    scale = 0.5 * diameter_um * math.sqrt(math.pi / area)
    return BodyShape(offsets=off * scale, radii=rad * scale, aspect_ratio=float(aspect_ratio),
                     diameter=float(diameter_um), area=area * scale**2,
                     perimeter=perim * scale)


def circularity_table(aspect_ratios=(1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)) -> list[dict]:
    """Exact circularity of the default bodies against the ellipse relation."""
    rows = []
    for ar in aspect_ratios:
        body = build_body(1.0, ar)
        ce = ellipse_circularity(ar)
        rows.append({"aspect_ratio": ar, "spheres": int(body.radii.size),
                     "circularity_exact": body.circularity, "circularity_ellipse": ce,
                     "relative_error": body.circularity / ce - 1.0})
    return rows


# ============================================================== measurement on images
def render_body(centres: np.ndarray, radii: np.ndarray, px_per_um: float,
                pad_px: int = 4) -> np.ndarray:
    """Boolean image of one body's section (pixel centres inside any disc)."""
    c = np.asarray(centres, dtype=float).reshape(-1, 2)
    r = np.asarray(radii, dtype=float).ravel()
    lo = (c - r[:, None]).min(axis=0) - pad_px / px_per_um
    hi = (c + r[:, None]).max(axis=0) + pad_px / px_per_um
    nx, ny = (int(math.ceil(v)) for v in (hi - lo) * px_per_um)
    xs = lo[0] + (np.arange(nx) + 0.5) / px_per_um
    ys = hi[1] - (np.arange(ny) + 0.5) / px_per_um
    img = np.zeros((ny, nx), dtype=bool)
    for (cx, cy), rr in zip(c, r, strict=True):
        img |= ((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) <= rr * rr
    return img


def measure_mask(mask: np.ndarray) -> dict:
    """Circularity ``4π area / perimeter²`` and aspect ratio of the largest region of a
    binary image, with scikit-image ``regionprops`` (pixel units).

    The perimeter is ``regionprops``' Crofton estimate (``perimeter_crofton``), within
    about 1 % of the true perimeter of a digitised ellipse of aspect ratio ≤ 3 at 40 px
    or more across its minor axis (2.6 % at aspect ratio 5). ``regionprops``' default
    ``perimeter`` (a weighted count of boundary pixels) reads 5–10 % long on smooth curves,
    so ``circularity_pixels`` (which uses it) sits that much below the ellipse relation
    even for a perfect ellipse; it is reported for comparison only.
    """
    from skimage.measure import label, regionprops

    regions = regionprops(label(mask.astype(np.uint8), connectivity=2))
    if not regions:
        raise ValueError("empty mask")
    reg = max(regions, key=lambda g: g.area)
    circ = 4.0 * math.pi * reg.area / reg.perimeter_crofton**2
    minor = reg.axis_minor_length
    ar = reg.axis_major_length / minor if minor > 0 else math.inf
    return {"area_px": float(reg.area), "perimeter_px": float(reg.perimeter_crofton),
            "circularity": float(circ),
            "circularity_pixels": float(4.0 * math.pi * reg.area / reg.perimeter**2),
            "aspect_ratio": float(ar)}


def measure_bodies(bodies: list[tuple[np.ndarray, np.ndarray, float]],
                   minor_axis_px: float = 80.0) -> list[dict]:
    """Render each body alone and measure it with ``regionprops``.

    Parameters
    ----------
    bodies : list of (centres (n, 2), radii (n,), nominal aspect ratio)
        The bodies, in µm.
    minor_axis_px : float
        Resolution: pixels across the minor axis of each body.

    Returns
    -------
    list of dict
        Per body: nominal ``aspect_ratio``, measured ``aspect_ratio_measured`` and
        ``circularity``, the ellipse relation at the nominal aspect ratio
        ``circularity_ellipse`` and the relative error, and the exact circularity of the
        union.
    """
    out = []
    for centres, radii, ar in bodies:
        c = np.asarray(centres, dtype=float).reshape(-1, 2)
        r = np.asarray(radii, dtype=float).ravel()
        area, perim = union_area_perimeter(c, r)
        minor = 2.0 * math.sqrt(area / (math.pi * ar))
        m = measure_mask(render_body(c, r, minor_axis_px / minor))
        ce = ellipse_circularity(ar)
        out.append({
            "aspect_ratio": float(ar), "spheres": int(r.size),
            "aspect_ratio_measured": m["aspect_ratio"], "circularity": m["circularity"],
            "circularity_ellipse": ce, "relative_error": m["circularity"] / ce - 1.0,
            "circularity_exact": 4.0 * math.pi * area / perim**2,
            "circularity_pixels": m["circularity_pixels"],
        })
    return out


# ============================================================== validation figure
#: Aspect ratios of the default validation sweep.
SWEEP_ASPECT_RATIOS = (1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0)


def validation(structure_bodies: list[tuple[np.ndarray, np.ndarray, float]] | None = None,
               aspect_ratios=SWEEP_ASPECT_RATIOS, minor_axis_px: float = 80.0,
               diameter_um: float = 10.0) -> list[dict]:
    """Measured circularity against aspect ratio: a sweep of default bodies
    (``source = "sweep"``) and, when given, the bodies of a generated packing
    (``source = "packing"``)."""
    sweep = [(b.offsets, b.radii, ar) for ar in aspect_ratios
             for b in [build_body(diameter_um, ar)]]
    rows = [dict(r, source="sweep") for r in measure_bodies(sweep, minor_axis_px)]
    if structure_bodies:
        rows += [dict(r, source="packing")
                 for r in measure_bodies(structure_bodies, minor_axis_px)]
    return rows


def validation_figure(rows: list[dict], tolerance: float = 0.03) -> object:
    """Circularity against aspect ratio: the ellipse relation (line, ± tolerance band),
    the regionprops measurements of the rendered bodies (points), and a gallery of the
    sweep's bodies drawn as their spheres."""
    from matplotlib.collections import EllipseCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 4.6))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.9, wspace=0.22)
    ax, gal = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1.0]})
    ars = [r["aspect_ratio"] for r in rows] + [r["aspect_ratio_measured"] for r in rows]
    x = np.linspace(1.0, max(ars) * 1.05, 300)
    ce = ellipse_circularity(x)
    ax.fill_between(x, ce * (1 - tolerance), ce * (1 + tolerance), color="tab:blue",
                    alpha=0.15, lw=0, label=f"ellipse ± {100 * tolerance:g} %")
    ax.plot(x, ce, color="tab:blue", lw=1.6, label="ellipse: 4πA/P², P Ramanujan")
    for src, mk, col in (("sweep", "o", "k"), ("packing", "s", "tab:red")):
        sel = [r for r in rows if r["source"] == src]
        if not sel:
            continue
        ax.plot([r["aspect_ratio_measured"] for r in sel], [r["circularity"] for r in sel],
                mk, mfc="none", mec=col, ms=6,
                label=f"{'default bodies' if src == 'sweep' else 'bodies of the packing'} "
                f"(regionprops, n = {len(sel)})")
    ax.set_xlabel("aspect ratio (major / minor axis, regionprops)")
    ax.set_ylabel("circularity 4πA/P² (−)")
    err = max(abs(r["relative_error"]) for r in rows)
    ax.set_title(f"Multisphere ellipses: largest deviation {100 * err:.2f} %", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper right")
    # gallery
    sweep = [r for r in rows if r["source"] == "sweep"]
    x0 = 0.0
    for r in sweep:
        b = build_body(1.0, r["aspect_ratio"])
        off = b.offsets[:, ::-1]  # major axis vertical
        cx = x0 + b.extent[1]
        gal.add_collection(EllipseCollection(
            2 * b.radii, 2 * b.radii, np.zeros(b.radii.size), units="xy",
            offsets=off + np.array([cx, 0.0]), offset_transform=gal.transData,
            facecolors="#8a8a8a", edgecolors="k", linewidths=0.4, alpha=0.8))
        gal.text(cx, -b.extent[0] - 0.2, f"{r['aspect_ratio']:g}\n{r['spheres']}",
                 ha="center", va="top", fontsize=7)
        x0 = cx + b.extent[1] + 0.45
    gal.set_xlim(-0.2, x0)
    gal.set_ylim(-1.9, 1.4)
    gal.set_aspect("equal")
    gal.axis("off")
    gal.set_title("default bodies of equal area\n(labels: aspect ratio, sub-spheres)",
                  fontsize=10)
    return fig
