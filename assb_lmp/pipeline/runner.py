"""One case end to end: spec → packing + deck → LAMMPS → summary → analysis.

The case folder is written in place; a sweep wraps this in a temporary folder that is
moved into place only when the case is complete. ``summary.json`` is written last and
only by a run that reached the end of its deck; a failed run leaves ``error.json``
instead, so a failed run never looks complete.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from assb_lmp import engines
from assb_lmp.analysis import dumps
from assb_lmp.core.errors import AssbError, EngineError
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


def _wall_contacts(atoms: dumps.Frame, cell: dict) -> tuple[np.ndarray, ...]:
    """(normal force nN, overlap µm, radius µm) of every particle-wall contact."""
    fn, ov, rad = [], [], []
    r = atoms["radius"]
    planes = {
        "xlo": ("x", cell.get("xlo_um"), "fx"),
        "xhi": ("x", cell.get("xhi_um"), "fx"),
        "ylo": ("y", cell.get("ylo_um"), "fy"),
        "yhi": ("y", cell.get("yhi_um"), "fy"),
        "zlo": ("z", cell.get("zlo_um"), "fz"),
        "zhi": ("z", cell.get("zhi_um"), "fz"),
    }
    for w, (axis, pos, comp) in planes.items():
        col = f"wall_{w}_{comp}"
        if col not in atoms or pos is None:
            continue
        f = np.abs(atoms[col])
        hit = f > 0
        fn.append(f[hit])
        ov.append(r[hit] - np.abs(atoms[axis][hit] - pos))
        rad.append(r[hit])
    if not fn:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return np.concatenate(fn), np.concatenate(ov), np.concatenate(rad)


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
        velocities), ``converged`` and ``servo_error``.
    """
    paths = dumps.stage_paths(case_dir, stage)
    cell = dumps.read_cell(paths["cell"])
    atoms = dumps.read_last_frame(paths["atoms"])
    cont = dumps.read_last_frame(paths["contacts"])
    r_by_id = dict(zip(atoms["id"].tolist(), atoms["radius"].tolist(), strict=True))
    ke = _kinetic_energy(atoms)
    elastic = 0.0
    max_ov = 0.0
    if cont.n:
        r1 = np.array([r_by_id[i] for i in cont["id1"].tolist()])
        r2 = np.array([r_by_id[i] for i in cont["id2"].tolist()])
        delta = r1 + r2 - cont["dist"]
        elastic += float(np.sum(0.4 * np.clip(cont["fn"], 0, None) * np.clip(delta, 0, None)))
        max_ov = float(np.max(delta / (2 * np.minimum(r1, r2))))
    fw, ow, rw = _wall_contacts(atoms, cell)
    if len(fw):
        elastic += float(np.sum(0.4 * fw * np.clip(ow, 0, None)))
        max_ov = max(max_ov, float(np.max(ow / (2 * rw))))
    pressures = {k[2:-4]: v for k, v in cell.items() if k.startswith("p_") and k.endswith("_mpa")}
    lx = cell["xhi_um"] - cell["xlo_um"]
    ly = cell["yhi_um"] - cell["ylo_um"]
    cell_um = [lx, ly]
    if spec.geometry.dimension == 3:
        cell_um.append(cell["zhi_um"] - cell["zlo_um"])
    se = case_cards(spec)["se"]
    p_mean_kpa = 1000.0 * max(np.mean(list(pressures.values())), spec.control.pressure_floor_mpa)
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
    }


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    tmp.replace(path)


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
            _write_json(out_dir / ERROR, {"status": "failed", "stage": "lammps",
                                          "reason": str(exc)})
        raise
    summary: dict = {}
    failure = None
    if rank == 0:
        try:
            summary = _summarise(spec, out_dir, result, t_gen)
            bad = [s["name"] for s in summary["stages"] if not s["converged"]]
            if bad:
                raise EngineError(
                    f"stage(s) {', '.join(bad)} did not reach their target within "
                    f"{spec.control.max_steps_per_stage} steps (servo not converging)",
                    deck=str(out_dir / "deck.lmp"), log_tail=engine.log_tail(result.log))
            if analyze:
                from assb_lmp.analysis import mechanics

                ta = time.perf_counter()
                labels = mechanics.analyze_case(out_dir, figures=figures)
                summary["timing"]["analysis_s"] = time.perf_counter() - ta
                summary["labels"] = labels
            summary["timing"]["total_s"] = time.perf_counter() - t0
            summary["status"] = "complete"
            _write_json(out_dir / SUMMARY, summary)
        except AssbError as exc:
            _write_json(out_dir / ERROR, {"status": "failed", "stage": "summary",
                                          "reason": str(exc)})
            failure = exc
    _share_failure(comm, failure)
    if comm is not None:
        summary = comm.bcast(summary, root=0)
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
    structure = json.loads((out_dir / "structure.json").read_text())
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
