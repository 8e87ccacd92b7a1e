"""One case end to end: spec → packing + deck → LAMMPS → summary → analysis.

The case folder is written in place; a sweep wraps this in a temporary folder that is
moved into place only when the case is complete. ``summary.json`` is written last and
only by a run that reached the end of its deck; a failed run leaves ``error.json``
instead, so a failed run never looks complete.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np

import assb_lmp.engines as engines
from assb_lmp.analysis import dumps
from assb_lmp.analysis.case import analyze_case
from assb_lmp.analysis.contacts import Atoms, contact_table, pair_contacts, wall_contacts
from assb_lmp.analysis.hertz import effective_moduli_kpa
from assb_lmp.analysis.validity import se_yield_mpa, validity_report, warning_line
from assb_lmp.core.errors import AssbError, EngineError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.core.units import mpa_to_kpa
from assb_lmp.engines import base as engine
from assb_lmp.materials.physics import timestep_us
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
ERROR = "error.json"


def _kinetic_energy(atoms: dumps.Frame) -> float:
    """Translational + rotational kinetic energy (fJ) of a frame (spheres)."""
    m = atoms["mass"]
    r = atoms["radius"]
    v2 = atoms["vx"] ** 2 + atoms["vy"] ** 2 + atoms["vz"] ** 2
    w2 = atoms["omegax"] ** 2 + atoms["omegay"] ** 2 + atoms["omegaz"] ** 2
    return float(np.sum(0.5 * m * v2 + 0.5 * 0.4 * m * r * r * w2))


def _contacts(atoms: dumps.Frame, cont: dumps.Frame, cell: dict, cell_path: Path,
              spec: CaseSpec) -> dict[str, np.ndarray]:
    """The stage's contact table (pairs and walls, atom level), as the analysis builds it."""
    sorted_atoms = Atoms.from_frame(atoms)
    pairs = pair_contacts(sorted_atoms, cont)
    walls = wall_contacts(sorted_atoms, cell, cell_path)
    e_pp, e_pw = effective_moduli_kpa(case_cards(spec), spec.contact.normal)
    return contact_table(sorted_atoms, pairs, walls, e_pp, e_pw, spec.contact.normal)


def stage_state(case_dir: Path, stage: str, spec: CaseSpec) -> dict:
    """Stage-end facts from the dumps: pressures, cell, overlaps, energies.

    Returns
    -------
    dict
        ``pressure_mpa`` per boundary, ``cell_um`` (Lx, Ly; 3D: Lx, Ly, Lz),
        ``max_overlap_fraction``
        (largest overlap / smaller diameter of the pair), ``kinetic_energy_fj``,
        ``elastic_energy_fj`` (Hertz: 2/5 F δ per contact), ``ke_to_elastic``,
        ``inertial_number`` (from the boundary strain rate and from the particle
        velocities), ``converged``, ``servo_error`` and ``validity`` (how much of the
        contacts stayed inside the Hertz range, :mod:`assb_lmp.analysis.validity`).
    """
    paths = dumps.stage_paths(case_dir, stage)
    cell = dumps.read_cell(paths["cell"])
    atoms = dumps.read_last_frame(paths["atoms"])
    cont = dumps.read_last_frame(paths["contacts"])
    ke = _kinetic_energy(atoms)
    table = _contacts(atoms, cont, cell, paths["cell"], spec)
    # Hertz: the elastic energy of a contact is 2/5 F δ
    elastic = float(np.sum(0.4 * np.clip(table["fn"], 0, None)
                           * np.clip(table["overlap"], 0, None)))
    max_ov = float(np.max(table["overlap"] / table["d_min"])) if table["fn"].size else 0.0
    se = case_cards(spec)["se"]
    validity = validity_report(table, se_yield_mpa(se.yield_mpa, spec.contact.normal,
                                                   spec.contact.mdr_yield_mpa))
    pressures = {k[2:-4]: v for k, v in cell.items() if k.startswith("p_") and k.endswith("_mpa")}
    lx = cell["xhi_um"] - cell["xlo_um"]
    ly = cell["yhi_um"] - cell["ylo_um"]
    cell_um = [lx, ly]
    if spec.geometry.dimension == 3:
        cell_um.append(cell["zhi_um"] - cell["zlo_um"])
    p_mean_kpa = mpa_to_kpa(max(np.mean(list(pressures.values())), spec.control.pressure_floor_mpa))
    mass = float(np.sum(atoms["mass"]))
    v_rms = math.sqrt(2.0 * ke / mass) if mass > 0 else 0.0
    i_ke = v_rms * math.sqrt(se.rho / p_mean_kpa)
    series = dumps.read_series(paths["series"]) if paths["series"].exists() else {}
    rate = float(series["rate_per_us"][-1]) if series and len(series["rate_per_us"]) else 0.0
    i_rate = abs(rate) * spec.packing.se_diameter_um * math.sqrt(se.rho / p_mean_kpa)
    return {
        "pressure_mpa": pressures,
        "cell_um": cell_um,
        "max_overlap_fraction": max_ov,
        "kinetic_energy_fj": ke,
        "elastic_energy_fj": elastic,
        "ke_to_elastic": ke / elastic if elastic > 0 else None,
        "inertial_number_rate": i_rate,
        "inertial_number_velocity": i_ke,
        "converged": bool(cell.get("converged", 0)),
        "servo_error": cell.get("error"),
        "step": cell.get("step"),
        "time_us": cell.get("time_us"),
        "validity": validity,
    }


def validity_warning(summary: dict) -> str | None:
    """One warning line when most SE contacts of a stage are outside the Hertz range
    (:func:`assb_lmp.analysis.validity.warning_line`), else None."""
    return warning_line(summary.get("stages", []))


def run_case(
    spec: CaseSpec,
    out_dir: Path,
    comm=None,
    user_templates: Path | None = None,
    analyze: bool = True,
    figures: bool = True,
) -> dict:
    """Generate, run and summarise one case in ``out_dir``.

    Parameters
    ----------
    spec : CaseSpec
        The case.
    out_dir : Path
        Case folder (created).
    comm : mpi4py communicator, optional
        Ranks that run this case's LAMMPS instance; rank 0 writes the toolkit's files.
    user_templates : Path, optional
        Template folder searched before the built-in one.
    analyze : bool
        Run the mechanics/imaging analysis at the end.
    figures : bool
        Also draw the figures.

    Returns
    -------
    dict
        The summary (also in ``summary.json``).

    Raises
    ------
    EngineError
        LAMMPS failed or a stage did not reach its target; ``error.json`` says why.
    """
    out_dir = Path(out_dir)
    rank = engine.comm_rank(comm)
    t0 = time.perf_counter()
    failure: AssbError | None = None
    if rank == 0:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for stale in (SUMMARY, ERROR):
                (out_dir / stale).unlink(missing_ok=True)
            engines.get(spec.engine).write(spec, out_dir, user_templates)
        except AssbError as exc:
            failure = exc
    _share_failure(comm, failure)
    t_gen = time.perf_counter() - t0
    try:
        result = engines.get(spec.engine).run(out_dir / "deck.lmp", comm=comm)
    except EngineError as exc:
        if rank == 0:
            atomic_write_json(out_dir / ERROR, {"status": "failed", "stage": "lammps",
                                                "reason": str(exc)})
        raise
    summary: dict = {}
    failure = None
    if rank == 0:
        try:
            summary = _finish(spec, out_dir, result, t0, t_gen, analyze, figures)
        except AssbError as exc:
            atomic_write_json(out_dir / ERROR, {"status": "failed", "stage": "summary",
                                                "reason": str(exc)})
            failure = exc
    _share_failure(comm, failure)
    if comm is not None:
        summary = comm.bcast(summary, root=0)
    return summary


def _finish(spec: CaseSpec, out_dir: Path, result: engine.RunResult, t0: float, t_gen: float,
            analyze: bool, figures: bool) -> dict:
    """Rank 0 after the run: the summary, the analysis, then ``summary.json``.

    Raises
    ------
    EngineError
        When a stage did not reach its target.
    """
    summary = _summarise(spec, out_dir, result, t_gen)
    bad = [s["name"] for s in summary["stages"] if not s["converged"]]
    if bad:
        raise EngineError(
            f"stage(s) {', '.join(bad)} did not reach their target within "
            f"{spec.control.max_steps_per_stage} steps (servo not converging)",
            deck=str(out_dir / "deck.lmp"), log_tail=engine.log_tail(result.log))
    if analyze:
        ta = time.perf_counter()
        labels = analyze_case(out_dir, figures=figures)
        summary["timing"]["analysis_s"] = time.perf_counter() - ta
        summary["labels"] = labels
    summary["timing"]["total_s"] = time.perf_counter() - t0
    summary["status"] = "complete"
    atomic_write_json(out_dir / SUMMARY, summary)
    return summary


def _share_failure(comm, failure: AssbError | None) -> None:
    """Raise rank 0's failure on every rank of ``comm`` (so that none waits forever)."""
    if comm is not None:
        message = comm.bcast(None if failure is None else str(failure), root=0)
        if message is not None and failure is None:
            raise EngineError(message)
    if failure is not None:
        raise failure


def _summarise(spec: CaseSpec, out_dir: Path, result: engine.RunResult, t_gen: float) -> dict:
    stages = []
    for s in spec.stages:
        st = stage_state(out_dir, s.name, spec)
        timing = result.stages.get(s.name, engine.StageTiming(s.name))
        stages.append({"name": s.name, "kind": s.kind, "steps": timing.steps,
                       "wall_s": timing.loop_s, **st})
    structure = read_json(out_dir / "structure.json", "the packing facts", EngineError)
    return {
        "case": spec.name,
        "seed": spec.seed,
        "lammps_version": result.version,
        "nprocs": result.nprocs,
        "timestep_us": timestep_us(spec, case_cards(spec)),
        "n_am": structure["n_am"],
        "n_se": structure["n_se"],
        "stages": stages,
        "timing": {"generate_s": t_gen, "lammps_s": result.engine_s,
                   "lammps_wall_s": result.wall_s},
    }
