"""Analyse the final state of one stage from its three end-of-stage files.

:func:`analyze_stage` reads ``dumps/<stage>.atoms.dump``, ``<stage>.contacts.dump`` and
``<stage>.cell.json``, checks them against each other and against the case
(:class:`~assb_lmp.analysis.case_info.CaseInfo`), builds the contact table
(:mod:`assb_lmp.analysis.contacts`), the Love–Weber stresses
(:mod:`assb_lmp.analysis.stress`), the labels (:mod:`assb_lmp.analysis.labels`) and the image
(3D: one of each per section plane, :mod:`assb_lmp.analysis.sections`).

Multisphere AM bodies (atoms dump with a ``mol`` column, :mod:`assb_lmp.analysis.bodies`): a
body is one particle. Its centre is the centre of mass of its spheres, its Love–Weber stress
sums the contacts of all its spheres with branch vectors from that centre, its volume is the
union section area × t (quasi-2D), its coverage surface the surface of the union of its
spheres (``lateral``: union perimeter × t); contacts and images stay per sphere. At static
equilibrium the stress balance is unchanged (the net force on every body is zero).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assb_lmp.analysis import bodies, imaging
from assb_lmp.analysis.case_info import CaseInfo
from assb_lmp.analysis.contacts import (
    PHASE_OF_TYPE,
    Atoms,
    check_virial,
    contact_table,
    love_weber_incidences,
    pair_contacts,
    wall_contacts,
)
from assb_lmp.analysis.dumps import Frame, read_cell, read_last_frame, stage_paths
from assb_lmp.analysis.hertz import effective_moduli_kpa
from assb_lmp.analysis.labels import compute_labels
from assb_lmp.analysis.result import StageResult
from assb_lmp.analysis.sections import default_sections, label_sections
from assb_lmp.analysis.stress import (
    CONVENTIONS,
    effective_depth_um,
    love_weber_stress,
    mean_compressive_stress,
    particle_volume,
    resolve_convention,
)
from assb_lmp.analysis.validity import validity_report
from assb_lmp.analysis.window import CROP_UM, IMAGE_PX, in_window, window_from_cell
from assb_lmp.core.errors import AnalysisError
from assb_lmp.core.units import KPA_PER_MPA

log = logging.getLogger(__name__)


def _check_atoms(info: CaseInfo, frame: Frame, cell: dict, stage: str) -> None:
    """The atoms frame: ids unique, types 1/2, radii positive, the cell's timestep, and
    the ids and types of ``structure.data``."""
    path = frame.source
    frame.require(("id", "type", "radius", "x", "y", "z"))
    ids = frame["id"]
    if frame.n == 0:
        raise AnalysisError(f"{path}: the frame holds no atoms")
    if np.any(np.diff(ids) <= 0) and np.unique(ids).size != ids.size:
        raise AnalysisError(f"{path}: repeated atom ids")
    bad_types = sorted(set(np.unique(frame["type"]).tolist()) - set(PHASE_OF_TYPE))
    if bad_types:
        raise AnalysisError(f"{path}: atom type(s) {bad_types} are neither 1 (AM) nor 2 (SE)")
    if np.any(frame["radius"] <= 0):
        raise AnalysisError(f"{path}: non-positive radius")
    if frame.timestep != int(cell["step"]):
        raise AnalysisError(
            f"{path}: timestep {frame.timestep} differs from step {cell['step']} of "
            f"{stage}.cell.json: the files are not from the same run"
        )
    if info.structure is None:
        return
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


def read_stage(info: CaseInfo, stage: str) -> tuple[dict[str, Path], dict, Frame, Frame]:
    """Read and cross-check the files of a stage: ``(paths, cell, atoms, contacts)``.

    Raises
    ------
    AnalysisError
        Naming the file that is missing, truncated or inconsistent with the others.
    """
    paths = stage_paths(info.case_dir, stage)
    for key in ("atoms", "contacts", "cell"):
        if not paths[key].is_file():
            raise AnalysisError(f"{paths[key]}: missing (needed for stage {stage!r})")
    cell = read_cell(paths["cell"])
    if cell["stage"] != stage:
        raise AnalysisError(f"{paths['cell']}: says stage {cell['stage']!r}, expected {stage!r}")
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
    return paths, cell, atoms, cont


def _dimension_depth(info: CaseInfo, cell: dict, atoms: Frame, path: Path) -> tuple[int, float]:
    """Dimension of the stage (spec, else cell.json, else the spread of z) and depth t."""
    dimension = info.dimension
    if dimension == 0:
        dimension = int(cell.get("dimension", 2 if np.ptp(atoms["z"]) == 0 else 3))
    depth = float(cell["depth_um"])
    if info.depth_um is not None and dimension == 2 and not math.isclose(
        depth, info.depth_um, rel_tol=1e-6
    ):
        raise AnalysisError(
            f"{path}: depth_um = {depth} but spec.yaml gives t = {info.depth_um} µm: "
            "the cell file is from another case"
        )
    return dimension, depth


def _group_bodies(atoms: Atoms, dimension: int) -> bodies.Grouping | None:
    """Multisphere bodies of the frame (None without a ``mol`` column or bodies)."""
    frame = atoms.frame
    if "mol" not in frame or not np.any(frame["mol"] > 0):
        return None
    plen = tuple(atoms.box_length(ax) if atoms.periodic(ax) and (ax < 2 or dimension == 3)
                 else None for ax in range(3))
    mass = atoms.column("mass") if "mass" in frame else atoms.radius**3
    try:
        return bodies.group(atoms.ids, atoms.phase, atoms.radius, atoms.pos, mass,
                            atoms.column("mol").astype(np.int64), plen,
                            box_lo=frame.box[:, 0] if frame.box.size else None)
    except ValueError as exc:
        raise AnalysisError(f"{frame.source}: {exc}") from None


def _attach_bodies(res: StageResult, atoms: Atoms, grouping: bodies.Grouping) -> None:
    res.mol = grouping.mol
    res.n_spheres = grouping.n_spheres
    res.area_um2 = grouping.area
    res.perimeter_um = grouping.perimeter
    res.surface_um2 = grouping.surface
    res.volume3d_um3 = grouping.volume3d
    res.aspect_ratio = grouping.aspect_ratio
    res.atoms = {"pos": atoms.pos, "radius": atoms.radius, "phase": atoms.phase,
                 "particle": grouping.particle_of_atom, "ids": atoms.ids}


def _contacts_of_bodies(contacts: dict[str, np.ndarray], atom_ids: np.ndarray,
                        grouping: bodies.Grouping) -> None:
    """Contacts of multisphere bodies: ``i``/``j`` become particle (body) indices, the
    atoms in contact stay as ``atom_id1``/``atom_id2``."""
    i, j = contacts["i"], contacts["j"]
    contacts["atom_id1"] = atom_ids[i]
    contacts["atom_id2"] = np.where(j >= 0, atom_ids[np.clip(j, 0, None)], -1)
    contacts["i"] = grouping.particle_of_atom[i]
    contacts["j"] = np.where(j >= 0, grouping.particle_of_atom[np.clip(j, 0, None)], -1)


def _volumes(radius: np.ndarray, grouping: bodies.Grouping | None, dimension: int,
             depth: float) -> dict[str, np.ndarray]:
    """Particle volumes of each convention (µm³) and the section areas ``area`` (µm²).

    Spheres: ``π r² t`` (``per_depth``, quasi-2D only) and ``4/3 π r³`` (``per_sphere``);
    bodies: union section area × t and the volume of the union of their spheres.
    """
    if grouping is None:
        out = {"per_sphere": particle_volume(radius, 3, depth),
               "area": math.pi * np.asarray(radius, dtype=float) ** 2}
        if dimension == 2:
            out["per_depth"] = particle_volume(radius, 2, depth)
    else:
        out = {"per_sphere": grouping.volume3d, "area": grouping.area}
        if dimension == 2:
            out["per_depth"] = grouping.area * depth
    return out


def build_stage_result(info: CaseInfo, stage: str, crop_um: float = CROP_UM) -> StageResult:
    """Particles, contacts and Love–Weber stresses of a stage (no labels, no image)."""
    paths, cell, frame, cont = read_stage(info, stage)
    dimension, depth = _dimension_depth(info, cell, frame, paths["cell"])
    atoms = Atoms.from_frame(frame)
    grouping = _group_bodies(atoms, dimension)
    pairs = pair_contacts(atoms, cont)
    check_virial(atoms, pairs, paths["contacts"])
    walls = wall_contacts(atoms, cell, paths["cell"])
    e_pp, e_pw = effective_moduli_kpa(info.cards, info.normal)
    contacts = contact_table(atoms, pairs, walls, e_pp, e_pw, info.normal)
    index, force, branch = love_weber_incidences(atoms, pairs, walls)
    ids, phase, radius, pos = atoms.ids, atoms.phase, atoms.radius, atoms.pos
    if grouping is not None:
        # one particle per body: branch vectors from the body centre, volume of the union
        branch = branch + grouping.rel[index]
        index = grouping.particle_of_atom[index]
        _contacts_of_bodies(contacts, ids, grouping)
        ids, phase, radius, pos = grouping.ids, grouping.phase, grouping.radius, grouping.pos
    n = ids.size
    moment = love_weber_stress(n, index, force, branch, np.ones(n))  # Σ f ⊗ r (nN µm)
    vol = _volumes(radius, grouping, dimension, depth)
    convention = resolve_convention(
        info.spec.analysis.stress_convention if info.spec is not None else None, dimension)
    sigma = {c: (moment / vol[c][:, None, None]) / KPA_PER_MPA for c in CONVENTIONS
             if c in vol}
    sigma_mpa = sigma[convention]
    window = window_from_cell(cell, crop_um)
    contacts["in"] = in_window(contacts["point"], window)
    res = StageResult(
        stage=stage, cell=cell, dimension=dimension, depth_um=depth, window=window,
        ids=ids, phase=phase, radius=radius, pos=pos, sigma_mpa=sigma_mpa,
        stress_mpa=mean_compressive_stress(sigma_mpa, dimension), volume_um3=vol[convention],
        n_contacts=np.bincount(index, minlength=n).astype(np.int64),
        p_in=in_window(pos, window), contacts=contacts,
        boundary_moment=(walls.force.T @ walls.point) if walls.index.size else None,
        contact_radius="overlap" if info.normal == "mdr" else "hertz",
        periodic_lengths=tuple(
            float(cell[f"{a}hi_um"] - cell[f"{a}lo_um"]) if atoms.periodic(k) else None
            for k, a in enumerate("xy")),
    )
    res.stress_convention = convention
    res.validity = validity_report(contacts, info.se_yield_mpa)
    res.stress_by_convention = {c: mean_compressive_stress(sg, dimension)
                                for c, sg in sigma.items()}
    res.sphere_volume_um3, res.depth_volume_um3 = vol["per_sphere"], vol.get("per_depth")
    if dimension == 2:
        res.effective_depth_um = effective_depth_um(vol["per_sphere"], vol["area"])
    if grouping is not None:
        _attach_bodies(res, atoms, grouping)
    return res


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
        From :func:`~assb_lmp.analysis.case_info.load_case_info`.
    stage : str
        Stage name.
    coverage_factor, crop_um, coverage_surface, label_supersample, image_px, section_z_um
        See :func:`assb_lmp.analysis.case.analyze_case`.
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
    res = build_stage_result(info, stage, crop_um)
    options = {"coverage_factor": coverage_factor, "coverage_surface": coverage_surface,
               "label_supersample": label_supersample}
    if res.dimension == 3:
        if sections is None:
            sections = default_sections(info, res.cell, section_z_um)
        return label_sections(res, sections, crop_um=crop_um, image_px=image_px, **options)
    res.labels = compute_labels(res, image_px=image_px, plane_z_um=None, **options)
    res.labels["info"]["crop_um"] = crop_um
    res.image = imaging.render_section(*res.drawn(), res.window, pixels=image_px,
                                       plane_z_um=None)
    return res
