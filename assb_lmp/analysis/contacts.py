"""The contact table of a stage: every pair and wall contact of one dumped state.

Definitions (``DESIGN.md``, "Units and definitions"; dumps in LAMMPS ``units micro``: µm, nN,
kPa = nN/µm²):

* Contact point of a pair ``i``–``j`` with centre distance ``dist``: on the centre line at
  ``l_i = (dist² + R_i² − R_j²) / (2 dist)`` from ``i`` (the radical plane, which is also the
  plane the image uses to split overlapping discs); overlap ``δ = R_i + R_j − dist``.
* Wall contact: the atom centre projected onto the wall plane (positions from
  ``<stage>.cell.json``); overlap ``δ = R − distance`` on the particle's side of the plane;
  normal force ``fn = s · f_a`` with ``f`` the dumped force of the wall on the atom, ``a`` the
  wall's axis and ``s`` the sign of the wall's inward normal (+1 for ``*lo``, −1 for
  ``*hi``), so a pushing wall gives ``fn > 0`` and a wall pulling (damping) ``fn < 0``,
  exactly as the pair dump's ``fn``. This is the one wall-contact routine of the package
  (:func:`wall_contacts`); the run summary uses it too.
* Force on ``i`` of a pair: ``fn n + ft`` with ``n = d/|d|``, ``d = x_i − x_j``; on ``j``
  its negative.
* Contact radii (Hertz, or the overlap circle of the ``mdr`` decks) and ``E*``:
  :mod:`assb_lmp.analysis.hertz`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assb_lmp.analysis.dumps import Frame
from assb_lmp.analysis.hertz import hertz_contact_radius, overlap_contact_radius
from assb_lmp.core.errors import AnalysisError

log = logging.getLogger(__name__)

#: LAMMPS atom type → phase name (type 3, the servo marker, is never dumped).
PHASE_OF_TYPE: dict[int, str] = {1: "AM", 2: "SE"}
#: Phase codes used in arrays.
AM, SE = 1, 2
#: Pair types of the contact table, in report order.
PAIR_TYPES: tuple[str, ...] = ("AM-AM", "AM-SE", "SE-SE", "AM-wall", "SE-wall")
#: Wall planes: name → (axis index, inward normal sign, cell.json key of the position).
WALL_GEOMETRY: dict[str, tuple[int, float, str]] = {
    "xlo": (0, +1.0, "xlo_um"), "xhi": (0, -1.0, "xhi_um"),
    "ylo": (1, +1.0, "ylo_um"), "yhi": (1, -1.0, "yhi_um"),
    "zlo": (2, +1.0, "zlo_um"), "zhi": (2, -1.0, "zhi_um"),
}
#: Columns of the contacts dump the table needs.
CONTACT_DUMP_COLUMNS = ("id1", "id2", "dist", "fn", "ftx", "fty", "ftz", "dx", "dy", "dz")


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


def pair_names(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Pair type (``AM-AM``, ``AM-SE``, ``SE-SE``) of two arrays of phase codes."""
    lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
    out = np.full(lo.shape, "SE-SE", dtype="<U7")
    out[(lo == AM) & (hi == AM)] = "AM-AM"
    out[(lo == AM) & (hi == SE)] = "AM-SE"
    return out


# ============================================================== atoms of a frame
@dataclass(frozen=True)
class Atoms:
    """The atoms of a dumped frame, sorted by id.

    Attributes
    ----------
    frame : Frame
        The atoms frame as read.
    order : numpy.ndarray of int
        Row of the frame of every sorted atom.
    ids, phase : numpy.ndarray of int
        Atom ids and phase codes (1 AM, 2 SE).
    radius : numpy.ndarray
        Radii (µm).
    pos : numpy.ndarray, shape (n, 3)
        Centres (µm).
    """

    frame: Frame
    order: np.ndarray
    ids: np.ndarray
    phase: np.ndarray
    radius: np.ndarray
    pos: np.ndarray

    @classmethod
    def from_frame(cls, frame: Frame) -> Atoms:
        """Sort a frame's atoms by id (the frame needs ``id type radius x y z``)."""
        frame.require(("id", "type", "radius", "x", "y", "z"))
        order = np.argsort(frame["id"], kind="stable")
        pos = np.column_stack([frame["x"][order], frame["y"][order], frame["z"][order]])
        return cls(frame=frame, order=order, ids=frame["id"][order],
                   phase=frame["type"][order].astype(np.int64),
                   radius=frame["radius"][order], pos=pos)

    def column(self, name: str) -> np.ndarray:
        """A column of the frame in sorted order."""
        return self.frame[name][self.order]

    def periodic(self, ax: int) -> bool:
        """Whether the box is periodic along axis ``ax``."""
        b = self.frame.boundary
        return len(b) > ax and b[ax].startswith("p")

    def box_length(self, ax: int) -> float:
        """Box length along axis ``ax`` (µm)."""
        return float(self.frame.box[ax, 1] - self.frame.box[ax, 0])


# ============================================================== wall contacts
@dataclass(frozen=True)
class WallContacts:
    """The particle–wall contacts of a frame (one row per atom touching a wall).

    Attributes
    ----------
    index : numpy.ndarray of int
        Sorted-atom index of each contact.
    wall : numpy.ndarray of str
        Wall name (``xlo`` ... ``zhi``).
    force : numpy.ndarray, shape (m, 3)
        Force of the wall on the atom (nN).
    point, branch : numpy.ndarray, shape (m, 3)
        Contact point (µm) and the vector from the atom centre to it (µm).
    fn : numpy.ndarray
        Normal force (nN; positive = pushing, see the module docstring).
    ft : numpy.ndarray
        Magnitude of the tangential force (nN).
    overlap : numpy.ndarray
        Overlap ``R − distance`` (µm).
    """

    index: np.ndarray
    wall: np.ndarray
    force: np.ndarray
    point: np.ndarray
    branch: np.ndarray
    fn: np.ndarray
    ft: np.ndarray
    overlap: np.ndarray


def wall_contacts(atoms: Atoms, cell: Mapping[str, float],
                  source: Path | None = None) -> WallContacts:
    """Every particle–wall contact of a frame, from its ``wall_<w>_f{x,y,z}`` columns.

    An atom touches wall ``w`` when the force of that wall on it is not zero.

    Raises
    ------
    AnalysisError
        When the frame has the columns of a wall whose position ``cell`` lacks.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "index", "wall", "force", "point", "branch", "fn", "ft", "overlap")}
    for wall, (ax, sign, ckey) in WALL_GEOMETRY.items():
        cols = [f"wall_{wall}_f{c}" for c in "xyz"]
        if not all(c in atoms.frame for c in cols):
            continue
        if ckey not in cell:
            raise AnalysisError(
                f"{source or 'cell.json'}: no {ckey} for the wall {wall} of "
                f"{atoms.frame.source.name}")
        f = np.column_stack([atoms.column(c) for c in cols])
        hit = np.nonzero(np.any(f != 0.0, axis=1))[0]
        if hit.size == 0:
            continue
        plane = float(cell[ckey])
        pt = atoms.pos[hit].copy()
        pt[:, ax] = plane
        tang = f[hit].copy()
        tang[:, ax] = 0.0
        parts["index"].append(hit)
        parts["wall"].append(np.full(hit.size, wall, dtype="<U3"))
        parts["force"].append(f[hit])
        parts["point"].append(pt)
        parts["branch"].append(pt - atoms.pos[hit])
        parts["fn"].append(sign * f[hit, ax])
        parts["ft"].append(np.linalg.norm(tang, axis=1))
        parts["overlap"].append(atoms.radius[hit] - sign * (atoms.pos[hit, ax] - plane))
    if not parts["index"]:
        z3 = np.zeros((0, 3))
        return WallContacts(index=np.zeros(0, dtype=np.int64), wall=np.zeros(0, dtype="<U3"),
                            force=z3, point=z3, branch=z3, fn=np.zeros(0), ft=np.zeros(0),
                            overlap=np.zeros(0))
    return WallContacts(**{k: np.concatenate(v) for k, v in parts.items()})


# ============================================================== pair contacts
@dataclass(frozen=True)
class PairContacts:
    """The overlapping pairs of a contacts frame (deduplicated, checked).

    Attributes
    ----------
    i, j : numpy.ndarray of int
        Sorted-atom indices of the two atoms (``d = x_i − x_j``).
    d : numpy.ndarray, shape (m, 3)
        Separation vectors (minimum image, µm).
    dist, overlap : numpy.ndarray
        Centre distance and overlap (µm).
    fn : numpy.ndarray
        Normal force (nN, positive = repulsive).
    ft : numpy.ndarray, shape (m, 3)
        Tangential force on ``i`` (nN).
    """

    i: np.ndarray
    j: np.ndarray
    d: np.ndarray
    dist: np.ndarray
    overlap: np.ndarray
    fn: np.ndarray
    ft: np.ndarray

    @property
    def force_on_i(self) -> np.ndarray:
        """``fn n + ft`` (nN), shape (m, 3)."""
        return self.fn[:, None] * (self.d / self.dist[:, None]) + self.ft


def _dedupe(cont: Frame, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of the contact frame with each (id1, id2) pair once (MPI may write twice)."""
    id1, id2 = cont["id1"], cont["id2"]
    key = np.minimum(id1, id2) * (int(ids.max()) + 1) + np.maximum(id1, id2)
    _, first = np.unique(key, return_index=True)
    if first.size != id1.size:
        log.debug("%s: %d duplicate contact rows dropped", cont.source, id1.size - first.size)
    first.sort()
    return {c: cont[c][first] for c in cont.columns}


def _check_separations(atoms: Atoms, sel: Mapping[str, np.ndarray], i: np.ndarray,
                       j: np.ndarray, d: np.ndarray, source: Path) -> float:
    """Check each contact's separation vector and distance against the atom positions
    (minimum image); returns the tolerance used (µm)."""
    sep = atoms.pos[i] - atoms.pos[j]
    for ax in range(3):
        if atoms.periodic(ax):
            length = atoms.box_length(ax)
            sep[:, ax] -= length * np.round(sep[:, ax] / length)
    box = atoms.frame.box
    tol = 1e-4 * (1.0 + (float(np.max(np.abs(box))) if box.size else 1.0))
    dist = sel["dist"]
    dev = np.abs(sep - d).max(axis=1) if dist.size else np.zeros(0)
    dist_dev = np.abs(np.linalg.norm(d, axis=1) - dist) if dist.size else np.zeros(0)
    if np.any(dev > tol) or np.any(dist_dev > tol):
        k = int(np.argmax(np.maximum(dev, dist_dev)))
        raise AnalysisError(
            f"{source}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) has "
            f"separation {d[k].round(4).tolist()} µm but the atoms of "
            f"{atoms.frame.source.name} are {sep[k].round(4).tolist()} µm apart: the dumps "
            "are not from the same state")
    if np.any(dist <= 0):
        raise AnalysisError(f"{source}: zero centre distance in a contact")
    return tol


def pair_contacts(atoms: Atoms, cont: Frame) -> PairContacts:
    """The overlapping pair contacts of a contacts frame, checked against the atoms.

    Raises
    ------
    AnalysisError
        When a contact names an unknown atom, or its separation, distance or overlap does
        not match the atom positions and radii (the dumps are not from the same state).
    """
    cont.require(CONTACT_DUMP_COLUMNS)
    source = cont.source
    ids, n = atoms.ids, atoms.ids.size
    sel = _dedupe(cont, ids)
    i = np.searchsorted(ids, sel["id1"])
    j = np.searchsorted(ids, sel["id2"])
    i_c, j_c = np.clip(i, 0, n - 1), np.clip(j, 0, n - 1)
    unknown = (ids[i_c] != sel["id1"]) | (ids[j_c] != sel["id2"])
    if np.any(unknown):
        k = int(np.nonzero(unknown)[0][0])
        raise AnalysisError(
            f"{source}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) names an atom "
            f"that is not in {atoms.frame.source.name}: the dump is from another case")
    d = np.column_stack([sel["dx"], sel["dy"], sel["dz"]])
    tol = _check_separations(atoms, sel, i, j, d, source)
    dist = sel["dist"]
    overlap = atoms.radius[i] + atoms.radius[j] - dist
    far = overlap < -tol
    if np.any(far):
        k = int(np.nonzero(far)[0][0])
        raise AnalysisError(
            f"{source}: contact ({int(sel['id1'][k])}, {int(sel['id2'][k])}) at distance "
            f"{dist[k]:.6g} µm exceeds the radius sum "
            f"{atoms.radius[i][k] + atoms.radius[j][k]:.6g} µm of {atoms.frame.source.name}: "
            "the dumps are not from the same state")
    keep = overlap > 0
    ft = np.column_stack([sel["ftx"], sel["fty"], sel["ftz"]])[keep]
    return PairContacts(i=i[keep], j=j[keep], d=d[keep], dist=dist[keep],
                        overlap=overlap[keep], fn=sel["fn"][keep], ft=ft)


def check_virial(atoms: Atoms, pairs: PairContacts, contacts_source: Path) -> None:
    """When the atoms dump carries LAMMPS's per-atom pair virial (``virial_xx``,
    ``virial_yy``, ``virial_xy``: stress × volume, −Σ d ⊗ f), check that the forces of the
    contacts dump reproduce its sum; they must, if both come from the same state.

    Raises
    ------
    AnalysisError
        When they differ by more than 1e-4 of the larger diagonal term.
    """
    cols = ("virial_xx", "virial_yy", "virial_xy")
    if not all(c in atoms.frame for c in cols):
        return
    ours = -(pairs.force_on_i.T @ pairs.d)  # [a, b] = -Σ f_a d_b
    theirs = np.array([atoms.column(c).sum() for c in cols])
    mine = np.array([ours[0, 0], ours[1, 1], ours[1, 0]])
    scale = max(float(np.abs(theirs[:2]).max()), float(np.abs(mine[:2]).max()), 1e-300)
    if np.abs(mine - theirs).max() > 1e-4 * scale + 1e-9:
        raise AnalysisError(
            f"{contacts_source}: its pair forces give Σ −d⊗f (xx, yy, xy) = "
            f"{np.round(mine, 6).tolist()} nN·µm but the per-atom virial of "
            f"{atoms.frame.source.name} sums to {np.round(theirs, 6).tolist()}: the two dumps "
            "are not from the same state")


# ============================================================== the table
def contact_table(atoms: Atoms, pairs: PairContacts, walls: WallContacts,
                  e_pp: np.ndarray, e_pw: np.ndarray, normal: str = "hertz",
                  ) -> dict[str, np.ndarray]:
    """All contacts of a frame at the atom level, pairs first and then walls.

    Returns
    -------
    dict of str to numpy.ndarray
        ``i``, ``j`` (sorted-atom indices, ``j = −1`` for a wall), ``wall`` (name or ""),
        ``pair`` (:data:`PAIR_TYPES`), ``fn`` (nN), ``ft`` (nN, magnitude), ``overlap``
        (µm), ``r_star`` (µm; wall: ``R``), ``d_min`` (the smaller diameter of the pair,
        µm; wall: ``2R``), ``e_star`` (kPa), ``a`` (µm: the Hertz radius, or the overlap
        circle for ``mdr``), ``area``, ``area_hertz``, ``area_overlap`` (µm²), ``point``
        (m, 3) (µm).
    """
    r = atoms.radius
    i, j, wi = pairs.i, pairs.j, walls.index
    roles = np.where(atoms.phase == AM, 0, 1)
    point, _, _ = contact_points(atoms.pos[i], pairs.d, pairs.dist, r[i], r[j])
    fn = np.concatenate([pairs.fn, walls.fn])
    r_star = np.concatenate([r[i] * r[j] / (r[i] + r[j]), r[wi]])
    e_star = np.concatenate([e_pp[roles[i], roles[j]], e_pw[roles[wi]]])
    a_hertz = hertz_contact_radius(fn, r_star, e_star)
    a_overlap = np.concatenate([
        overlap_contact_radius(pairs.dist, r[i], r[j]),
        overlap_contact_radius(r[wi] - walls.overlap, r[wi], None)])
    a = a_overlap if normal == "mdr" else a_hertz
    return {
        "i": np.concatenate([i, wi]),
        "j": np.concatenate([j, np.full(wi.size, -1, dtype=np.int64)]),
        "wall": np.concatenate([np.full(i.size, "", dtype="<U3"), walls.wall]),
        "pair": np.concatenate([pair_names(atoms.phase[i], atoms.phase[j]),
                                np.where(atoms.phase[wi] == AM, "AM-wall", "SE-wall")]),
        "fn": fn,
        "ft": np.concatenate([np.linalg.norm(pairs.ft, axis=1), walls.ft]),
        "overlap": np.concatenate([pairs.overlap, walls.overlap]),
        "r_star": r_star,
        "d_min": np.concatenate([2.0 * np.minimum(r[i], r[j]), 2.0 * r[wi]]),
        "e_star": e_star,
        "a": a,
        "area": math.pi * a**2,
        "area_hertz": math.pi * a_hertz**2,
        "area_overlap": math.pi * a_overlap**2,
        "point": np.concatenate([point, walls.point]),
    }


def love_weber_incidences(atoms: Atoms, pairs: PairContacts, walls: WallContacts,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (atom, contact) incidences of the Love–Weber sum: a pair gives two (``+f`` on
    ``i`` with ``r_ic``, ``−f`` on ``j`` with ``r_jc``), a wall contact one.

    Returns
    -------
    index : numpy.ndarray of int
        Sorted-atom index of each incidence.
    force : numpy.ndarray, shape (k, 3)
        Force on the atom (nN).
    branch : numpy.ndarray, shape (k, 3)
        Vector from the atom centre to the contact point (µm).
    """
    r = atoms.radius
    _, br_i, br_j = contact_points(atoms.pos[pairs.i], pairs.d, pairs.dist, r[pairs.i],
                                   r[pairs.j])
    f_on_i = pairs.force_on_i
    index = np.concatenate([pairs.i, pairs.j, walls.index])
    force = np.concatenate([f_on_i, -f_on_i, walls.force])
    branch = np.concatenate([br_i, br_j, walls.branch])
    return index, force, branch
