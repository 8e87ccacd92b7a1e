"""The text of ``particles.csv``, ``contacts.csv`` and ``labels.json`` of an analysed stage
(columns in ``ARCHITECTURE.md``, "Analysis outputs")."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from assb_lmp.analysis.contacts import AM
from assb_lmp.analysis.result import StageResult


def _col(values: np.ndarray, fmt: str) -> list[str]:
    return [fmt % v for v in values.tolist()]


def _csv(names: list[str], cols: list[list[str]]) -> str:
    rows = "\n".join(",".join(r) for r in zip(*cols, strict=True))
    return ",".join(names) + "\n" + rows + ("\n" if rows else "")


def particles_table(res: StageResult) -> str:
    """``particles.csv`` text: id, phase, radius_um, x/y/z_um, stress_mpa, the symmetric
    Love–Weber tensor components ``sigma_ab_mpa`` (tension positive), n_contacts,
    in_window. Multisphere bodies: one row per body (id its smallest atom id, radius the
    area-equivalent radius, x/y/z the centre of mass) and three more columns: mol (body id,
    0 for single spheres), n_spheres, area_um2 (section area of the union). Quasi-2D: two
    last columns ``stress_mpa_per_depth``, ``stress_mpa_per_sphere``; ``stress_mpa`` and
    ``sigma_*`` are in the convention of ``labels.json["info"]["stress_convention"]``."""
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
    if res.dimension == 2:  # quasi-2D: p in both stress conventions
        for conv, p in res.stress_by_convention.items():
            names.append(f"stress_mpa_{conv}")
            cols.append(_col(p, g))
    return _csv(names, cols)


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
    return _csv(names, cols)


def labels_json(labels: Mapping) -> str:
    """``labels.json`` text (floats written exactly, so a re-read is bit-identical)."""
    return json.dumps(labels, indent=2, allow_nan=False) + "\n"
