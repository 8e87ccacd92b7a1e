"""A synthetic case folder: dumps of a dense packing with Hertz contact forces, no LAMMPS.

For mechanics and imaging tests and docs: :func:`write_synthetic_case` builds a packing
and its contact forces, :func:`write_case_files` writes any hand-built stage states as a
case folder in the contract of ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from assb_lmp.analysis import dumps
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.core.units import gpa_to_kpa, kpa_to_mpa
from assb_lmp.materials.cards import Material
from assb_lmp.materials.cards import get as get_card
from assb_lmp.materials.physics import effective_modulus_gpa
from assb_lmp.materials.resolve import case_cards
from assb_lmp.spec.case import CaseSpec, dump_case

logger = logging.getLogger(__name__)

_STAGE_KINDS = {"settle": {"kind": "settle"}, "hold": {"kind": "hold"},
                "release": {"kind": "release", "pressure_mpa": 25.0}}
#: Walls of the 2D cell: (axis, direction of the force on a particle, plane position).
_WALLS = ("xlo", "xhi", "ylo", "yhi")


def _safe_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", name) is not None


def _estar_kpa(a: Material, b: Material) -> float:
    """Effective modulus E* of a pair (kPa, LAMMPS micro pressure)."""
    return gpa_to_kpa(effective_modulus_gpa(a, b))


def _place_am(rng: np.random.Generator, w: float, h: float, fraction: float,
              diameter_um: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, float]:
    """AM discs by random sequential addition: centres (µm), radii (µm), total area (µm²)."""
    mean_d, sd_d = diameter_um
    am_xy: list[tuple[float, float]] = []
    am_r: list[float] = []
    area, target = 0.0, fraction * w * h
    for _ in range(20000):
        if area >= target:
            break
        r = 0.5 * max(2.0, rng.normal(mean_d, sd_d))
        if 2 * r >= min(w, h):
            continue
        x, y = rng.uniform(r, w - r), rng.uniform(r, h - r)
        if any((x - a) ** 2 + (y - b) ** 2 < (r + q) ** 2
               for (a, b), q in zip(am_xy, am_r, strict=True)):
            continue
        am_xy.append((x, y))
        am_r.append(r)
        area += np.pi * r * r
    return np.array(am_xy, dtype=float).reshape(-1, 2), np.array(am_r, dtype=float), area


def _place_se(w: float, h: float, se_diameter_um: float, squeeze_um: float,
              am_pos: np.ndarray, am_rad: np.ndarray) -> np.ndarray:
    """SE centres (µm) on a square lattice, where they overlap AM by at most ``squeeze``."""
    rs = 0.5 * se_diameter_um
    pitch = se_diameter_um - squeeze_um
    start = rs - 0.5 * squeeze_um
    gx = start + pitch * np.arange(int((w - start + 0.5 * squeeze_um - rs) // pitch) + 1)
    gy = start + pitch * np.arange(int((h - start + 0.5 * squeeze_um - rs) // pitch) + 1)
    sites = np.array([(x, y) for y in gy for x in gx], dtype=float).reshape(-1, 2)
    keep = np.ones(len(sites), dtype=bool)
    for (a, b), q in zip(am_pos, am_rad, strict=True):
        keep &= (sites[:, 0] - a) ** 2 + (sites[:, 1] - b) ** 2 >= (q + rs - squeeze_um) ** 2
    return sites[keep]


def _case_spec(case_dir: Path, seed: int, w: float, h: float, am_area: float,
               am_diameter_um: tuple[float, float], se_diameter_um: float,
               stages: tuple[str, ...]) -> CaseSpec:
    """The spec the synthetic case claims (initial width 1.15 × the final one)."""
    kinds = {**_STAGE_KINDS, "press": {"kind": "press", "mode": "width", "final_width_um": w}}
    mean_d, sd_d = am_diameter_um
    return CaseSpec.model_validate({
        "name": case_dir.name if _safe_name(case_dir.name) else "synthetic",
        "seed": int(seed),
        "geometry": {"width_um": round(1.15 * w, 6), "height_um": h},
        "packing": {"am_area_fraction": min(max(am_area / (w * h), 0.01), 0.8),
                    "am_diameter_mean_um": float(mean_d), "am_diameter_sd_um": float(sd_d),
                    "se_diameter_um": float(se_diameter_um)},
        "stages": [{**kinds.get(s, {"kind": "hold"}), "name": s} for s in stages],
    })


def _pair_contacts(rng: np.random.Generator, pos: np.ndarray, rad: np.ndarray,
                   typ: np.ndarray, n_am: int, rs: float, card_of: list[Material],
                   tangential_fraction: float) -> dict[str, np.ndarray]:
    """Hertz normal and random tangential forces (nN) of every overlapping pair.

    SE–SE candidates (SE radius ``rs``, µm) come from a tree, AM–anything by brute force.
    """
    n = len(pos)
    cand = [np.array(sorted(cKDTree(pos[n_am:]).query_pairs(2 * rs)), dtype=np.int64)
            .reshape(-1, 2) + n_am]
    for k in range(n_am):
        m = np.arange(k + 1, n)
        cand.append(np.column_stack([np.full(m.size, k), m]))
    cand_arr = np.vstack(cand)
    touching = (np.hypot(*(pos[cand_arr[:, 0]] - pos[cand_arr[:, 1]]).T)
                < rad[cand_arr[:, 0]] + rad[cand_arr[:, 1]])
    pi_, pj_ = cand_arr[touching].T
    d2 = np.column_stack([pos[pi_] - pos[pj_], np.zeros(len(pi_))])
    dist = np.linalg.norm(d2, axis=1)
    delta = rad[pi_] + rad[pj_] - dist
    rstar = rad[pi_] * rad[pj_] / (rad[pi_] + rad[pj_])
    es = np.array([_estar_kpa(card_of[typ[a] - 1], card_of[typ[b] - 1])
                   for a, b in zip(pi_, pj_, strict=True)])
    fn = 4.0 / 3.0 * es * np.sqrt(rstar) * delta**1.5
    nvec = d2 / dist[:, None]
    tvec = np.column_stack([-nvec[:, 1], nvec[:, 0], np.zeros(len(pi_))])
    ft = (rng.uniform(-1, 1, len(pi_)) * tangential_fraction * fn)[:, None] * tvec
    ids = np.arange(1, n + 1)
    return {"id1": ids[pi_], "id2": ids[pj_], "dist": dist, "fn": fn,
            "ftx": ft[:, 0], "fty": ft[:, 1], "ftz": ft[:, 2],
            "dx": d2[:, 0], "dy": d2[:, 1], "dz": d2[:, 2]}


def _wall_forces(pos: np.ndarray, rad: np.ndarray, typ: np.ndarray, w: float, h: float,
                 card_of: list[Material], wall: Material
                 ) -> dict[str, np.ndarray]:
    """Hertz force (nN, shape (n, 3)) of each wall on every particle crossing it."""
    planes = {"xlo": (0, 1.0, 0.0), "xhi": (0, -1.0, w), "ylo": (1, 1.0, 0.0),
              "yhi": (1, -1.0, h)}
    out = {}
    for name in _WALLS:
        ax, sign, plane = planes[name]
        dw = rad - sign * (pos[:, ax] - plane)
        f = np.zeros((len(pos), 3))
        hit = dw > 0
        ew = np.array([_estar_kpa(card_of[t - 1], wall) for t in typ[hit]])
        f[hit, ax] = sign * 4.0 / 3.0 * ew * np.sqrt(rad[hit]) * dw[hit] ** 1.5
        out[name] = f
    return out


def _atom_columns(pos: np.ndarray, rad: np.ndarray, typ: np.ndarray, rho: np.ndarray,
                  wall_f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(pos)
    zeros = np.zeros(n)
    atoms = {"id": np.arange(1, n + 1), "type": typ, "radius": rad,
             "mass": rho * 4 / 3 * np.pi * rad**3,
             "x": pos[:, 0], "y": pos[:, 1], "z": zeros, "vx": zeros, "vy": zeros,
             "vz": zeros, "omegax": zeros, "omegay": zeros, "omegaz": zeros}
    for wall, f in wall_f.items():
        for c, comp in enumerate("xyz"):
            atoms[f"wall_{wall}_f{comp}"] = f[:, c]
    return atoms


def _stage_states(stages: tuple[str, ...], spec: CaseSpec, w: float, h: float,
                  atoms: dict, contacts: dict, wall_f: dict[str, np.ndarray]) -> dict:
    """The same final state for every stage (steps 1000, 2000, ...), with a made-up series."""
    depth = spec.depth_um
    box = ((-1.0, w + 1.0), (-1.0, h + 1.0), (-0.5 * depth, 0.5 * depth))
    p_kpa = {"xlo": wall_f["xlo"][:, 0].sum() / (h * depth),
             "xhi": -wall_f["xhi"][:, 0].sum() / (h * depth),
             "ylo": wall_f["ylo"][:, 1].sum() / (w * depth),
             "yhi": -wall_f["yhi"][:, 1].sum() / (w * depth)}
    states = {}
    for k, stage in enumerate(stages):
        step = 1000 * (k + 1)
        cell = {"stage": stage, "step": step, "time_us": step * 1e-4,
                "xlo_um": 0.0, "xhi_um": w, "ylo_um": 0.0, "yhi_um": h,
                "zlo_um": -0.5 * depth, "zhi_um": 0.5 * depth,
                **{f"p_{name}_mpa": kpa_to_mpa(float(v)) for name, v in p_kpa.items()},
                "depth_um": depth, "ke_fj": 0.0}
        t = np.linspace(0.0, 1.0, 21)
        w0 = spec.geometry.width_um if k == 0 else w
        series = {
            "step": step - 1000 + 50 * np.arange(21),
            "time_us": (step - 1000) * 1e-4 + 0.005 * t,
            "width_um": w0 + (w - w0) * t, "p_move_mpa": cell["p_xhi_mpa"] * t**3,
            "p_fix_mpa": cell["p_xlo_mpa"] * t**3, "ke_fj": 1e-3 * t,
            "rate_per_us": np.full(21, 0.01)}
        states[stage] = {"atoms": atoms, "contacts": contacts, "cell": cell,
                         "series": series, "box": box}
    return states


def write_synthetic_case(
    case_dir: str | Path,
    *,
    seed: int = 0,
    width_um: float = 40.0,
    height_um: float = 40.0,
    am_area_fraction: float = 0.45,
    am_diameter_um: tuple[float, float] = (10.0, 1.0),
    se_diameter_um: float = 1.0,
    squeeze_um: float = 0.03,
    stages: tuple[str, ...] = ("press",),
    tangential_fraction: float = 0.2,
) -> Path:
    """Write a case folder with dumps of a dense packing and Hertz contact forces.

    AM discs (diameter ~ N(mean, SD), truncated at 2 µm) are placed by random sequential
    addition up to ``am_area_fraction`` (or until it stalls); SE discs sit on a square
    lattice of pitch ``se_diameter_um − squeeze_um`` wherever they overlap an AM disc by
    at most ``squeeze_um``. Every overlapping pair and every particle crossing a wall
    gets the Hertz normal force of the cards (LCO, LGPS, steel) for its overlap and a
    random tangential force up to ``tangential_fraction`` × fn. The files follow the
    contract exactly (``spec.yaml``, ``materials.json``, ``structure.data``,
    ``dumps/<stage>.{atoms,contacts}.dump``, ``.cell.json``, ``.series.txt``); the
    packing is *not* in mechanical equilibrium, so the wall balance does not hold.

    Parameters
    ----------
    case_dir : str or Path
        Folder to create.
    seed : int
        Seed of the AM placement and the tangential forces.
    width_um, height_um : float
        Cell (µm); walls at 0 and at width/height.
    am_area_fraction : float
        Target AM area fraction of the cell.
    am_diameter_um : (mean, SD)
        AM diameter distribution (µm).
    se_diameter_um : float
        SE diameter (µm).
    squeeze_um : float
        Overlap of neighbouring SE and of SE on AM and walls (µm).
    stages : tuple of str
        Stage names; each gets the same final state (steps 1000, 2000, ...). Names
        ``settle``, ``press``, ``hold``, ``release`` get that kind in ``spec.yaml``.
    tangential_fraction : float
        Largest |ft| / fn.

    Returns
    -------
    Path
        The case folder.
    """
    case_dir = Path(case_dir)
    rng = np.random.default_rng(seed)
    w, h = float(width_um), float(height_um)
    am_pos, am_rad, am_area = _place_am(rng, w, h, am_area_fraction, am_diameter_um)
    se_pos = _place_se(w, h, se_diameter_um, squeeze_um, am_pos, am_rad)
    pos = np.vstack([am_pos, se_pos])
    rad = np.concatenate([am_rad, np.full(len(se_pos), 0.5 * se_diameter_um)])
    typ = np.concatenate([np.ones(len(am_pos), dtype=np.int64),
                          np.full(len(se_pos), 2, dtype=np.int64)])
    spec = _case_spec(case_dir, seed, w, h, am_area, am_diameter_um, se_diameter_um, stages)
    by_role = case_cards(spec)
    card_of = [by_role["am"], by_role["se"]]
    contacts = _pair_contacts(rng, pos, rad, typ, len(am_pos), 0.5 * se_diameter_um, card_of,
                              tangential_fraction)
    wall_f = _wall_forces(pos, rad, typ, w, h, card_of, by_role["wall"])
    rho = np.where(typ == 1, by_role["am"].rho, by_role["se"].rho)
    atoms = _atom_columns(pos, rad, typ, rho, wall_f)
    states = _stage_states(stages, spec, w, h, atoms, contacts, wall_f)
    write_case_files(case_dir, states, spec=spec, cards=by_role,
                     structure=(atoms["id"], typ, 2 * rad, rho, pos))
    logger.info("synthetic case: %d AM + %d SE, %d contacts in %s", len(am_pos), len(se_pos),
                len(contacts["fn"]), case_dir)
    return case_dir


def _structure_data(structure: tuple) -> str:
    """A LAMMPS data file (atom_style sphere) of ``(ids, types, diameters, densities, xyz)``."""
    sids, styp, sdia, srho, spos = structure
    spos = np.asarray(spos, dtype=float)
    lo, hi = spos.min(axis=0) - 1.0, spos.max(axis=0) + 1.0
    lines = ["assb_lmp factory: hand-built case", "", f"{len(sids)} atoms",
             "2 atom types", "", f"{lo[0]!r} {hi[0]!r} xlo xhi",
             f"{lo[1]!r} {hi[1]!r} ylo yhi", "-0.5 0.5 zlo zhi", "", "Atoms # sphere", ""]
    lines += [f"{i} {t} {float(d)!r} {float(r)!r} {float(p[0])!r} {float(p[1])!r} "
              f"{float(p[2]) if len(p) > 2 else 0.0!r}"
              for i, t, d, r, p in zip(sids, styp, sdia, srho, spos, strict=True)]
    return "\n".join(lines) + "\n"


def _write_stage(case_dir: Path, stage: str, st: dict) -> None:
    """The dumps, ``cell.json`` and (when given) ``series.txt`` of one stage."""
    paths = dumps.stage_paths(case_dir, stage)
    cell = dict(st["cell"])
    box = st.get("box", ((cell["xlo_um"], cell["xhi_um"]), (cell["ylo_um"], cell["yhi_um"]),
                         (cell["zlo_um"], cell["zhi_um"])))
    boundary = st.get("boundary", ("ff", "ff", "pp"))
    step = int(cell["step"])
    dumps.write_dump(paths["atoms"], [dumps.format_frame(
        list(st["atoms"]), st["atoms"], timestep=step, box=box, boundary=boundary)])
    dumps.write_dump(paths["contacts"], [dumps.format_frame(
        list(st["contacts"]), st["contacts"], timestep=step, box=box, boundary=boundary,
        kind="entries")])
    atomic_write_text(paths["cell"], json.dumps(cell) + "\n")
    if st.get("series") is not None:
        atomic_write_text(paths["series"], dumps.format_series(st["series"]))


def write_case_files(
    case_dir: str | Path,
    states: dict[str, dict],
    *,
    spec: CaseSpec | None = None,
    cards: dict[str, Material] | None = None,
    structure: tuple | None = None,
) -> Path:
    """Write hand-built stage states as a case folder in the contract of ARCHITECTURE.md.

    Parameters
    ----------
    case_dir : str or Path
        Folder to create.
    states : dict
        Stage name (in run order) → ``{"atoms": columns, "contacts": columns, "cell":
        cell.json mapping, "series": columns (optional), "box": (3, 2) bounds (optional),
        "boundary": flags (optional)}``. Atom columns are written in the given order
        (``id type radius mass x y z ...`` and ``wall_<w>_f{x,y,z}``), contact columns
        ``id1 id2 dist fn ftx fty ftz dx dy dz``; the timestep is ``cell["step"]``.
    spec : CaseSpec, optional
        Written as ``spec.yaml`` when given.
    cards : dict, optional
        Cards by role (``am``, ``se``, ``wall``) for ``materials.json``; default the
        built-in LCO, LGPS and steel cards.
    structure : tuple, optional
        ``(ids, types, diameters, densities, positions)`` written as ``structure.data``.

    Returns
    -------
    Path
        The case folder.
    """
    case_dir = Path(case_dir)
    (case_dir / "dumps").mkdir(parents=True, exist_ok=True)
    by_role = cards if cards is not None else {
        "am": get_card("LCO"), "se": get_card("LGPS"), "wall": get_card("steel")}
    atomic_write_json(case_dir / "materials.json",
                      {k: c.model_dump(mode="json") for k, c in by_role.items()})
    if spec is not None:
        atomic_write_text(case_dir / "spec.yaml", dump_case(spec))
    if structure is not None:
        atomic_write_text(case_dir / "structure.data", _structure_data(structure))
    for stage, st in states.items():
        _write_stage(case_dir, stage, st)
    return case_dir
