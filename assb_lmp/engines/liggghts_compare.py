"""Run the same case in LAMMPS and in LIGGGHTS: restart both from one settled packing, compare
their pressure–strain curves, and time them (atom-steps per second).

A packing settled by either engine (its ``<stage>.atoms.dump``) becomes a
:class:`~assb_lmp.build.packing.Structure` (:func:`structure_from_atoms`) with the same ids,
types, diameters and positions and no velocities; a *restart spec* (:func:`restart_spec`)
starts the cell at that packing's width. Both engines then write their decks from the same
structure and run the same stages.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np

import assb_lmp.engines.lammps as lammps_engine
import assb_lmp.engines.liggghts as liggghts
import assb_lmp.engines.liggghts_deck as liggghts_deck
from assb_lmp.build import deck as lammps_deck
from assb_lmp.build import packing
from assb_lmp.core.errors import EngineError
from assb_lmp.engines.base import RunResult
from assb_lmp.materials.physics import effective_modulus_gpa, effective_shear_gpa
from assb_lmp.materials.resolve import case_cards, parse_case
from assb_lmp.spec.case import CaseSpec

#: Columns a structure needs from an atoms dump.
_NEEDED = ("id", "type", "radius", "x", "y", "z")


def read_atoms(path: Path) -> dict[str, np.ndarray]:
    """The last frame of a contract atoms dump as ``{column: array}`` (engines layer: the
    analysis reader comes later in the pipeline)."""
    text = Path(path).read_text().splitlines()
    start = max(k for k, ln in enumerate(text) if ln.startswith("ITEM: TIMESTEP"))
    frame = text[start:]
    n = int(frame[frame.index("ITEM: NUMBER OF ATOMS") + 1])
    k = next(i for i, ln in enumerate(frame) if ln.startswith("ITEM: ATOMS"))
    cols = frame[k].split()[2:]
    missing = [c for c in _NEEDED if c not in cols]
    if missing:
        raise EngineError(f"{path}: atoms dump lacks {', '.join(missing)}")
    table = np.array(" ".join(frame[k + 1:k + 1 + n]).split(), dtype=float).reshape(n, len(cols))
    return {c: table[:, j] for j, c in enumerate(cols)}


def structure_from_atoms(path: Path, spec: CaseSpec, width_um: float) -> packing.Structure:
    """The packing of an atoms dump (sorted by id, ids 1..N) as a Structure of a cell of
    ``width_um`` (the settled width) and the spec's height."""
    a = read_atoms(path)
    order = np.argsort(a["id"])
    if not np.array_equal(a["id"][order], np.arange(1, len(order) + 1)):
        raise EngineError(f"{path}: atom ids are not 1..N (atoms lost?)")
    types = a["type"][order].astype(int)
    return packing.Structure(
        types=types, diameters=2.0 * a["radius"][order],
        positions=np.column_stack([a["x"][order], a["y"][order], a["z"][order]]),
        width=float(width_um), height=spec.geometry.height_um, depth=spec.depth_um,
        periodic=spec.geometry.boundary == "periodic",
        info={"seed": spec.seed, "restart_of": str(path), "dimension": 2,
              "n_am": int(np.sum(types == packing.TYPE_AM)),
              "n_se": int(np.sum(types == packing.TYPE_SE))})


def restart_spec(spec: CaseSpec, width_um: float, stages: list[dict],
                 name: str | None = None, **contact) -> CaseSpec:
    """The spec of a run that starts from a settled packing of width ``width_um``: the same
    materials, packing keys and control, the given stages, contact keys overridden."""
    data = spec.model_dump(mode="json")
    data["name"] = name or f"{spec.name}_restart"
    data["geometry"]["width_um"] = float(width_um)
    data["packing"]["reference_width_um"] = float(width_um)
    data["contact"].update(contact)
    data["stages"] = stages
    return parse_case(data, f"<restart of {spec.name}>")


def for_engine(spec: CaseSpec, engine: str) -> CaseSpec:
    """The same case for another engine (only ``engine`` changes)."""
    return spec if spec.engine == engine else spec.model_copy(update={"engine": engine})


def tangential_damping_ratio(a, b) -> float:
    """The tangential damping of LIGGGHTS as LAMMPS's mindlin ``x_gammat`` for cards a, b:
    γ_t/γ_n = √(8G*√(R*δ) / (2E*√(R*δ))) = 2√(G*/E*) (LCO–LCO 0.900, LGPS–LGPS 0.879)."""
    return 2.0 * math.sqrt(effective_shear_gpa(a, b) / effective_modulus_gpa(a, b))


def match_tangential_damping(text: str, cards: dict) -> str:
    """A LAMMPS deck of the toolkit with every ``mindlin … 1.0 μ`` damping ratio set to
    LIGGGHTS's 2√(G*/E*) of its pair (``pair_coeff 1 1``, ``2 2``, ``1 2`` and the wall
    fixes of each phase), so that both engines damp the tangential spring alike."""
    am, se, wall = cards["am"], cards["se"], cards["wall"]
    ratios = {"pair_coeff      1 1 ": (am, am), "pair_coeff      2 2 ": (se, se),
              "pair_coeff      1 2 ": (am, se)}
    out = []
    for line in text.splitlines():
        pair = next((v for k, v in ratios.items() if line.startswith(k)), None)
        if pair is None and line.startswith("fix") and "wall/gran" in line:
            pair = (am, wall) if "_am " in line else (se, wall)
        if pair is not None:
            x = repr(tangential_damping_ratio(*pair))
            line = re.sub(r"(tangential mindlin \S+) 1\.0 ", rf"\g<1> {x} ", line)
        out.append(line)
    return "\n".join(out) + "\n"


def write_lammps_case(spec: CaseSpec, out_dir: Path,
                      structure: packing.Structure | None = None,
                      match_liggghts: bool = False) -> Path:
    """Write a case's LAMMPS folder; with ``structure`` the deck starts from it (the data
    file is that structure, the SE lines first as in the LIGGGHTS decks); with
    ``match_liggghts`` the tangential damping is LIGGGHTS's (:func:`match_tangential_damping`).
    Returns the deck."""
    out_dir = Path(out_dir)
    spec = for_engine(spec, "lammps")
    original = packing.generate
    if structure is not None:
        packing.generate = lambda *_a, **_k: structure  # the LAMMPS deck reads it
    try:
        lammps_deck.write_case(spec, out_dir)
    finally:
        packing.generate = original
    if structure is not None:
        cards = case_cards(spec)
        liggghts_deck.write_data(structure, out_dir / "structure.data",
                                 {1: cards["am"].rho, 2: cards["se"].rho, 3: 1.0})
    deck = out_dir / "deck.lmp"
    if match_liggghts:
        deck.write_text(match_tangential_damping(deck.read_text(), case_cards(spec)))
    return deck


def run_lammps(spec: CaseSpec, out_dir: Path, structure: packing.Structure | None = None,
               match_liggghts: bool = False) -> RunResult:
    """Write and run a case's LAMMPS deck (from ``structure`` when given; with LIGGGHTS's
    tangential damping when ``match_liggghts``)."""
    return lammps_engine.run_deck(write_lammps_case(spec, out_dir, structure, match_liggghts))


def run_liggghts(spec: CaseSpec, out_dir: Path, structure: packing.Structure | None = None,
                 timeout_s: float | None = None) -> RunResult:
    """Write and run a case's LIGGGHTS deck (from ``structure`` when given)."""
    liggghts_deck.write_case(for_engine(spec, "liggghts"), Path(out_dir), structure=structure)
    return liggghts.run_deck(Path(out_dir) / "deck.lmp", timeout_s=timeout_s)


def settle_in_lammps(spec: CaseSpec, out_dir: Path, pressure_mpa: float = 1.0
                     ) -> tuple[CaseSpec, packing.Structure, float]:
    """Settle ``spec``'s packing in LAMMPS at ``pressure_mpa`` (one settle stage).

    Returns
    -------
    tuple
        The settle spec, the settled structure (no velocities) and its width (µm).
    """
    data = spec.model_dump(mode="json")
    data["stages"] = [{"kind": "settle", "pressure_mpa": float(pressure_mpa)}]
    settle = parse_case(data, f"<settle of {spec.name}>")
    run_lammps(settle, out_dir)
    cell = json.loads((Path(out_dir) / "dumps" / "settle.cell.json").read_text())
    width = float(cell["xhi_um"])
    return settle, structure_from_atoms(Path(out_dir) / "dumps" / "settle.atoms.dump",
                                        settle, width), width


def press_both(spec: CaseSpec, workdir: Path, final_fraction: float = 0.9,
               settle_mpa: float = 1.0, timeout_s: float | None = None,
               final_width_um: float | None = None) -> dict:
    """Settle in LAMMPS, then hold and press by width (to ``final_width_um``, or
    ``final_fraction`` of the settled width) from the settled packing in both engines, the
    LAMMPS deck with LIGGGHTS's tangential damping (the same contact law in both).

    Returns
    -------
    dict
        ``width_um`` (settled), ``spec`` (the restart spec), ``lammps`` and ``liggghts``
        (their run results; case folders ``workdir/lammps`` and ``workdir/liggghts``),
        ``curves`` (:func:`compare_curves` of the press stages, LAMMPS the reference).
    """
    workdir = Path(workdir)
    settle, structure, width = settle_in_lammps(spec, workdir / "settle", settle_mpa)
    final = final_width_um if final_width_um is not None else final_fraction * width
    restart = restart_spec(settle, width, [
        {"kind": "hold"}, {"kind": "press", "mode": "width", "final_width_um": float(final)}])
    out = {"width_um": width, "spec": restart,
           "lammps": run_lammps(restart, workdir / "lammps", structure, match_liggghts=True),
           "liggghts": run_liggghts(restart, workdir / "liggghts", structure, timeout_s)}
    a, b = (read_series(workdir / e / "dumps" / "press.series.txt")
            for e in ("lammps", "liggghts"))
    out["curves"] = compare_curves(a, b, floor_mpa=restart.control.pressure_floor_mpa)
    return out


def read_series(path: Path) -> dict[str, np.ndarray]:
    """A ``<stage>.series.txt`` table (``#`` header) as ``{column: array}``."""
    lines = Path(path).read_text().splitlines()
    names = lines[0].lstrip("#").split()
    rows = [ln.split() for ln in lines[1:] if ln.strip() and not ln.startswith("#")]
    table = np.array(rows, dtype=float).reshape(len(rows), len(names))
    return {c: table[:, j] for j, c in enumerate(names)}


def compare_curves(a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                   floor_mpa: float) -> dict:
    """Pressure–strain agreement of two series (``a`` the reference).

    At every step both engines sampled where both pressures exceed ``floor_mpa``: the
    relative difference of the moving boundary's pressure (``max_rel_pressure_step``) and
    of the width; and along the strain: at every sampled width of ``a`` inside the range of
    ``b`` (where the width only decreases or only increases), the relative difference of the
    pressure of ``b`` interpolated at that width (``max_rel_pressure``).

    Returns
    -------
    dict
        ``points``, ``max_rel_pressure``, ``mean_rel_pressure``, ``max_rel_pressure_step``,
        ``max_rel_width_step``, ``steps``.
    """
    steps, ia, ib = np.intersect1d(a["step"], b["step"], return_indices=True)
    pa, pb = a["p_move_mpa"][ia], b["p_move_mpa"][ib]
    use = (pa > floor_mpa) & (pb > floor_mpa)
    rel_step = np.abs(pb[use] - pa[use]) / pa[use]
    rel_w = np.abs(b["width_um"][ib] - a["width_um"][ia]) / a["width_um"][ia]
    wb, p_b = b["width_um"], b["p_move_mpa"]
    order = np.argsort(wb)
    wa, p_a = a["width_um"], a["p_move_mpa"]
    inside = (wa >= wb.min()) & (wa <= wb.max()) & (p_a > floor_mpa)
    interp = np.interp(wa[inside], wb[order], p_b[order])
    rel = np.abs(interp - p_a[inside]) / p_a[inside]
    nan = math.nan
    return {"points": int(inside.sum()),
            "max_rel_pressure": float(rel.max()) if rel.size else nan,
            "mean_rel_pressure": float(rel.mean()) if rel.size else nan,
            "max_rel_pressure_step": float(rel_step.max()) if rel_step.size else nan,
            "max_rel_width_step": float(rel_w.max()) if rel_w.size else nan,
            "steps": int(steps.size)}


def time_press(spec: CaseSpec, workdir: Path, timeout_s: float | None = None,
               structure: packing.Structure | None = None) -> dict:
    """Run the same case in both engines on one core and report their cost.

    Parameters
    ----------
    spec : CaseSpec
        The case (its ``engine`` key is ignored: it runs in both).
    workdir : Path
        Case folders ``workdir/lammps`` and ``workdir/liggghts``.
    timeout_s : float, optional
        Wall-clock limit of the LIGGGHTS run (s).
    structure : Structure, optional
        Start both engines from this packing (a restart) instead of the spec's own.

    Returns
    -------
    dict
        Per engine (``lammps``, ``liggghts``): ``atoms``, ``steps``, ``loop_s`` (the
        engines' own loop time), ``wall_s`` and ``atom_steps_per_s``; and ``ratio``
        (LIGGGHTS atom-steps/s over LAMMPS's).
    """
    workdir = Path(workdir)
    out = {}
    for name in ("lammps", "liggghts"):
        t0 = time.perf_counter()
        result = (run_lammps(spec, workdir / name, structure) if name == "lammps"
                  else run_liggghts(spec, workdir / name, structure, timeout_s=timeout_s))
        wall = time.perf_counter() - t0
        atoms = len(read_atoms(next((workdir / name / "dumps").glob("*.atoms.dump")))["id"])
        steps = sum(s.steps for s in result.stages.values())
        out[name] = {"atoms": atoms, "steps": steps, "loop_s": result.engine_s,
                     "wall_s": wall,
                     "atom_steps_per_s": atoms * steps / result.engine_s
                     if result.engine_s > 0 else math.nan}
    out["ratio"] = out["liggghts"]["atom_steps_per_s"] / out["lammps"]["atom_steps_per_s"]
    return out


def time_restart_press(spec: CaseSpec, workdir: Path, strain: float = 0.06,
                       settle_mpa: float = 1.0, timeout_s: float | None = None) -> dict:
    """Time the same press in both engines: settle ``spec``'s packing in LAMMPS at
    ``settle_mpa``, then hold and press it by width by ``strain`` (fraction of the settled
    width) in each engine from that one packing (:func:`time_press`).

    Returns
    -------
    dict
        :func:`time_press`'s result plus ``width_um`` (settled), ``final_width_um`` and
        ``settle_s`` (wall time of the LAMMPS settle, s).
    """
    workdir = Path(workdir)
    t0 = time.perf_counter()
    settle, structure, width = settle_in_lammps(spec, workdir / "settle", settle_mpa)
    settle_s = time.perf_counter() - t0
    final = (1.0 - strain) * width
    restart = restart_spec(settle, width, [
        {"kind": "hold"}, {"kind": "press", "mode": "width", "final_width_um": float(final)}])
    out = time_press(restart, workdir, timeout_s=timeout_s, structure=structure)
    out.update(width_um=width, final_width_um=final, settle_s=settle_s)
    return out
