"""Particle stresses, contact areas and the labels of a case, from its stage dumps.

Everything here is computed from the files of the case folder (``ARCHITECTURE.md``)
without rerunning LAMMPS: :func:`analyze_case` reads ``dumps/<stage>.*`` of every stage
and writes, atomically (temporary files renamed at the end),

* ``DIR/<stage>/particles.csv``, ``contacts.csv``, ``labels.json``, ``image.png`` for the
  final state of every stage, and the same four files at the top level for the last
  stage;
* ``DIR/figures/*.png`` (force chains, stress map, stress histograms, wall pressure
  against strain), see :mod:`assb_lmp.plots`.

Definitions (``DESIGN.md``, "Units and definitions")
----------------------------------------------------

Dumps are in LAMMPS ``units micro``: µm, nN, kPa (= nN/µm²). Outputs are in named units;
stresses in MPa (kPa / 1000).

Contact point of a pair ``i``–``j`` with centre distance ``dist``: on the centre line at
``l_i = (dist² + R_i² − R_j²) / (2 dist)`` from ``i`` (the radical plane, which is also
the plane the image uses to split overlapping discs). Wall contact: the centre projected
onto the wall plane (wall positions from ``<stage>.cell.json``); overlap ``R − distance``.

Particle stress (Love–Weber): ``σ_p = (1/V_p) Σ_c f_c ⊗ r_pc`` with ``f_c`` the force on
``p`` at contact ``c`` (pair: ``fn n + ft``, ``n`` the unit vector from the other particle
to ``p``; wall: the dumped wall force) and ``r_pc`` from the centre of ``p`` to the contact
point. The tensor is tension-positive; the reported stress is the mean compressive normal
stress ``p = −tr(σ_p)/d`` (MPa, compression positive). Quasi-2D (``dimension: 2``):
``d = 2`` and ``V_p = π r² t`` with ``t`` the nominal depth; 3D: ``d = 3`` and
``V_p = 4/3 π r³``. ``particles.csv`` holds the symmetric part of ``σ_p``.

Contact radius (Hertz, Komori eq. 15): ``a = (3 P R* / (4 E*))^(1/3)`` with ``P`` the
dumped normal force (clipped at 0), ``R* = R_i R_j / (R_i + R_j)`` (wall: ``R* = R_i``),
``1/E* = (1 − ν_i²)/E_i + (1 − ν_j²)/E_j`` from the material cards (wall: particle card
against the wall card). Contact area ``π a²`` (eq. 16). For a purely elastic Hertz contact
at rest ``a² = R* δ``.

Window and labels
-----------------

The window is the cell of ``<stage>.cell.json`` cropped ``crop_um`` (2 µm) in from each
side; when the crop is not square, the central square of side ``min(Lx, Ly) − 2 crop``.
The image shows exactly this window, and every label is taken over it:

* a particle counts when its centre lies in the window; a contact when its contact point
  does;
* ``am/se_stress_mean_mpa``, ``am/se_stress_sd_mpa``: mean and population SD (ddof = 0)
  of ``p`` over the particles of the phase in the window (rattlers included, at 0);
* ``*_stress_fit_mean_mpa``, ``*_stress_fit_sd_mpa``: least-squares fit of a Gaussian
  density to the stress histogram of the phase (Komori Fig. 4B), see :func:`gaussian_fit`;
* ``reaction_area_um2``: Σ π a² over AM–SE contacts whose contact point is in the window;
* ``se_coverage``: ``reaction_area_um2 / S_AM × f`` (Komori eq. 17), ``S_AM`` the total
  surface of the AM particles in the window, ``f`` the correction factor (default 1).
  ``S_AM`` is the sphere surface ``4π r²`` (option ``coverage_surface="sphere"``,
  default), also in the quasi-2D mode, for this reason: the quasi-2D bodies *are*
  spheres with coplanar centres; the forces and hence the contact areas ``π a²`` are
  those of sphere–sphere Hertz contacts and do not depend on the nominal depth ``t``,
  which is only a convention that turns forces into stresses. The surface that those
  contact areas are a part of is the sphere surface ``4π r²``. The alternative, the
  lateral surface ``2π r t`` of a slab of depth t (``coverage_surface="lateral"``), makes
  the coverage inversely proportional to a reporting convention (doubling t halves it).
  Either way a monolayer touches SE only along the AM's equator, so the coverage is far
  below that of a 3D electrode; that gap is what Komori's factor ``f`` absorbs (their
  §3.4 says the same);
* ``porosity`` and ``am_area_fraction``: pixel fractions of the window rendered with the
  same rule as the image (:func:`assb_lmp.analysis.imaging.render_owner`, overlaps split on the
  radical line) but ``label_supersample`` (4) times finer than the 224-px image, i.e.
  896 × 896 for the default. Measured on pressed packings of 1 µm SE, the porosity of the
  896-px render is within 0.05 % (relative) of its converged value, that of the 224-px
  image itself within about 0.7 %; on random discs the fractions match the analytic
  (clipped) disc areas to 0.03 % (tests/test_imaging.py). In a periodic cell the
  periodic images of particles near the edges are drawn too;
* ``am_se_contacts_per_am``: mean over the AM particles in the window of each one's
  number of AM–SE contacts (all of its contacts, wherever their contact point).

3D (cells pressed along z, periodic in x and y): every section plane of the spec (default
y = Ly/2) gives its own image and labels (:func:`section_view`): the window is the square of
the plane's (across, z) extent cropped ``crop_um`` from each side; a particle counts when the
plane cuts it and its projected centre lies in the window; an AM–SE contact counts when its
AM particle does (so reaction area and coverage are those of the AM particles the image
shows). ``section_z_um`` analyses a single plane z = const instead.

Contact radius of the elastic-plastic ``mdr`` decks: the circle in which the two spheres
intersect (:func:`overlap_contact_radius`; a plastic contact is flattened, and the Hertz
formula from the force would underestimate it); both definitions are reported in ``info``.

Multisphere AM bodies (atoms dump with a ``mol`` column, :mod:`assb_lmp.bodies`): a body
is one particle. Its centre is the centre of mass of its spheres, its Love–Weber stress
sums the contacts of all its spheres with branch vectors from that centre, its volume is
the union section area × t (quasi-2D), its coverage surface the surface of the union of
its spheres (``lateral``: union perimeter × t); contacts and images stay per sphere. At
static equilibrium the stress balance is unchanged (the net force on every body is zero).
After an ``expand`` stage the before/after report of :mod:`assb_lmp.expansion_report` is
written as well.

``labels.json`` holds the nine targets (:data:`assb_lmp.spec.targets.TARGETS`, null where
undefined, e.g. no AM in the window), the four Gaussian-fit values and an ``info`` object
(stage, window, counts, options, and the stress balance of :func:`stress_balance`).

This module reads with :mod:`assb_lmp.dumps` and, in :func:`analyze_case` only, draws
with :mod:`assb_lmp.imaging` and :mod:`assb_lmp.plots` (imported lazily); those two import
nothing from the package.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from assb_lmp import __version__
from assb_lmp.analysis.dumps import (
    Frame,
    discover_stages,
    read_cell,
    read_last_frame,
    read_series,
    stage_paths,
)
from assb_lmp.core.errors import AnalysisError, AssbError
from assb_lmp.core.units import KPA_PER_GPA, KPA_PER_MPA
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec import case as config
from assb_lmp.spec.targets import TARGETS

log = logging.getLogger(__name__)

#: LAMMPS atom type → phase name (type 3, the servo marker, is never dumped).
PHASE_OF_TYPE: dict[int, str] = {1: "AM", 2: "SE"}
#: Phase codes used in arrays.
AM, SE = 1, 2
#: Wall planes: name → (axis index, inward normal sign, cell.json key of the position).
WALL_GEOMETRY: dict[str, tuple[int, float, str]] = {
    "xlo": (0, +1.0, "xlo_um"), "xhi": (0, -1.0, "xhi_um"),
    "ylo": (1, +1.0, "ylo_um"), "yhi": (1, -1.0, "yhi_um"),
    "zlo": (2, +1.0, "zlo_um"), "zhi": (2, -1.0, "zhi_um"),
}
#: Folder names in a case folder that a stage may not use for its outputs.
RESERVED_NAMES = frozenset({"dumps", "figures"})
#: Default crop of the image window from each side of the cell (µm), Komori §2.2.
CROP_UM = 2.0
#: Pixels of the CNN image.
IMAGE_PX = 224


# ============================================================== pure functions
def contact_points(
    x_i: np.ndarray, d: np.ndarray, dist: np.ndarray, r_i: np.ndarray, r_j: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contact points of sphere pairs on the radical plane.

    Parameters
    ----------
    x_i : numpy.ndarray, shape (m, 3)
        Centres of the first spheres (µm).
    d : numpy.ndarray, shape (m, 3)
        Separation vectors ``x_i − x_j`` (minimum image, µm).
    dist : numpy.ndarray, shape (m,)
        Centre distances ``|d|`` (µm).
    r_i, r_j : numpy.ndarray, shape (m,)
        Radii (µm).

    Returns
    -------
    point : numpy.ndarray, shape (m, 3)
        Contact points (µm), ``x_i − l_i n``.
    branch_i : numpy.ndarray, shape (m, 3)
        ``r_ic``, from the centre of ``i`` to the contact point (µm).
    branch_j : numpy.ndarray, shape (m, 3)
        ``r_jc``, from the centre of ``j`` to the contact point (µm).
    """
    dist = np.asarray(dist, dtype=float)
    n = np.asarray(d, dtype=float) / dist[:, None]
    l_i = (dist**2 + r_i**2 - r_j**2) / (2.0 * dist)
    branch_i = -l_i[:, None] * n
    branch_j = (dist - l_i)[:, None] * n
    return np.asarray(x_i, dtype=float) + branch_i, branch_i, branch_j


def love_weber_stress(
    n_particles: int,
    index: np.ndarray,
    force: np.ndarray,
    branch: np.ndarray,
    volume: np.ndarray,
) -> np.ndarray:
    """Love–Weber stress tensors ``σ_p = (1/V_p) Σ_c f_c ⊗ r_pc``.

    Each row ``c`` of the inputs is one (particle, contact) incidence: a pair contact
    contributes two rows (``+f`` on ``i`` with ``r_ic``, ``−f`` on ``j`` with ``r_jc``),
    a wall contact one.

    Parameters
    ----------
    n_particles : int
        Number of particles.
    index : numpy.ndarray of int, shape (m,)
        Particle index of each incidence.
    force : numpy.ndarray, shape (m, 3)
        Force on the particle at the contact (nN).
    branch : numpy.ndarray, shape (m, 3)
        Vector from the particle centre to the contact point (µm).
    volume : numpy.ndarray, shape (n_particles,)
        Particle volumes ``V_p`` (µm³).

    Returns
    -------
    numpy.ndarray, shape (n_particles, 3, 3)
        ``σ_p[a, b] = Σ f_a r_b / V_p`` in kPa (nN/µm²), tension positive; zero for a
        particle without contacts.
    """
    index = np.asarray(index, dtype=np.int64)
    force = np.asarray(force, dtype=float).reshape(-1, 3)
    branch = np.asarray(branch, dtype=float).reshape(-1, 3)
    outer = (force[:, :, None] * branch[:, None, :]).reshape(-1, 9)
    sums = np.empty((n_particles, 9))
    for k in range(9):
        sums[:, k] = np.bincount(index, weights=outer[:, k], minlength=n_particles)
    return sums.reshape(n_particles, 3, 3) / np.asarray(volume, dtype=float)[:, None, None]


def mean_compressive_stress(sigma: np.ndarray, dimension: int) -> np.ndarray:
    """Mean compressive normal stress ``p = −tr(σ)/d`` (same unit as ``sigma``).

    Parameters
    ----------
    sigma : numpy.ndarray, shape (n, 3, 3)
        Stress tensors, tension positive.
    dimension : {2, 3}
        ``d``: 2 for the quasi-2D mode (σ_zz is zero there), 3 for 3D.
    """
    if dimension not in (2, 3):
        raise ValueError(f"dimension must be 2 or 3, got {dimension!r}")
    tr = np.trace(sigma, axis1=1, axis2=2)
    return -tr / float(dimension)


def particle_volume(radius: np.ndarray, dimension: int, depth_um: float) -> np.ndarray:
    """Particle volume for the stress average (µm³).

    Quasi-2D (``dimension == 2``): ``π r² t`` with ``t = depth_um``; 3D: ``4/3 π r³``.
    """
    radius = np.asarray(radius, dtype=float)
    if dimension == 2:
        return math.pi * radius**2 * float(depth_um)
    return 4.0 / 3.0 * math.pi * radius**3


def hertz_contact_radius(
    normal_force_nn: np.ndarray | float, r_star_um: np.ndarray | float,
    e_star_kpa: np.ndarray | float,
) -> np.ndarray:
    """Hertz contact radius ``a = (3 P R* / (4 E*))^(1/3)`` (Komori eq. 15), in µm.

    Parameters
    ----------
    normal_force_nn : array-like
        Normal force ``P`` (nN); negative values (damping pulling) give ``a = 0``.
    r_star_um : array-like
        Effective radius ``R* = R_i R_j / (R_i + R_j)`` (µm; ``R_i`` for a wall).
    e_star_kpa : array-like
        Effective modulus ``E*`` (kPa = nN/µm²).

    Returns
    -------
    numpy.ndarray
        Contact radius (µm). For a Hertz contact ``a² = R* δ``.
    """
    p = np.clip(np.asarray(normal_force_nn, dtype=float), 0.0, None)
    return np.cbrt(3.0 * p * np.asarray(r_star_um, dtype=float)
                   / (4.0 * np.asarray(e_star_kpa, dtype=float)))


def overlap_contact_radius(
    dist_um: np.ndarray, r_i_um: np.ndarray, r_j_um: np.ndarray | None
) -> np.ndarray:
    """Radius of the circle in which two overlapping spheres intersect (µm).

    ``a² = R_i² − l_i²`` with ``l_i = (dist² + R_i² − R_j²) / (2 dist)`` the distance from
    centre ``i`` to the radical plane; for a wall (``r_j_um`` None, ``dist_um`` the centre–
    plane distance) ``a² = R_i² − dist²``. This is the contact radius of a fully plastic
    (truncated) contact: for two equal spheres ``a² = R δ − δ²/4 ≈ 2 R* δ``, twice the
    Hertz area ``π R* δ`` at the same overlap. Zero where the spheres do not overlap.
    """
    dist = np.asarray(dist_um, dtype=float)
    r_i = np.asarray(r_i_um, dtype=float)
    if r_j_um is None:
        l_i = dist
    else:
        r_j = np.asarray(r_j_um, dtype=float)
        l_i = (dist**2 + r_i**2 - r_j**2) / (2.0 * np.where(dist > 0, dist, 1.0))
    return np.sqrt(np.clip(r_i**2 - l_i**2, 0.0, None))


def window_from_cell(cell: Mapping[str, float], crop_um: float = CROP_UM) -> tuple[
    float, float, float, float
]:
    """The square image/label window of a cell (µm): ``(x0, x1, y0, y1)``.

    The cell is cropped ``crop_um`` in from each side; if the crop is not square, the
    central square of side ``min(Lx, Ly) − 2 crop_um`` is taken.

    Raises
    ------
    AnalysisError
        If the crop leaves nothing.
    """
    xlo, xhi = float(cell["xlo_um"]), float(cell["xhi_um"])
    ylo, yhi = float(cell["ylo_um"]), float(cell["yhi_um"])
    side = min(xhi - xlo, yhi - ylo) - 2.0 * crop_um
    if not side > 0:
        raise AnalysisError(
            f"cell {xhi - xlo:.4g} × {yhi - ylo:.4g} µm is too small for a {crop_um} µm crop"
        )
    cx, cy = 0.5 * (xlo + xhi), 0.5 * (ylo + yhi)
    return (cx - 0.5 * side, cx + 0.5 * side, cy - 0.5 * side, cy + 0.5 * side)


def in_window(xy: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """Boolean mask of points whose (x, y) lie in the window ``(x0, x1, y0, y1)``."""
    xy = np.asarray(xy, dtype=float)
    x0, x1, y0, y1 = window
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def _fit_gaussian_density(
    x: np.ndarray, y: np.ndarray, mu0: float, sd0: float, max_iter: int = 100
) -> tuple[float, float] | None:
    """Levenberg–Marquardt least squares of ``y ≈ N(x; μ, σ)`` (a normalised Gaussian).

    Returns None when it does not converge.
    """
    c = 1.0 / math.sqrt(2.0 * math.pi)

    def resid_jac(m: float, s: float) -> tuple[np.ndarray, np.ndarray]:
        z = (x - m) / s
        g = c / s * np.exp(-0.5 * z * z)
        jac = np.column_stack([g * z / s, g * (z * z - 1.0) / s])
        return g - y, jac

    m, s = mu0, sd0
    r, jac = resid_jac(m, s)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(max_iter):
        a = jac.T @ jac
        grad = jac.T @ r
        step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-300), -grad)
        m_new, s_new = m + step[0], s + step[1]
        if s_new <= 0:
            lam *= 10.0
            continue
        r_new, jac_new = resid_jac(m_new, s_new)
        cost_new = float(r_new @ r_new)
        if cost_new < cost:
            done = abs(step[0]) <= 1e-10 * (abs(m) + s) and abs(step[1]) <= 1e-10 * s
            m, s, r, jac, cost = m_new, s_new, r_new, jac_new, cost_new
            lam = max(lam / 10.0, 1e-12)
            if done:
                return m, s
        else:
            lam *= 10.0
            if lam > 1e12:
                return m, s
    return m, s


def gaussian_fit(values: np.ndarray) -> tuple[float | None, float | None]:
    """Fit a Gaussian density to the histogram of ``values`` (least squares).

    The histogram uses numpy's ``"auto"`` bins (at most 200), density normalised; a
    Levenberg–Marquardt fit of the normalised Gaussian ``N(x; μ, σ)`` to the bar heights
    starts from the sample mean and SD (Komori et al. 2022 describe the stress
    distributions by such a fit, Fig. 4B). With fewer than 5 values, a zero spread or a
    fit that fails the sample mean and population SD are returned.

    Returns
    -------
    (mean, sd) : tuple of float or None
        Same unit as ``values``; ``(None, None)`` when ``values`` is empty.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None, None
    mu0, sd0 = float(v.mean()), float(v.std())
    if v.size < 5 or not (sd0 > 1e-12 * max(abs(mu0), 1e-300)) or not math.isfinite(sd0):
        return mu0, sd0
    edges = np.histogram_bin_edges(v, bins="auto")
    if edges.size > 201:  # cap the bin count for heavy tails
        edges = np.histogram_bin_edges(v, bins=200)
    dens, edges = np.histogram(v, bins=edges, density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    with np.errstate(all="ignore"):
        fit = _fit_gaussian_density(centres, dens, mu0, sd0)
    if fit is None or not all(math.isfinite(t) for t in fit) or fit[1] <= 0:
        return mu0, sd0
    return float(fit[0]), float(fit[1])


# ============================================================== case context
@dataclass
class CaseInfo:
    """What analysis needs to know about a case besides its dumps.

    Attributes
    ----------
    case_dir : Path
        The case folder.
    dimension : int
        2 (quasi-2D) or 3.
    cards : dict of str to Material
        Cards by role: ``am``, ``se``, ``wall``.
    stages : list of str
        Stage names in run order.
    spec : CaseSpec or None
        The spec of ``spec.yaml`` when present.
    structure : tuple of (ids, types) or None
        Atom ids and types of ``structure.data`` when present.
    depth_um : float or None
        Nominal depth t of the spec (µm), checked against every ``cell.json``.
    """

    case_dir: Path
    dimension: int
    cards: dict[str, materials.Material]
    stages: list[str]
    spec: config.CaseSpec | None = None
    structure: tuple[np.ndarray, np.ndarray] | None = None
    depth_um: float | None = None

    def e_star_kpa(self, role_a: str, role_b: str) -> float:
        """Hertz ``E*`` between two roles (``am``, ``se``, ``wall``), in kPa."""
        return physics.effective_modulus_gpa(self.cards[role_a], self.cards[role_b]) * (
            KPA_PER_GPA
        )


def _load_spec(path: Path) -> config.CaseSpec:
    try:
        data = yaml.safe_load(path.read_text())
        return config.CaseSpec.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise AnalysisError(f"{path}: cannot read the case spec: {exc}") from None
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise AnalysisError(f"{path}: not a valid case spec:\n{exc}") from None


def _load_cards(case_dir: Path, spec: config.CaseSpec | None) -> dict[str, materials.Material]:
    path = case_dir / "materials.json"
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise AnalysisError(f"{path}: not a readable JSON file: {exc}") from None
        if not isinstance(raw, dict):
            raise AnalysisError(f"{path}: expected an object with keys am, se, wall")
        cards = {}
        for role in ("am", "se", "wall"):
            if role not in raw:
                raise AnalysisError(f"{path}: no card for role {role!r}")
            try:
                cards[role] = materials.Material.model_validate(raw[role])
            except ValueError as exc:
                raise AnalysisError(f"{path}: card {role!r} is invalid:\n{exc}") from None
        return cards
    if spec is not None:
        try:
            return case_cards(spec)
        except AssbError as exc:
            raise AnalysisError(
                f"{case_dir}: no materials.json and the cards of spec.yaml cannot be "
                f"loaded: {exc}"
            ) from None
    raise AnalysisError(
        f"{case_dir}: neither materials.json nor spec.yaml: the elastic constants of the "
        "contacts are unknown"
    )


def read_data_atoms(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Atom ids and types from the ``Atoms`` section of a LAMMPS data file.

    Returns
    -------
    ids, types : numpy.ndarray of int
        Sorted by id.

    Raises
    ------
    AnalysisError
        If the file has no readable ``Atoms`` section.
    """
    path = Path(path)
    try:
        text = path.read_text().splitlines()
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot read: {exc}") from None
    n_atoms = None
    start = None
    for k, line in enumerate(text):
        s = line.split("#")[0].strip()
        if s.endswith(" atoms") and n_atoms is None:
            try:
                n_atoms = int(s.split()[0])
            except ValueError:
                pass
        if s == "Atoms":
            start = k + 1
            break
    if n_atoms is None or start is None:
        raise AnalysisError(f"{path}: no atom count or no 'Atoms' section")
    rows: list[tuple[int, int]] = []
    for line in text[start:]:
        s = line.split("#")[0].strip()
        if not s:
            if rows:
                if len(rows) >= n_atoms:
                    break
            continue
        parts = s.split()
        if not parts[0].lstrip("-").isdigit():
            break
        rows.append((int(parts[0]), int(parts[1])))
        if len(rows) == n_atoms:
            break
    if len(rows) != n_atoms:
        raise AnalysisError(
            f"{path}: the header announces {n_atoms} atoms but the Atoms section has "
            f"{len(rows)}"
        )
    arr = np.array(rows, dtype=np.int64)
    order = np.argsort(arr[:, 0], kind="stable")
    return arr[order, 0], arr[order, 1]


def load_case_info(case_dir: str | os.PathLike[str]) -> CaseInfo:
    """Collect spec, cards, stage order and structure ids of a case folder.

    Stage order: the order of ``spec.yaml`` when present (every stage of the spec must
    have its dumps), else the order of the ``step`` in each ``<stage>.cell.json``.

    Raises
    ------
    AnalysisError
        If the folder or its dumps are missing, or spec, cards or data file are unusable.
    """
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise AnalysisError(f"{case_dir}: no such case folder")
    dumps_dir = case_dir / "dumps"
    found = discover_stages(case_dir)
    if not found:
        raise AnalysisError(
            f"{dumps_dir}: no stage dumps (<stage>.atoms.dump) found; run the case first "
            "(python -m assb_lmp run ...)"
        )
    spec = _load_spec(case_dir / "spec.yaml") if (case_dir / "spec.yaml").is_file() else None
    cards = _load_cards(case_dir, spec)
    if spec is not None:
        stages = [s.name for s in spec.stages]
        missing = [s for s in stages if s not in found]
        if missing:
            raise AnalysisError(
                f"{dumps_dir}: stage(s) {', '.join(missing)} of spec.yaml have no "
                f"{missing[0]}.atoms.dump (the run did not finish?)"
            )
        extra = sorted(set(found) - set(stages))
        if extra:
            log.warning("%s: dumps of stages not in spec.yaml ignored: %s", dumps_dir, extra)
        dimension = spec.geometry.dimension
        depth = spec.depth_um
    else:
        steps = {s: read_cell(stage_paths(case_dir, s)["cell"]).get("step", 0) for s in found}
        stages = sorted(found, key=lambda s: (steps[s], s))
        dimension = 0  # decided from the first atoms frame
        depth = None
    for s in stages:
        if s in RESERVED_NAMES:
            raise AnalysisError(
                f"{case_dir}: a stage may not be called {s!r} (its output folder would "
                "clash with the case folder's own)"
            )
    structure = None
    data_path = case_dir / "structure.data"
    if data_path.is_file():
        structure = read_data_atoms(data_path)
    return CaseInfo(case_dir=case_dir, dimension=dimension, cards=cards, stages=stages,
                    spec=spec, structure=structure, depth_um=depth)


# ============================================================== one stage
@dataclass
class StageResult:
    """Analysis of the final state of one stage.

    Attributes
    ----------
    stage : str
        Stage name.
    cell : dict
        The stage's ``cell.json``.
    dimension : int
        2 or 3.
    depth_um : float
        Nominal depth t (quasi-2D) used for volumes (µm).
    window : tuple of float
        ``(x0, x1, y0, y1)`` of the image/label window (µm).
    ids, phase, radius, pos
        Particle ids, phase codes (1 AM, 2 SE), radii (µm), centres (n, 3) (µm).
    sigma_mpa : numpy.ndarray, shape (n, 3, 3)
        Love–Weber tensors (MPa, tension positive).
    stress_mpa : numpy.ndarray, shape (n,)
        ``p = −tr(σ)/d`` (MPa, compression positive).
    volume_um3 : numpy.ndarray
        ``V_p`` (µm³).
    n_contacts : numpy.ndarray of int
        Contacts per particle (pairs and walls).
    p_in : numpy.ndarray of bool
        Particle centre in the window.
    contacts : dict of str to numpy.ndarray
        ``i``, ``j`` (particle indices, ``j = −1`` for a wall), ``wall`` (name or ""),
        ``pair`` (AM-AM, AM-SE, SE-SE, AM-wall, SE-wall), ``fn`` (nN), ``ft`` (nN),
        ``overlap`` (µm), ``a`` (µm), ``area`` (µm²), ``point`` (m, 3) (µm), ``in``.
    labels : dict
        The labels of the stage (see :func:`compute_labels`).
    """

    stage: str
    cell: dict
    dimension: int
    depth_um: float
    window: tuple[float, float, float, float]
    ids: np.ndarray
    phase: np.ndarray
    radius: np.ndarray
    pos: np.ndarray
    sigma_mpa: np.ndarray
    stress_mpa: np.ndarray
    volume_um3: np.ndarray
    n_contacts: np.ndarray
    p_in: np.ndarray
    contacts: dict[str, np.ndarray]
    labels: dict = field(default_factory=dict)
    image: np.ndarray | None = None
    periodic_lengths: tuple[float | None, float | None] = (None, None)
    boundary_moment: np.ndarray | None = None
    #: multisphere bodies (atoms dump with a ``mol`` column), see :mod:`assb_lmp.bodies`:
    #: body id per particle (0 for single spheres), atoms per particle, section area (µm²),
    #: section perimeter (µm), 3D surface (µm²); None without bodies
    mol: np.ndarray | None = None
    n_spheres: np.ndarray | None = None
    area_um2: np.ndarray | None = None
    perimeter_um: np.ndarray | None = None
    surface_um2: np.ndarray | None = None
    volume3d_um3: np.ndarray | None = None
    aspect_ratio: np.ndarray | None = None
    #: the atoms behind the particles (bodies only): ``pos`` (m, 3), ``radius``, ``phase``,
    #: ``particle`` (particle index of each atom), ``ids``
    atoms: dict[str, np.ndarray] | None = None
    #: 3D: per section name, the section's view (:func:`section_view`) with its labels and
    #: image; ``labels`` and ``image`` above are those of the first section.
    sections: dict[str, StageResult] = field(default_factory=dict)
    #: 3D section views: position of the plane along the view's third axis (µm).
    plane_w_um: float | None = None
    #: Contact radius of ``contacts["area"]``: "hertz" (from the force) or "overlap"
    #: (the spheres' intersection circle, used for the elastic-plastic mdr model).
    contact_radius: str = "hertz"

    def drawn(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, radii and phases of what a section shows, with the periodic images
        (shifted by ±L) of particles within one diameter of a periodic cell edge.
        Multisphere bodies are drawn as their sub-spheres."""
        if self.atoms is not None:
            pos, rad, ph = self.atoms["pos"], self.atoms["radius"], self.atoms["phase"]
        else:
            pos, rad, ph = self.pos, self.radius, self.phase
        for ax, length in enumerate(self.periodic_lengths):
            if not length:
                continue
            lo = float(self.cell["xlo_um" if ax == 0 else "ylo_um"])
            reach = 2.0 * float(rad.max()) if rad.size else 0.0
            near_lo = pos[:, ax] - lo < reach
            near_hi = lo + length - pos[:, ax] < reach
            shift = np.zeros(3)
            shift[ax] = length
            pos = np.vstack([pos, pos[near_lo] + shift, pos[near_hi] - shift])
            rad = np.concatenate([rad, rad[near_lo], rad[near_hi]])
            ph = np.concatenate([ph, ph[near_lo], ph[near_hi]])
        return pos, rad, ph

    def stress_volume_sum(self) -> np.ndarray:
        """``Σ_p σ_p V_p`` over all particles (nN·µm), tension positive, shape (3, 3)."""
        return np.einsum("pab,p->ab", self.sigma_mpa * KPA_PER_MPA, self.volume_um3)

    def cell_volume_um3(self) -> float:
        """Cell volume: ``Lx Ly t`` (quasi-2D) or ``Lx Ly Lz`` (3D), µm³."""
        c = self.cell
        area = (c["xhi_um"] - c["xlo_um"]) * (c["yhi_um"] - c["ylo_um"])
        if self.dimension == 2:
            return float(area * self.depth_um)
        return float(area * (c["zhi_um"] - c["zlo_um"]))


def _pair_names(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
    out = np.full(lo.shape, "SE-SE", dtype="<U7")
    out[(lo == AM) & (hi == AM)] = "AM-AM"
    out[(lo == AM) & (hi == SE)] = "AM-SE"
    return out


def _check_atoms(info: CaseInfo, frame: Frame, cell: dict, stage: str) -> None:
    path = frame.source
    frame.require(("id", "type", "radius", "x", "y", "z"))
    ids = frame["id"]
    if frame.n == 0:
        raise AnalysisError(f"{path}: the frame holds no atoms")
    if np.any(np.diff(ids) <= 0):
        if np.unique(ids).size != ids.size:
            raise AnalysisError(f"{path}: repeated atom ids")
    bad_types = sorted(set(np.unique(frame["type"]).tolist()) - set(PHASE_OF_TYPE))
    if bad_types:
        raise AnalysisError(
            f"{path}: atom type(s) {bad_types} are neither 1 (AM) nor 2 (SE)"
        )
    if np.any(frame["radius"] <= 0):
        raise AnalysisError(f"{path}: non-positive radius")
    if frame.timestep != int(cell["step"]):
        raise AnalysisError(
            f"{path}: timestep {frame.timestep} differs from step {cell['step']} of "
            f"{stage}.cell.json: the files are not from the same run"
        )
    if info.structure is not None:
        sids, stypes = info.structure
        order = np.argsort(ids, kind="stable")
        if sids.size != ids.size or np.any(sids != ids[order]):
            raise AnalysisError(
                f"{path}: its {ids.size} atom ids do not match the {sids.size} atoms of "
                f"{info.case_dir / 'structure.data'}: the dump is from another case"
            )
        if np.any(stypes != frame["type"][order]):
            k = int(np.nonzero(stypes != frame["type"][order])[0][0])
            raise AnalysisError(
                f"{path}: atom {int(sids[k])} has type {int(frame['type'][order][k])} but "
                f"type {int(stypes[k])} in structure.data: the dump is from another case"
            )


def _check_virial(atoms: Frame, order: np.ndarray, f_on_i: np.ndarray, d: np.ndarray,
                  paths: Mapping[str, Path]) -> None:
    """When the atoms dump carries LAMMPS's per-atom pair virial (``virial_xx``,
    ``virial_yy``, ``virial_xy``: stress × volume, −Σ d ⊗ f), check that the forces of the
    contacts dump reproduce its sum; they must, if both come from the same state."""
    cols = ("virial_xx", "virial_yy", "virial_xy")
    if not all(c in atoms for c in cols):
        return
    ours = -(f_on_i.T @ d)  # [a, b] = -Σ f_a d_b
    theirs = np.array([atoms[c][order].sum() for c in cols])
    mine = np.array([ours[0, 0], ours[1, 1], ours[1, 0]])
    scale = max(float(np.abs(theirs[:2]).max()), float(np.abs(mine[:2]).max()), 1e-300)
    if np.abs(mine - theirs).max() > 1e-4 * scale + 1e-9:
        raise AnalysisError(
            f"{paths['contacts']}: its pair forces give Σ −d⊗f (xx, yy, xy) = "
            f"{np.round(mine, 6).tolist()} nN·µm but the per-atom virial of "
            f"{paths['atoms'].name} sums to {np.round(theirs, 6).tolist()}: the two dumps are "
            "not from the same state"
        )


def analyze_stage(
    info: CaseInfo,
    stage: str,
    *,
    coverage_factor: float = 1.0,
    crop_um: float = CROP_UM,
    coverage_surface: str = "sphere",
    label_supersample: int = 4,
    image_px: int = IMAGE_PX,
    section_z_um: float | None = None,
    sections: Sequence[tuple[str, float, str]] | None = None,
) -> StageResult:
    """Read the three end-of-stage files of one stage and compute everything.

    Parameters
    ----------
    info : CaseInfo
        From :func:`load_case_info`.
    stage : str
        Stage name.
    coverage_factor, crop_um, coverage_surface, label_supersample, image_px, section_z_um
        See :func:`analyze_case`.
    sections : sequence of (axis, position_um, name), optional
        3D: the section planes (default: ``section_z_um`` if given, else the spec's
        :attr:`~assb_lmp.spec.case.CaseSpec.section_planes`, else the plane y = mid-cell).

    Returns
    -------
    StageResult
        Particles, contacts, labels and the rendered image of the stage.

    Raises
    ------
    AnalysisError
        Naming the file that is missing, truncated or inconsistent with the others.
    """
    from assb_lmp.analysis import imaging

    paths = stage_paths(info.case_dir, stage)
    for key in ("atoms", "contacts", "cell"):
        if not paths[key].is_file():
            raise AnalysisError(f"{paths[key]}: missing (needed for stage {stage!r})")
    cell = read_cell(paths["cell"])
    if cell["stage"] != stage:
        raise AnalysisError(
            f"{paths['cell']}: says stage {cell['stage']!r}, expected {stage!r}"
        )
    if cell.get("converged", 1) in (0, False):
        log.warning("%s: the stage ended without converging (servo error %s); its labels "
                    "describe a state that is not at rest", paths["cell"], cell.get("error"))
    atoms = read_last_frame(paths["atoms"])
    _check_atoms(info, atoms, cell, stage)
    cont = read_last_frame(paths["contacts"])
    cont.require(("id1", "id2", "dist", "fn", "ftx", "fty", "ftz", "dx", "dy", "dz"))
    if cont.timestep != atoms.timestep:
        raise AnalysisError(
            f"{paths['contacts']}: timestep {cont.timestep} differs from timestep "
            f"{atoms.timestep} of {paths['atoms'].name}: the files are not from the same run"
        )

    # ---- geometry and depth
    dimension = info.dimension
    if dimension == 0:
        dimension = int(cell.get("dimension", 2 if np.ptp(atoms["z"]) == 0 else 3))
    depth = float(cell["depth_um"])
    if info.depth_um is not None and dimension == 2 and not math.isclose(
        depth, info.depth_um, rel_tol=1e-6
    ):
        raise AnalysisError(
            f"{paths['cell']}: depth_um = {depth} but spec.yaml gives t = {info.depth_um} µm: "
            "the cell file is from another case"
        )

    order = np.argsort(atoms["id"], kind="stable")
    ids = atoms["id"][order]
    phase = atoms["type"][order].astype(np.int64)
    radius = atoms["radius"][order]
    pos = np.column_stack([atoms["x"][order], atoms["y"][order], atoms["z"][order]])
    n = ids.size
    roles = np.where(phase == AM, 0, 1)  # 0 am, 1 se
    grouping = None
    if "mol" in atoms and np.any(atoms["mol"] > 0):
        from assb_lmp.analysis import bodies

        plen = tuple(
            float(atoms.box[ax, 1] - atoms.box[ax, 0])
            if len(atoms.boundary) > ax and atoms.boundary[ax].startswith("p") and (
                ax < 2 or dimension == 3) else None
            for ax in range(3)
        )
        mass = atoms["mass"][order] if "mass" in atoms else radius**3
        try:
            grouping = bodies.group(ids, phase, radius, pos, mass,
                                    atoms["mol"][order].astype(np.int64), plen,
                                    box_lo=atoms.box[:, 0] if atoms.box.size else None)
        except ValueError as exc:
            raise AnalysisError(f"{paths['atoms']}: {exc}") from None
    e_pp = np.array([[info.e_star_kpa(a, b) for b in ("am", "se")] for a in ("am", "se")])
    e_pw = np.array([info.e_star_kpa(a, "wall") for a in ("am", "se")])

    # ---- pair contacts
    id1, id2 = cont["id1"], cont["id2"]
    key = np.minimum(id1, id2) * (int(ids.max()) + 1) + np.maximum(id1, id2)
    _, first = np.unique(key, return_index=True)
    if first.size != id1.size:
        log.debug("%s: %d duplicate contact rows dropped", paths["contacts"],
                  id1.size - first.size)
    first.sort()
    sel = {c: cont[c][first] for c in cont.columns}
    i = np.searchsorted(ids, sel["id1"])
    j = np.searchsorted(ids, sel["id2"])
    i_c, j_c = np.clip(i, 0, n - 1), np.clip(j, 0, n - 1)
    unknown = (ids[i_c] != sel["id1"]) | (ids[j_c] != sel["id2"])
    if np.any(unknown):
        k = int(np.nonzero(unknown)[0][0])
        raise AnalysisError(
            f"{paths['contacts']}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) "
            f"names an atom that is not in {paths['atoms'].name}: the dump is from another case"
        )
    d = np.column_stack([sel["dx"], sel["dy"], sel["dz"]])
    dist = sel["dist"]
    # consistency of the contact geometry with the atom positions
    sep = pos[i] - pos[j]
    for ax in range(3):
        if len(atoms.boundary) > ax and atoms.boundary[ax].startswith("p"):
            length = atoms.box[ax, 1] - atoms.box[ax, 0]
            sep[:, ax] -= length * np.round(sep[:, ax] / length)
    extent = float(np.max(np.abs(atoms.box))) if atoms.box.size else 1.0
    tol = 1e-4 * (1.0 + extent)
    dev = np.abs(sep - d).max(axis=1) if dist.size else np.zeros(0)
    dist_dev = np.abs(np.linalg.norm(d, axis=1) - dist) if dist.size else np.zeros(0)
    if np.any(dev > tol) or np.any(dist_dev > tol):
        k = int(np.argmax(np.maximum(dev, dist_dev)))
        raise AnalysisError(
            f"{paths['contacts']}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) has "
            f"separation {d[k].round(4).tolist()} µm but the atoms of {paths['atoms'].name} "
            f"are {sep[k].round(4).tolist()} µm apart: the dumps are not from the same state"
        )
    if np.any(dist <= 0):
        raise AnalysisError(f"{paths['contacts']}: zero centre distance in a contact")
    overlap = radius[i] + radius[j] - dist
    far = overlap < -tol
    if np.any(far):
        k = int(np.nonzero(far)[0][0])
        raise AnalysisError(
            f"{paths['contacts']}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) at "
            f"distance {dist[k]:.6g} µm exceeds the radius sum {radius[i][k] + radius[j][k]:.6g}"
            f" µm of {paths['atoms'].name}: the dumps are not from the same state"
        )
    keep = overlap > 0
    i, j, d, dist, overlap = i[keep], j[keep], d[keep], dist[keep], overlap[keep]
    fn = sel["fn"][keep]
    ft_vec = np.column_stack([sel["ftx"], sel["fty"], sel["ftz"]])[keep]
    nvec = d / dist[:, None]
    f_on_i = fn[:, None] * nvec + ft_vec
    point, br_i, br_j = contact_points(pos[i], d, dist, radius[i], radius[j])
    r_star = radius[i] * radius[j] / (radius[i] + radius[j])
    e_star = e_pp[roles[i], roles[j]]
    ft = np.linalg.norm(ft_vec, axis=1)
    pair = _pair_names(phase[i], phase[j])

    _check_virial(atoms, order, f_on_i, d, paths)

    # ---- wall contacts
    w_idx, w_name, w_force, w_point, w_branch, w_fn, w_ft, w_ov = [], [], [], [], [], [], [], []
    for wall, (ax, sign, ckey) in WALL_GEOMETRY.items():
        cols = [f"wall_{wall}_f{c}" for c in "xyz"]
        if not all(c in atoms for c in cols):
            continue
        if ckey not in cell:
            raise AnalysisError(
                f"{paths['cell']}: no {ckey} for the wall {wall} of {paths['atoms'].name}"
            )
        f = np.column_stack([atoms[c][order] for c in cols])
        hit = np.nonzero(np.any(f != 0.0, axis=1))[0]
        if hit.size == 0:
            continue
        plane = float(cell[ckey])
        pt = pos[hit].copy()
        pt[:, ax] = plane
        br = pt - pos[hit]
        fnw = sign * f[hit, ax]
        tang = f[hit].copy()
        tang[:, ax] = 0.0
        w_idx.append(hit)
        w_name.append(np.full(hit.size, wall, dtype="<U3"))
        w_force.append(f[hit])
        w_point.append(pt)
        w_branch.append(br)
        w_fn.append(fnw)
        w_ft.append(np.linalg.norm(tang, axis=1))
        w_ov.append(radius[hit] - sign * (pos[hit, ax] - plane))
    if w_idx:
        wi = np.concatenate(w_idx)
        wname = np.concatenate(w_name)
        wf = np.concatenate(w_force)
        wpt = np.concatenate(w_point)
        wbr = np.concatenate(w_branch)
        wfn = np.concatenate(w_fn)
        wft = np.concatenate(w_ft)
        wov = np.concatenate(w_ov)
    else:
        wi = np.zeros(0, dtype=np.int64)
        wname = np.zeros(0, dtype="<U3")
        wf = wpt = wbr = np.zeros((0, 3))
        wfn = wft = wov = np.zeros(0)
    w_pair = np.where(phase[wi] == AM, "AM-wall", "SE-wall")

    # ---- Love-Weber stress
    volume = particle_volume(radius, dimension, depth)
    index = np.concatenate([i, j, wi])
    force = np.concatenate([f_on_i, -f_on_i, wf])
    branch = np.concatenate([br_i, br_j, wbr])
    p_i, p_j, p_wi = i, j, wi  # particle indices of the contacts (= atoms without bodies)
    if grouping is not None:
        # one particle per body: branch vectors from the body centre, volume of the union
        branch = branch + grouping.rel[index]
        index = grouping.particle_of_atom[index]
        p_i, p_j, p_wi = (grouping.particle_of_atom[k] for k in (i, j, wi))
        n = grouping.ids.size
        volume = (grouping.area * depth if dimension == 2 else grouping.volume3d)
    sigma_kpa = love_weber_stress(n, index, force, branch, volume)
    sigma_mpa = sigma_kpa / KPA_PER_MPA
    stress = mean_compressive_stress(sigma_mpa, dimension)
    n_contacts = np.bincount(index, minlength=n).astype(np.int64)

    # ---- contact radius and areas
    all_fn = np.concatenate([fn, wfn])
    r_star_all = np.concatenate([r_star, radius[wi]])
    normal = info.spec.contact.normal if info.spec is not None else "hertz"
    if normal == "mdr":
        # one mdr model of the SE card for every contact; walls are rigid in mdr
        se = info.cards["se"]
        e_pair = physics.effective_modulus_gpa(se, se) * KPA_PER_GPA
        e_star_all = np.concatenate([np.full(i.size, e_pair),
                                     np.full(wi.size, se.E_gpa / (1 - se.nu**2) * KPA_PER_GPA)])
    else:
        e_star_all = np.concatenate([e_star, e_pw[roles[wi]]])
    a_hertz = hertz_contact_radius(all_fn, r_star_all, e_star_all)
    a_overlap = np.concatenate([overlap_contact_radius(dist, radius[i], radius[j]),
                                overlap_contact_radius(radius[wi] - wov, radius[wi], None)])
    a = a_overlap if normal == "mdr" else a_hertz
    contacts = {
        "i": np.concatenate([p_i, p_wi]),
        "j": np.concatenate([p_j, np.full(wi.size, -1, dtype=np.int64)]),
        "wall": np.concatenate([np.full(i.size, "", dtype="<U3"), wname]),
        "pair": np.concatenate([pair, w_pair]),
        "fn": all_fn,
        "ft": np.concatenate([ft, wft]),
        "overlap": np.concatenate([overlap, wov]),
        "a": a,
        "area": math.pi * a**2,
        "area_hertz": math.pi * a_hertz**2,
        "area_overlap": math.pi * a_overlap**2,
        "point": np.concatenate([point, wpt]),
    }
    atom_pos, atom_radius, atom_phase, atom_ids = pos, radius, phase, ids
    if grouping is not None:
        contacts["atom_id1"] = np.concatenate([ids[i], ids[wi]])
        contacts["atom_id2"] = np.concatenate([ids[j], np.full(wi.size, -1, dtype=np.int64)])
        ids, phase, radius, pos = grouping.ids, grouping.phase, grouping.radius, grouping.pos

    window = window_from_cell(cell, crop_um)
    periodic = tuple(
        len(atoms.boundary) > ax and atoms.boundary[ax].startswith("p") for ax in range(2)
    )
    p_in = in_window(pos, window)
    contacts["in"] = in_window(contacts["point"], window)

    res = StageResult(
        stage=stage, cell=cell, dimension=dimension, depth_um=depth, window=window,
        ids=ids, phase=phase, radius=radius, pos=pos, sigma_mpa=sigma_mpa,
        stress_mpa=stress, volume_um3=volume, n_contacts=n_contacts, p_in=p_in,
        contacts=contacts,
        boundary_moment=(wf.T @ wpt) if wi.size else None,
        contact_radius="overlap" if normal == "mdr" else "hertz",
        periodic_lengths=tuple(
            float(cell[f"{a}hi_um"] - cell[f"{a}lo_um"]) if periodic[k] else None
            for k, a in enumerate("xy")
        ),
    )
    if grouping is not None:
        res.mol = grouping.mol
        res.n_spheres = grouping.n_spheres
        res.area_um2 = grouping.area
        res.perimeter_um = grouping.perimeter
        res.surface_um2 = grouping.surface
        res.volume3d_um3 = grouping.volume3d
        res.aspect_ratio = grouping.aspect_ratio
        res.atoms = {"pos": atom_pos, "radius": atom_radius, "phase": atom_phase,
                     "particle": grouping.particle_of_atom, "ids": atom_ids}
    if dimension == 3:
        if sections is None:
            if section_z_um is not None:
                sections = [("z", float(section_z_um), f"z{section_z_um:g}".replace(".", "p"))]
            elif info.spec is not None:
                sections = [(s.axis, s.position_um, s.label) for s in info.spec.section_planes]
            else:
                y0 = 0.5 * (cell["ylo_um"] + cell["yhi_um"])
                sections = [("y", y0, f"y{y0:g}".replace(".", "p"))]
        if not sections:
            raise AnalysisError(f"{paths['cell']}: a 3D stage needs at least one section")
        balance = stress_balance(res)
        for axis, position, name in sections:
            view = section_view(res, axis, position, crop_um)
            view.labels = compute_labels(
                view, coverage_factor=coverage_factor, coverage_surface=coverage_surface,
                label_supersample=label_supersample, image_px=image_px,
                plane_z_um=view.plane_w_um,
            )
            view.labels["info"].update(
                crop_um=crop_um, stress_balance=balance, section_z_um=None,
                section={"name": name, "axis": axis, "position_um": float(position),
                         "image_axes": list(SECTION_AXES[axis][:2])},
            )
            view.image = imaging.render_section(
                *view.drawn(), view.window, pixels=image_px, plane_z_um=view.plane_w_um
            )
            res.sections[name] = view
        first = next(iter(res.sections.values()))
        res.labels, res.image, res.window = first.labels, first.image, first.window
        res.p_in = first.p_in
        res.contacts["in"] = first.contacts["in"]
        return res
    plane = None
    res.labels = compute_labels(
        res, coverage_factor=coverage_factor, coverage_surface=coverage_surface,
        label_supersample=label_supersample, image_px=image_px, plane_z_um=plane,
    )
    res.labels["info"]["crop_um"] = crop_um
    res.image = imaging.render_section(
        *res.drawn(), window, pixels=image_px, plane_z_um=plane
    )
    return res


#: Section axis → (image across, image up, plane normal) as axis indices.
SECTION_AXES: dict[str, tuple[str, str, str]] = {
    "y": ("x", "z", "y"), "x": ("y", "z", "x"), "z": ("x", "y", "z"),
}
_AX = {"x": 0, "y": 1, "z": 2}


def section_view(res: StageResult, axis: str, position_um: float,
                 crop_um: float = CROP_UM) -> StageResult:
    """The view of a 3D stage through one section plane, in image coordinates.

    Coordinates are permuted so that the image shows ``(u, v)`` = the first two entries of
    :data:`SECTION_AXES` (x or y across, z up for the planes that contain the press axis)
    and the plane normal becomes the third coordinate ``w``; across a periodic normal the
    particles are moved to their image nearest the plane. The window is the
    :func:`window_from_cell` square of the cell's ``(u, v)`` extent (cropped ``crop_um``
    from each side, e.g. from the walls along z). What counts for the labels of the view:

    * a particle when the plane cuts it (``|w − position| < r``) and its centre, projected
      onto the plane, lies in the window (the discs the image shows, whole);
    * an AM–SE contact when its AM particle counts (the reaction area and the coverage are
      the AM–SE contact areas of the AM particles the image shows, over their sphere
      surface); any other contact when one of its particles counts.

    Parameters
    ----------
    res : StageResult
        A 3D stage (``dimension == 3``).
    axis : {"x", "y", "z"}
        Normal of the plane.
    position_um : float
        Position of the plane along ``axis`` (µm).
    crop_um : float
        Crop of the window (µm).

    Returns
    -------
    StageResult
        Same particles, stresses and contacts; ``pos``, contact points, ``cell``,
        ``window``, ``p_in``, ``contacts["in"]`` and ``periodic_lengths`` in the view's
        frame; ``plane_w_um`` the plane position.

    Raises
    ------
    AnalysisError
        If the plane lies outside the cell.
    """
    if axis not in SECTION_AXES:
        raise AnalysisError(f"section axis must be x, y or z, got {axis!r}")
    names = SECTION_AXES[axis]
    iu, iv, iw = (_AX[n] for n in names)
    c = res.cell
    lo = {n: float(c[f"{n}lo_um"]) for n in "xyz"}
    hi = {n: float(c[f"{n}hi_um"]) for n in "xyz"}
    w_name = names[2]
    if not lo[w_name] <= position_um <= hi[w_name]:
        raise AnalysisError(
            f"section plane {axis} = {position_um:g} µm lies outside the cell "
            f"[{lo[w_name]:g}, {hi[w_name]:g}] µm of stage {res.stage!r}"
        )
    periodic = {"x": res.periodic_lengths[0], "y": res.periodic_lengths[1], "z": None}

    def to_view(xyz: np.ndarray) -> np.ndarray:
        out = xyz[:, [iu, iv, iw]].astype(float, copy=True)
        lw = periodic[w_name]
        if lw:
            out[:, 2] = position_um + (out[:, 2] - position_um) - lw * np.round(
                (out[:, 2] - position_um) / lw)
        return out

    pos = to_view(res.pos)
    cell = dict(c)
    for k_new, n in zip("xyz", names, strict=True):
        cell[f"{k_new}lo_um"], cell[f"{k_new}hi_um"] = lo[n], hi[n]
    window = window_from_cell(cell, crop_um)
    shown = np.abs(pos[:, 2] - position_um) < res.radius
    p_in = in_window(pos, window) & shown
    con = dict(res.contacts)
    con["point"] = to_view(con["point"])
    i, j = con["i"], con["j"]
    j_ok = j >= 0
    jj = np.clip(j, 0, None)
    in_i, in_j = p_in[i], p_in[jj] & j_ok
    amse = con["pair"] == "AM-SE"
    am_is_i = res.phase[i] == AM
    con["in"] = np.where(amse, np.where(am_is_i, in_i, in_j), in_i | in_j)
    view = StageResult(
        stage=res.stage, cell=cell, dimension=3, depth_um=res.depth_um, window=window,
        ids=res.ids, phase=res.phase, radius=res.radius, pos=pos, sigma_mpa=res.sigma_mpa,
        stress_mpa=res.stress_mpa, volume_um3=res.volume_um3, n_contacts=res.n_contacts,
        p_in=p_in, contacts=con,
        periodic_lengths=(periodic[names[0]], periodic[names[1]]),
    )
    view.plane_w_um = float(position_um)
    view.contact_radius = res.contact_radius
    return view


def section_slab(view: StageResult) -> StageResult:
    """The particles a section shows, as discs of their section radius, with the contacts
    among them (and their wall contacts): what the 2D figures of a 3D stage draw."""
    shown = np.abs(view.pos[:, 2] - view.plane_w_um) < view.radius
    idx = np.nonzero(shown)[0]
    new = np.full(view.ids.size, -1, dtype=np.int64)
    new[idx] = np.arange(idx.size)
    c = view.contacts
    keep = shown[c["i"]] & ((c["j"] < 0) | shown[np.clip(c["j"], 0, None)])
    con = {k: v[keep] for k, v in c.items()}
    con["i"] = new[con["i"]]
    con["j"] = np.where(con["j"] >= 0, new[np.clip(con["j"], 0, None)], -1)
    h = view.pos[idx, 2] - view.plane_w_um
    slab = StageResult(
        stage=view.stage, cell=view.cell, dimension=3, depth_um=view.depth_um,
        window=view.window, ids=view.ids[idx], phase=view.phase[idx],
        radius=np.sqrt(view.radius[idx] ** 2 - h**2), pos=view.pos[idx],
        sigma_mpa=view.sigma_mpa[idx], stress_mpa=view.stress_mpa[idx],
        volume_um3=view.volume_um3[idx], n_contacts=view.n_contacts[idx],
        p_in=view.p_in[idx], contacts=con, labels=view.labels, image=view.image,
        periodic_lengths=view.periodic_lengths,
    )
    slab.plane_w_um = view.plane_w_um
    slab.contact_radius = view.contact_radius
    return slab


def compute_labels(
    res: StageResult,
    *,
    coverage_factor: float = 1.0,
    coverage_surface: str = "sphere",
    label_supersample: int = 4,
    image_px: int = IMAGE_PX,
    plane_z_um: float | None = None,
) -> dict:
    """The nine labels of a stage state, the Gaussian fits, and facts about them.

    Parameters
    ----------
    res : StageResult
        Particles and contacts (``labels`` and ``image`` need not be set).
    coverage_factor : float
        Komori's correction factor ``f`` of eq. 17 (default 1).
    coverage_surface : {"sphere", "lateral"}
        AM surface of the coverage: ``4π r²`` (default; see the module docstring for the
        reasoning) or the quasi-2D slab's lateral surface ``2π r t``.
    label_supersample : int
        Porosity and AM area fraction come from a render ``label_supersample`` times finer
        than the ``image_px`` image.
    image_px : int
        Pixels of the CNN image side.
    plane_z_um : float or None
        3D: the section plane of the image (µm); None in the quasi-2D mode.

    Returns
    -------
    dict
        The targets of :data:`assb_lmp.spec.targets.TARGETS` (float, or None where undefined,
        e.g. no AM in the window), ``am/se_stress_fit_mean_mpa``,
        ``am/se_stress_fit_sd_mpa``, and ``info`` (stage, window, counts, options, the
        wall-stress balance).
    """
    from assb_lmp.analysis import imaging

    if coverage_surface not in ("sphere", "lateral"):
        raise ValueError(f"coverage_surface must be 'sphere' or 'lateral', got "
                         f"{coverage_surface!r}")
    if not (coverage_factor > 0 and math.isfinite(coverage_factor)):
        raise ValueError(f"coverage_factor must be a positive number, got {coverage_factor!r}")
    am_in = res.p_in & (res.phase == AM)
    se_in = res.p_in & (res.phase == SE)
    s_am, s_se = res.stress_mpa[am_in], res.stress_mpa[se_in]

    def mean_sd(v: np.ndarray) -> tuple[float | None, float | None]:
        if v.size == 0:
            return None, None
        return float(v.mean()), float(v.std())

    am_mean, am_sd = mean_sd(s_am)
    se_mean, se_sd = mean_sd(s_se)
    am_fit = gaussian_fit(s_am)
    se_fit = gaussian_fit(s_se)

    c = res.contacts
    amse = c["pair"] == "AM-SE"
    reaction = float(c["area"][amse & c["in"]].sum())
    r_am = res.radius[am_in]
    if coverage_surface == "sphere":
        if res.surface_um2 is not None:  # multisphere bodies: surface of the union
            s_surface = float(res.surface_um2[am_in].sum())
        else:
            s_surface = float((4.0 * math.pi * r_am**2).sum())
    else:
        if res.dimension != 2:
            raise ValueError("coverage_surface='lateral' applies to the quasi-2D mode only")
        if res.perimeter_um is not None:  # multisphere bodies: perimeter of the union
            s_surface = float((res.perimeter_um[am_in] * res.depth_um).sum())
        else:
            s_surface = float((2.0 * math.pi * r_am * res.depth_um).sum())
    coverage = reaction / s_surface * coverage_factor if s_surface > 0 else None

    # AM-SE contacts per AM particle (index of the AM partner of every AM-SE contact)
    ci, cj = c["i"][amse], c["j"][amse]
    am_of = np.where(res.phase[ci] == AM, ci, cj)
    per_am = np.bincount(am_of, minlength=res.ids.size)
    contacts_per_am = float(per_am[am_in].mean()) if am_in.any() else None

    px = int(image_px) * int(label_supersample)
    d_pos, d_rad, d_phase = res.drawn()
    owner = imaging.render_owner(d_pos, d_rad, res.window, pixels=px, plane_z_um=plane_z_um)
    ph = np.where(owner >= 0, d_phase[np.clip(owner, 0, None)], 0)
    porosity = float(np.mean(ph == 0))
    am_frac = float(np.mean(ph == AM))

    labels: dict = {
        "am_stress_mean_mpa": am_mean,
        "am_stress_sd_mpa": am_sd,
        "se_stress_mean_mpa": se_mean,
        "se_stress_sd_mpa": se_sd,
        "reaction_area_um2": reaction,
        "se_coverage": coverage,
        "porosity": porosity,
        "am_area_fraction": am_frac,
        "am_se_contacts_per_am": contacts_per_am,
        "am_stress_fit_mean_mpa": am_fit[0],
        "am_stress_fit_sd_mpa": am_fit[1],
        "se_stress_fit_mean_mpa": se_fit[0],
        "se_stress_fit_sd_mpa": se_fit[1],
    }
    assert all(t in labels for t in TARGETS)
    undefined = [k for k, v in labels.items() if v is None]
    if undefined:
        log.warning("stage %s: labels undefined (no particles of a phase in the window): %s",
                    res.stage, ", ".join(undefined))
    info = {
        "stage": res.stage,
        "step": int(res.cell["step"]),
        "dimension": res.dimension,
        "depth_um": res.depth_um,
        "window_um": [float(v) for v in res.window],
        "n_am": int(am_in.sum()),
        "n_se": int(se_in.sum()),
        "n_particles_total": int(res.ids.size),
        **({"n_am_bodies_total": int(np.count_nonzero(res.mol > 0)),
            "n_atoms_total": int(res.atoms["ids"].size)} if res.mol is not None else {}),
        "n_contacts_total": int(c["fn"].size),
        "n_am_se_contacts_in_window": int((amse & c["in"]).sum()),
        "contact_radius": res.contact_radius,
        "reaction_area_hertz_um2": float(c.get("area_hertz", c["area"])[amse & c["in"]].sum()),
        "reaction_area_overlap_um2": float(
            c.get("area_overlap", c["area"])[amse & c["in"]].sum()),
        "am_surface_um2": s_surface,
        "coverage_factor": float(coverage_factor),
        "coverage_surface": coverage_surface,
        "image_px": int(image_px),
        "fraction_px": px,
        "section_z_um": plane_z_um,
        "stress_balance": stress_balance(res),
        "version": __version__,
    }
    labels["info"] = info
    return labels


def stress_balance(res: StageResult) -> dict | None:
    """Compare ``Σ_p σ_p V_p`` with the stress the boundaries carry.

    Returns
    -------
    dict or None
        ``{"wall_pressure": {"xx": ratio, "yy": ratio}, "wall_forces": {...}}``:

        * ``wall_pressure``: ``−Σ σ_aa V_p / (P_a V)`` with ``P_a`` the mean of the two
          wall pressures on the axis (``p_xlo_mpa``, ``p_xhi_mpa`` ...) or the cell stress
          ``p_xx_mpa`` of a periodic cell, and ``V`` the cell volume. Near 1 for a packing
          at rest; wall friction that is not spread evenly along the walls moves it by a
          few per cent.
        * ``wall_forces``: ``Σ σ_aa V_p / Σ_w f_a x_a`` with the sum over every wall
          contact (force on the particle, contact point). Exactly 1 for a packing in
          static equilibrium, whatever the friction; None without walls.

        None when the cell file has no pressures.
    """
    c = res.cell
    total = res.stress_volume_sum()
    vol = res.cell_volume_um3()
    pressure = {}
    walled = []
    axes = (("x", 0), ("y", 1), ("z", 2)) if res.dimension == 3 else (("x", 0), ("y", 1))
    for ax, k in axes:
        lo, hi = c.get(f"p_{ax}lo_mpa"), c.get(f"p_{ax}hi_mpa")
        if lo is not None and hi is not None:
            p = 0.5 * (float(lo) + float(hi))
            walled.append((ax, k))
        elif c.get(f"p_{ax}{ax}_mpa") is not None:
            p = float(c[f"p_{ax}{ax}_mpa"])
        else:
            return None
        pressure[ax + ax] = float(-total[k, k] / (p * KPA_PER_MPA * vol)) if p != 0 else None
    forces = None
    if res.boundary_moment is not None:
        b = res.boundary_moment
        forces = {ax + ax: (float(total[k, k] / b[k, k]) if b[k, k] != 0 else None)
                  for ax, k in walled}
    return {"wall_pressure": pressure, "wall_forces": forces}


# ============================================================== tables
def _col(values: np.ndarray, fmt: str) -> list[str]:
    return [fmt % v for v in values.tolist()]


def particles_table(res: StageResult) -> str:
    """``particles.csv`` text: id, phase, radius_um, x/y/z_um, stress_mpa, the symmetric
    Love–Weber tensor components ``sigma_ab_mpa`` (tension positive), n_contacts,
    in_window. Multisphere bodies: one row per body (id its smallest atom id, radius the
    area-equivalent radius, x/y/z the centre of mass) and three more columns: mol (body id,
    0 for single spheres), n_spheres, area_um2 (section area of the union)."""
    s = 0.5 * (res.sigma_mpa + np.swapaxes(res.sigma_mpa, 1, 2))
    names = ["id", "phase", "radius_um", "x_um", "y_um", "z_um", "stress_mpa",
             "sigma_xx_mpa", "sigma_yy_mpa", "sigma_zz_mpa", "sigma_xy_mpa",
             "sigma_xz_mpa", "sigma_yz_mpa", "n_contacts", "in_window"]
    g = "%.9g"
    cols = [
        _col(res.ids, "%d"),
        np.where(res.phase == AM, "AM", "SE").tolist(),
        _col(res.radius, g), _col(res.pos[:, 0], g), _col(res.pos[:, 1], g),
        _col(res.pos[:, 2], g), _col(res.stress_mpa, g),
        _col(s[:, 0, 0], g), _col(s[:, 1, 1], g), _col(s[:, 2, 2], g),
        _col(s[:, 0, 1], g), _col(s[:, 0, 2], g), _col(s[:, 1, 2], g),
        _col(res.n_contacts, "%d"), _col(res.p_in.astype(int), "%d"),
    ]
    if res.mol is not None:  # multisphere bodies: one row per body
        names += ["mol", "n_spheres", "area_um2"]
        cols += [_col(res.mol, "%d"), _col(res.n_spheres, "%d"), _col(res.area_um2, g)]
    return ",".join(names) + "\n" + "\n".join(",".join(r) for r in zip(*cols, strict=True)) + "\n"


def contacts_table(res: StageResult) -> str:
    """``contacts.csv`` text: id1, id2 (empty for a wall), wall, pair, normal_force_nN,
    tangential_force_nN, overlap_um, contact_radius_um, contact_area_um2, the contact point
    x/y/z_um, in_window. With multisphere bodies id1/id2 are the atoms (sub-spheres) in
    contact."""
    c = res.contacts
    names = ["id1", "id2", "wall", "pair", "normal_force_nN", "tangential_force_nN",
             "overlap_um", "contact_radius_um", "contact_area_um2", "x_um", "y_um", "z_um",
             "in_window"]
    g = "%.9g"
    if "atom_id1" in c:  # multisphere: the atoms (sub-spheres) in contact
        id1, id2 = c["atom_id1"], c["atom_id2"]
    else:
        id1 = res.ids[c["i"]]
        id2 = np.where(c["j"] >= 0, res.ids[np.clip(c["j"], 0, None)], -1)
    cols = [
        _col(id1, "%d"),
        ["" if v < 0 else str(v) for v in id2.tolist()],
        c["wall"].tolist(), c["pair"].tolist(),
        _col(c["fn"], g), _col(c["ft"], g), _col(c["overlap"], g), _col(c["a"], g),
        _col(c["area"], g), _col(c["point"][:, 0], g), _col(c["point"][:, 1], g),
        _col(c["point"][:, 2], g), _col(c["in"].astype(int), "%d"),
    ]
    rows = "\n".join(",".join(r) for r in zip(*cols, strict=True))
    return ",".join(names) + "\n" + rows + ("\n" if rows else "")


def labels_json(labels: Mapping) -> str:
    """``labels.json`` text (floats written exactly, so a re-read is bit-identical)."""
    return json.dumps(labels, indent=2, allow_nan=False) + "\n"


# ============================================================== atomic output
class _Staging:
    """Collect output files in a temporary folder inside the case folder, then move them
    into place with ``os.replace`` only when everything has been produced."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self.tmp = Path(tempfile.mkdtemp(prefix=".analyze-", dir=case_dir))
        self.files: list[str] = []

    def path(self, rel: str) -> Path:
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self.files:
            self.files.append(rel)
        return p

    def write_text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    def commit(self) -> None:
        for rel in self.files:
            dest = self.case_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp / rel, dest)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _png_bytes(image: np.ndarray) -> bytes:
    from assb_lmp.analysis import imaging

    buf = io.BytesIO()
    imaging.save_png(buf, image)
    return buf.getvalue()


def _requested_expansion(info: CaseInfo, stage: str) -> dict | None:
    """Requested strain of an expand stage from spec.yaml (Vegard: from the case's AM card)."""
    if info.spec is None:
        return None
    st = next((s for s in info.spec.stages if s.name == stage), None)
    if st is None or st.kind != "expand":
        return None
    from assb_lmp.build import expansion
    from assb_lmp.materials import vegard

    if st.volume_strain is not None:
        e = float(st.volume_strain)
    else:
        v = st.vegard
        e = vegard.volume_strain(info.cards["am"], v.from_state_of_charge, v.state_of_charge,
                                 v.electrode)
    return {"volume_strain": e, "basis": st.basis,
            "linear_scale": expansion.linear_scale(e, st.basis), "boundary": st.boundary}


def _write_stage_extras(info: CaseInfo, results: list[StageResult], staging: _Staging,
                        figures: bool) -> None:
    """Per-stage stress maps (with figures) and the before/after report of every expand
    stage (:mod:`assb_lmp.expansion_report`)."""
    from assb_lmp.analysis import expansion_report, plots

    if figures:
        for r in results:
            plots.save_figure(plots.stage_stress_map(r), staging.path(f"{r.stage}/stress_map.png"))
    last_report = None
    for k, r in enumerate(results):
        requested = _requested_expansion(info, r.stage)
        if requested is None or k == 0:
            continue
        report = expansion_report.compare(results[k - 1], r, requested)
        text = json.dumps(report, indent=2, allow_nan=False, default=float) + "\n"
        staging.write_text(f"{r.stage}/expansion.json", text)
        last_report = text
        if figures:
            plots.save_figure(expansion_report.comparison_figure(results[k - 1], r, report),
                              staging.path(f"figures/expansion_{r.stage}.png"))
    if last_report is not None:
        staging.write_text("expansion.json", last_report)


def analyze_case(
    case_dir: str | os.PathLike[str],
    *,
    figures: bool = True,
    coverage_factor: float = 1.0,
    crop_um: float = CROP_UM,
    coverage_surface: str = "sphere",
    label_supersample: int = 4,
    image_px: int = IMAGE_PX,
    full_res_px: int | None = None,
    section_z_um: float | None = None,
    sections: Sequence[tuple[str, float, str]] | None = None,
) -> dict:
    """Analyse every stage of a case from its dumps and write the tables, labels, images
    and figures.

    Parameters
    ----------
    case_dir : path-like
        The case folder (``spec.yaml``, ``materials.json``, ``structure.data``,
        ``dumps/``).
    figures : bool
        Also write ``figures/`` (force chains, stress map, stress histograms, wall pressure
        against strain), for the last stage.
    coverage_factor : float
        Komori's ``f`` of eq. 17 (default 1).
    crop_um : float
        Crop of the window from each side of the cell (µm; default 2).
    coverage_surface : {"sphere", "lateral"}
        AM surface of the SE coverage, see the module docstring.
    label_supersample : int
        Porosity and AM area fraction are pixel fractions of a render this many times finer
        than the image (default 4).
    image_px : int
        Side of ``image.png`` in pixels (224).
    full_res_px : int or None
        Also write ``figures/section.png`` at this many pixels a side (for papers).
    section_z_um : float or None
        3D only: analyse the single plane z = ``section_z_um`` (µm) instead of the spec's
        section planes.
    sections : sequence of (axis, position_um, name), optional
        3D only: the section planes (default: the spec's
        :attr:`~assb_lmp.spec.case.CaseSpec.section_planes`). Every plane gets
        ``<stage>/sections/<name>/{labels.json,image.png}`` (and the same at the top level
        for the last stage); ``labels.json`` and ``image.png`` are those of the first.

    Returns
    -------
    dict
        The labels of the last stage (as written to ``DIR/labels.json``).

    Raises
    ------
    AnalysisError
        When a file is missing, truncated or from another case; the message names it and
        nothing is written. Checked: every frame complete; the atom ids and types against
        ``structure.data``; the timesteps of both dumps against ``cell.json``; the stage
        name and depth in ``cell.json``; every contact's ids, separation vector and
        distance against the atom positions and radii; and, when the atoms dump carries
        LAMMPS's per-atom pair virial, the contact forces against it.

    Notes
    -----
    Outputs are first written to a temporary folder ``DIR/.analyze-*`` and moved into
    place with ``os.replace`` once everything has been computed and written.
    """
    case_dir = Path(case_dir)
    info = load_case_info(case_dir)
    results = [
        analyze_stage(
            info, s, coverage_factor=coverage_factor, crop_um=crop_um,
            coverage_surface=coverage_surface, label_supersample=label_supersample,
            image_px=image_px, section_z_um=section_z_um, sections=sections,
        )
        for s in info.stages
    ]
    series = None
    if figures:
        series = {}
        for s in info.stages:
            p = stage_paths(case_dir, s)["series"]
            if p.is_file():
                series[s] = read_series(p)
            else:
                log.warning("%s: missing; the pressure-strain figure leaves the stage out", p)
    last = results[-1]
    staging = _Staging(case_dir)
    try:
        outputs: list[tuple[str, StageResult]] = [(f"{r.stage}/", r) for r in results]
        outputs.append(("", last))
        for prefix, r in outputs:
            staging.write_text(prefix + "particles.csv", particles_table(r))
            staging.write_text(prefix + "contacts.csv", contacts_table(r))
            staging.write_text(prefix + "labels.json", labels_json(r.labels))
            staging.write_bytes(prefix + "image.png", _png_bytes(r.image))
            for name, view in r.sections.items():
                staging.write_text(f"{prefix}sections/{name}/labels.json",
                                   labels_json(view.labels))
                staging.write_bytes(f"{prefix}sections/{name}/image.png",
                                    _png_bytes(view.image))
        drawn = last
        if last.sections:
            drawn = section_slab(next(iter(last.sections.values())))
        if figures or full_res_px:
            from assb_lmp.analysis import plots

            if figures:
                width0 = None
                if info.spec is not None:
                    width0 = info.spec.geometry.width_um
                plots.write_case_figures(
                    drawn, series or {}, lambda name: staging.path(f"figures/{name}"),
                    stages=info.stages, width0_um=width0,
                )
            if full_res_px:
                from assb_lmp.analysis import imaging

                view = next(iter(last.sections.values())) if last.sections else last
                img = imaging.render_section(
                    *view.drawn(), view.window, pixels=int(full_res_px),
                    plane_z_um=view.plane_w_um,
                )
                staging.write_bytes("figures/section.png", _png_bytes(img))
        _write_stage_extras(info, results, staging, figures)
        staging.commit()
    except BaseException:
        staging.discard()
        raise
    lab = last.labels
    log.info(
        "%s: stage %s: AM %.4g ± %.4g MPa, SE %.4g ± %.4g MPa, reaction area %.4g µm², "
        "coverage %.4g, porosity %.4g", case_dir, last.stage,
        *(lab[k] if lab[k] is not None else float("nan") for k in TARGETS[:7]),
    )
    return json.loads(labels_json(lab))
