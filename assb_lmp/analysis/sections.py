"""Section planes of a 3D stage: each gives its own image and label set.

3D cells are pressed along z and periodic in x and y. Every section plane of the spec
(default y = Ly/2) gives a view (:func:`section_view`): the window is the square of the
plane's (across, z) extent cropped ``crop_um`` from each side; a particle counts when the
plane cuts it and its projected centre lies in the window; an AM–SE contact counts when its
AM particle does (so reaction area and coverage are those of the AM particles the image
shows). ``section_z_um`` analyses a single plane z = const instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assb_lmp.analysis import imaging
from assb_lmp.analysis.case_info import CaseInfo
from assb_lmp.analysis.contacts import AM
from assb_lmp.analysis.labels import compute_labels
from assb_lmp.analysis.result import StageResult
from assb_lmp.analysis.stress import stress_balance
from assb_lmp.analysis.window import CROP_UM, in_window, window_from_cell
from assb_lmp.core.errors import AnalysisError

#: Section axis → (image across, image up, plane normal) as axis names.
SECTION_AXES: dict[str, tuple[str, str, str]] = {
    "y": ("x", "z", "y"), "x": ("y", "z", "x"), "z": ("x", "y", "z"),
}
_AX = {"x": 0, "y": 1, "z": 2}


def _to_view(xyz: np.ndarray, names: tuple[str, str, str], position_um: float,
             periodic_w: float | None) -> np.ndarray:
    """Permute coordinates into the view frame (u, v, w); across a periodic normal move
    each point to its image nearest the plane."""
    out = xyz[:, [_AX[n] for n in names]].astype(float, copy=True)
    if periodic_w:
        out[:, 2] = position_um + (out[:, 2] - position_um) - periodic_w * np.round(
            (out[:, 2] - position_um) / periodic_w)
    return out


def section_view(res: StageResult, axis: str, position_um: float,
                 crop_um: float = CROP_UM) -> StageResult:
    """The view of a 3D stage through one section plane, in image coordinates.

    Coordinates are permuted so that the image shows ``(u, v)`` = the first two entries of
    :data:`SECTION_AXES` (x or y across, z up for the planes that contain the press axis)
    and the plane normal becomes the third coordinate ``w``; across a periodic normal the
    particles are moved to their image nearest the plane. The window is the
    :func:`~assb_lmp.analysis.window.window_from_cell` square of the cell's ``(u, v)``
    extent (cropped ``crop_um`` from each side, e.g. from the walls along z). What counts
    for the labels of the view:

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
    pos = _to_view(res.pos, names, position_um, periodic[w_name])
    cell = dict(c)
    for k_new, n in zip("xyz", names, strict=True):
        cell[f"{k_new}lo_um"], cell[f"{k_new}hi_um"] = lo[n], hi[n]
    window = window_from_cell(cell, crop_um)
    p_in = in_window(pos, window) & (np.abs(pos[:, 2] - position_um) < res.radius)
    con = dict(res.contacts)
    con["point"] = _to_view(con["point"], names, position_um, periodic[w_name])
    i, j = con["i"], con["j"]
    in_i, in_j = p_in[i], p_in[np.clip(j, 0, None)] & (j >= 0)
    amse = con["pair"] == "AM-SE"
    con["in"] = np.where(amse, np.where(res.phase[i] == AM, in_i, in_j), in_i | in_j)
    view = StageResult(
        stage=res.stage, cell=cell, dimension=3, depth_um=res.depth_um, window=window,
        ids=res.ids, phase=res.phase, radius=res.radius, pos=pos, sigma_mpa=res.sigma_mpa,
        stress_mpa=res.stress_mpa, volume_um3=res.volume_um3, n_contacts=res.n_contacts,
        p_in=p_in, contacts=con,
        periodic_lengths=(periodic[names[0]], periodic[names[1]]),
    )
    view.plane_w_um = float(position_um)
    view.contact_radius = res.contact_radius
    view.stress_convention = res.stress_convention
    view.validity = res.validity
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


def default_sections(info: CaseInfo, cell: dict, section_z_um: float | None,
                     ) -> list[tuple[str, float, str]]:
    """The section planes ``(axis, position_um, name)`` of a 3D stage: the plane
    z = ``section_z_um`` if given, else the spec's
    :attr:`~assb_lmp.spec.case.CaseSpec.section_planes`, else y = mid-cell."""
    if section_z_um is not None:
        return [("z", float(section_z_um), f"z{section_z_um:g}".replace(".", "p"))]
    if info.spec is not None:
        return [(s.axis, s.position_um, s.label) for s in info.spec.section_planes]
    y0 = 0.5 * (cell["ylo_um"] + cell["yhi_um"])
    return [("y", y0, f"y{y0:g}".replace(".", "p"))]


def label_sections(res: StageResult, sections: Sequence[tuple[str, float, str]], *,
                   crop_um: float, image_px: int, **label_options) -> StageResult:
    """Give a 3D stage one view, label set and image per section plane; the stage's own
    ``labels``, ``image``, ``window``, ``p_in`` and ``contacts["in"]`` become those of the
    first plane.

    Raises
    ------
    AnalysisError
        Without any plane, or for a plane outside the cell.
    """
    if not sections:
        raise AnalysisError(f"stage {res.stage!r}: a 3D stage needs at least one section")
    balance = stress_balance(res)
    for axis, position, name in sections:
        view = section_view(res, axis, position, crop_um)
        view.labels = compute_labels(view, image_px=image_px, plane_z_um=view.plane_w_um,
                                     **label_options)
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
