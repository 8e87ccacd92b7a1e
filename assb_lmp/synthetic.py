"""Small seeded systems for tests and docs.

:func:`make_synthetic_dataset` writes a dataset folder that follows the contract of
``ARCHITECTURE.md`` (``manifest.csv`` + ``arrays.npz`` + images) without running any DEM:
random discs of two phases drawn into square images, with labels that are real functions
of the image (phase fractions, AM-SE interface length, contact counts) plus noisy "stress"
targets. It exists to exercise the CNN stage quickly; its numbers are not physics.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from assb_lmp.spec.targets import TARGETS

logger = logging.getLogger(__name__)

#: Gray levels of the dataset images.
VOID, AM, SE = 0, 128, 255
#: Physical side of the image window (µm): the 40 µm cell less 2 µm on each side.
WINDOW_UM = 36.0


def _paint_disc(img: np.ndarray, cx: float, cy: float, r: float, value: int,
                only_on: int | None = None) -> int:
    """Paint a disc into ``img`` (in place); return the number of pixels painted."""
    h, w = img.shape
    x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, w)
    y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, h)
    if x0 >= x1 or y0 >= y1:
        return 0
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r
    sub = img[y0:y1, x0:x1]
    if only_on is not None:
        inside &= sub == only_on
    sub[inside] = value
    return int(inside.sum())


def _neighbours(mask: np.ndarray) -> np.ndarray:
    """Pixels with at least one 4-neighbour in ``mask`` (no wrap-around)."""
    out = np.zeros_like(mask)
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _synthetic_case(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict, dict]:
    """Draw one synthetic image; return (image, labels, particles-by-phase)."""
    img = np.zeros((size, size), dtype=np.uint8)
    scale = size / 224.0
    am_target = rng.uniform(0.25, 0.60)
    am_discs: list[tuple[float, float, float]] = []
    tries, am_px = 0, 0
    while am_px < am_target * size * size and tries < 2000:
        tries += 1
        r = rng.uniform(12.0, 28.0) * scale
        cx, cy = rng.uniform(0, size, 2)
        if any((cx - x) ** 2 + (cy - y) ** 2 < (r + q) ** 2 for x, y, q in am_discs):
            continue
        am_px += _paint_disc(img, cx, cy, r, AM)
        am_discs.append((cx, cy, r))
    se_fill = rng.uniform(0.3, 0.95)
    r_se = rng.uniform(2.5, 4.5) * scale
    void_area = float((img == VOID).sum())
    n_se = int(se_fill * void_area / (np.pi * r_se * r_se))
    se_discs: list[tuple[float, float, float]] = []
    for cx, cy in rng.uniform(0, size, (n_se, 2)):
        if _paint_disc(img, cx, cy, r_se, SE, only_on=VOID):
            se_discs.append((cx, cy, r_se))

    px_um = WINDOW_UM / size
    am, se, void = img == AM, img == SE, img == VOID
    am_se_px = int((am & _neighbours(se)).sum())
    am_edge_px = int((am & _neighbours(~am)).sum())
    # SE discs touching AM: an SE disc whose rim (r + 1 px) reaches an AM disc.
    touching = 0
    if se_discs and am_discs:
        s_arr, a_arr = np.asarray(se_discs), np.asarray(am_discs)
        d2 = ((s_arr[:, None, :2] - a_arr[None, :, :2]) ** 2).sum(-1)
        reach = (s_arr[:, None, 2] + a_arr[None, :, 2] + 1.0) ** 2
        touching = int((d2 <= reach).any(axis=1).sum())
    porosity = float(void.mean())
    am_frac = float(am.mean())
    coverage = am_se_px / am_edge_px if am_edge_px else 0.0
    solid = 1.0 - porosity
    am_mean = 20.0 + 400.0 * solid**4 * (1.0 + 0.5 * coverage) + rng.normal(0.0, 5.0)
    se_mean = 10.0 + 150.0 * solid**3 + 40.0 * am_frac + rng.normal(0.0, 3.0)
    labels = {
        "am_stress_mean_mpa": am_mean,
        "am_stress_sd_mpa": 0.3 * am_mean + rng.normal(0.0, 3.0),
        "se_stress_mean_mpa": se_mean,
        "se_stress_sd_mpa": 0.4 * se_mean + rng.normal(0.0, 2.0),
        "reaction_area_um2": am_se_px * px_um * 0.5,
        "se_coverage": coverage,
        "porosity": porosity,
        "am_area_fraction": am_frac,
        "am_se_contacts_per_am": touching / max(len(am_discs), 1),
    }
    labels = {k: float(v) for k, v in labels.items()}
    particles = {
        "AM": [(x * px_um, y * px_um, r * px_um) for x, y, r in am_discs],
        "SE": [(x * px_um, y * px_um, r * px_um) for x, y, r in se_discs],
    }
    return img, labels, particles


def make_synthetic_dataset(
    out_dir: str | Path,
    n: int,
    seed: int,
    *,
    size: int = 224,
    split: tuple[float, float, float] = (0.64, 0.16, 0.20),
    write_cases: bool = False,
) -> Path:
    """Write a synthetic dataset folder (``manifest.csv``, ``arrays.npz``, ``images/``).

    Each image holds random AM discs (gray 128) and small SE discs (white 255) on void
    (black 0). Labels, in the order of :data:`assb_lmp.spec.targets.TARGETS`, are functions of
    the drawn image: ``porosity`` and ``am_area_fraction`` are pixel fractions,
    ``reaction_area_um2`` and ``se_coverage`` come from the AM-SE interface length,
    ``am_se_contacts_per_am`` counts SE discs touching AM discs; the four stress targets
    are smooth functions of those plus Gaussian noise.

    Parameters
    ----------
    out_dir : str or Path
        Dataset folder to create (parents too).
    n : int
        Number of images (at least 1).
    seed : int
        Seed; the same seed gives the same dataset, byte for byte in ``arrays.npz``.
    size : int, optional
        Image side in pixels (the contract says 224; smaller sizes are for quick tests).
    split : tuple of float, optional
        Fractions of train, validation and test images (the paper's 320/80/100 of 500).
    write_cases : bool, optional
        Also write ``out_dir/../<case_id>/particles.csv`` (columns ``id, phase, x_um,
        y_um, radius_um, stress_mpa``), with per-particle stresses drawn from normal
        distributions of the labelled mean and SD, as a sweep folder would hold.

    Returns
    -------
    Path
        The dataset folder.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if len(split) != 3 or min(split) < 0 or sum(split) <= 0:
        raise ValueError(f"split must be three non-negative fractions, got {split}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    fr = np.asarray(split, dtype=float) / float(sum(split))
    n_train = int(round(fr[0] * n))
    n_val = min(int(round(fr[1] * n)), n - n_train)
    order = np.random.default_rng(seed).permutation(n)
    splits = np.empty(n, dtype="<U5")
    splits[order[:n_train]] = "train"
    splits[order[n_train:n_train + n_val]] = "val"
    splits[order[n_train + n_val:]] = "test"

    from PIL import Image

    images = np.zeros((n, size, size), dtype=np.uint8)
    labels = np.zeros((n, len(TARGETS)), dtype=np.float64)
    case_ids = np.array([f"syn{i:04d}" for i in range(n)])
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, lab, parts = _synthetic_case(rng, size)
        images[i] = img
        labels[i] = [lab[t] for t in TARGETS]
        rel = f"images/{case_ids[i]}.png"
        Image.fromarray(img).save(out / rel)
        rows.append([case_ids[i], rel, splits[i], *(f"{lab[t]:.8g}" for t in TARGETS), seed])
        if write_cases:
            case_dir = out.parent / str(case_ids[i])
            case_dir.mkdir(parents=True, exist_ok=True)
            with open(case_dir / "particles.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["id", "phase", "x_um", "y_um", "radius_um", "stress_mpa"])
                pid = 0
                for phase, key in (("AM", "am"), ("SE", "se")):
                    mu, sd = lab[f"{key}_stress_mean_mpa"], abs(lab[f"{key}_stress_sd_mpa"])
                    stress = rng.normal(mu, sd, len(parts[phase]))
                    for (x, y, r), s in zip(parts[phase], stress, strict=True):
                        pid += 1
                        w.writerow([pid, phase, f"{x:.4f}", f"{y:.4f}", f"{r:.4f}", f"{s:.4f}"])
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "image", "split", *TARGETS, "seed"])
        w.writerows(rows)
    np.savez_compressed(
        out / "arrays.npz",
        images=images,
        labels=labels,
        targets=np.array(TARGETS),
        case_ids=case_ids,
        split=splits,
    )
    logger.info("synthetic dataset: %d images (%d train, %d val, %d test) in %s",
                n, n_train, n_val, n - n_train - n_val, out)
    return out


# ------------------------------------------------------------------ synthetic case folder
# (mechanics/imaging tests and docs: a case folder in the contract of ARCHITECTURE.md,
# written without LAMMPS)
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
    from scipy.spatial import cKDTree

    from assb_lmp.core.units import KPA_PER_GPA as _KPA_PER_GPA
    from assb_lmp.materials import cards as _materials
    from assb_lmp.materials import physics as _physics
    from assb_lmp.materials.resolve import case_cards as _case_cards
    from assb_lmp.spec import case as _config

    case_dir = Path(case_dir)
    rng = np.random.default_rng(seed)
    w, h = float(width_um), float(height_um)
    # ---- AM by random sequential addition
    mean_d, sd_d = am_diameter_um
    am_xy: list[tuple[float, float]] = []
    am_r: list[float] = []
    area, target = 0.0, am_area_fraction * w * h
    for _ in range(20000):
        if area >= target:
            break
        r = 0.5 * max(2.0, rng.normal(mean_d, sd_d))
        if 2 * r >= min(w, h):
            continue
        x, y = rng.uniform(r, w - r), rng.uniform(r, h - r)
        if any((x - a) ** 2 + (y - b) ** 2 < (r + q) ** 2 for (a, b), q in zip(am_xy, am_r,
                                                                              strict=True)):
            continue
        am_xy.append((x, y))
        am_r.append(r)
        area += np.pi * r * r
    am_pos = np.array(am_xy, dtype=float).reshape(-1, 2)
    am_rad = np.array(am_r, dtype=float)
    # ---- SE on a square lattice
    rs = 0.5 * se_diameter_um
    pitch = se_diameter_um - squeeze_um
    start = rs - 0.5 * squeeze_um
    gx = start + pitch * np.arange(int((w - start + 0.5 * squeeze_um - rs) // pitch) + 1)
    gy = start + pitch * np.arange(int((h - start + 0.5 * squeeze_um - rs) // pitch) + 1)
    sites = np.array([(x, y) for y in gy for x in gx], dtype=float).reshape(-1, 2)
    keep = np.ones(len(sites), dtype=bool)
    for (a, b), q in zip(am_pos, am_rad, strict=True):
        keep &= (sites[:, 0] - a) ** 2 + (sites[:, 1] - b) ** 2 >= (q + rs - squeeze_um) ** 2
    se_pos = sites[keep]
    pos = np.vstack([am_pos, se_pos])
    rad = np.concatenate([am_rad, np.full(len(se_pos), rs)])
    typ = np.concatenate([np.ones(len(am_pos), dtype=np.int64),
                          np.full(len(se_pos), 2, dtype=np.int64)])
    n = len(pos)
    ids = np.arange(1, n + 1)
    # ---- spec, cards
    kinds = {"settle": {"kind": "settle"}, "hold": {"kind": "hold"},
             "release": {"kind": "release", "pressure_mpa": 25.0},
             "press": {"kind": "press", "mode": "width", "final_width_um": w}}
    stage_list = [{**kinds.get(s, {"kind": "hold"}), "name": s} for s in stages]
    spec_data = {
        "name": case_dir.name if _safe_name(case_dir.name) else "synthetic",
        "seed": int(seed),
        "geometry": {"width_um": round(1.15 * w, 6), "height_um": h},
        "packing": {"am_area_fraction": min(max(area / (w * h), 0.01), 0.8),
                    "am_diameter_mean_um": float(mean_d), "am_diameter_sd_um": float(sd_d),
                    "se_diameter_um": float(se_diameter_um)},
        "stages": stage_list,
    }
    spec = _config.CaseSpec.model_validate(spec_data)
    cards = _case_cards(spec)
    depth = spec.depth_um

    def estar(a: _materials.Material, b: _materials.Material) -> float:
        return _physics.effective_modulus_gpa(a, b) * _KPA_PER_GPA

    card_of = [cards["am"], cards["se"]]
    # ---- pair contacts: SE-SE by a tree, AM-anything brute force
    n_am = len(am_pos)
    cand = [np.array(sorted(cKDTree(se_pos).query_pairs(2 * rs)), dtype=np.int64)
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
    es = np.array([estar(card_of[typ[a] - 1], card_of[typ[b] - 1])
                   for a, b in zip(pi_, pj_, strict=True)])
    fn = 4.0 / 3.0 * es * np.sqrt(rstar) * delta**1.5
    nvec = d2 / dist[:, None]
    tvec = np.column_stack([-nvec[:, 1], nvec[:, 0], np.zeros(len(pi_))])
    ft = (rng.uniform(-1, 1, len(pi_)) * tangential_fraction * fn)[:, None] * tvec
    # ---- wall contacts
    wall_f = {}
    for wall, (ax, sign, plane) in {"xlo": (0, 1.0, 0.0), "xhi": (0, -1.0, w),
                                    "ylo": (1, 1.0, 0.0), "yhi": (1, -1.0, h)}.items():
        dw = rad - sign * (pos[:, ax] - plane)
        f = np.zeros((n, 3))
        hit = dw > 0
        ew = np.array([estar(card_of[t - 1], cards["wall"]) for t in typ[hit]])
        f[hit, ax] = sign * 4.0 / 3.0 * ew * np.sqrt(rad[hit]) * dw[hit] ** 1.5
        wall_f[wall] = f
    # ---- files
    box = ((-1.0, w + 1.0), (-1.0, h + 1.0), (-0.5 * depth, 0.5 * depth))
    zeros = np.zeros(n)
    rho = np.where(typ == 1, cards["am"].rho, cards["se"].rho)
    atoms = {"id": ids, "type": typ, "radius": rad, "mass": rho * 4 / 3 * np.pi * rad**3,
             "x": pos[:, 0], "y": pos[:, 1], "z": zeros, "vx": zeros, "vy": zeros,
             "vz": zeros, "omegax": zeros, "omegay": zeros, "omegaz": zeros}
    for wall, f in wall_f.items():
        for c, comp in enumerate("xyz"):
            atoms[f"wall_{wall}_f{comp}"] = f[:, c]
    contacts = {"id1": ids[pi_], "id2": ids[pj_], "dist": dist, "fn": fn,
                "ftx": ft[:, 0], "fty": ft[:, 1], "ftz": ft[:, 2],
                "dx": d2[:, 0], "dy": d2[:, 1], "dz": d2[:, 2]}
    p = {"xlo": wall_f["xlo"][:, 0].sum() / (h * depth),
         "xhi": -wall_f["xhi"][:, 0].sum() / (h * depth),
         "ylo": wall_f["ylo"][:, 1].sum() / (w * depth),
         "yhi": -wall_f["yhi"][:, 1].sum() / (w * depth)}
    states = {}
    for k, stage in enumerate(stages):
        step = 1000 * (k + 1)
        cell = {"stage": stage, "step": step, "time_us": step * 1e-4,
                "xlo_um": 0.0, "xhi_um": w, "ylo_um": 0.0, "yhi_um": h,
                "zlo_um": -0.5 * depth, "zhi_um": 0.5 * depth,
                **{f"p_{k2}_mpa": float(v) / 1000.0 for k2, v in p.items()},
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
    write_case_files(case_dir, states, spec=spec, cards=cards,
                     structure=(ids, typ, 2 * rad, rho, pos))
    logger.info("synthetic case: %d AM + %d SE, %d contacts in %s", len(am_pos), len(se_pos),
                len(pi_), case_dir)
    return case_dir


def _safe_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", name) is not None


def write_case_files(
    case_dir: str | Path,
    states: dict[str, dict],
    *,
    spec=None,
    cards: dict | None = None,
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
    import json as _json

    from assb_lmp.analysis import dumps as _dumps
    from assb_lmp.materials import cards as _materials
    from assb_lmp.spec import case as _config

    case_dir = Path(case_dir)
    (case_dir / "dumps").mkdir(parents=True, exist_ok=True)
    if cards is None:
        cards = {"am": _materials.get("LCO"), "se": _materials.get("LGPS"),
                 "wall": _materials.get("steel")}
    (case_dir / "materials.json").write_text(
        _json.dumps({k: c.model_dump(mode="json") for k, c in cards.items()}, indent=2) + "\n")
    if spec is not None:
        (case_dir / "spec.yaml").write_text(_config.dump_case(spec))
    if structure is not None:
        sids, styp, sdia, srho, spos = structure
        spos = np.asarray(spos, dtype=float)
        lo, hi = spos.min(axis=0) - 1.0, spos.max(axis=0) + 1.0
        lines = ["assb_lmp factory: hand-built case", "", f"{len(sids)} atoms",
                 "2 atom types", "", f"{lo[0]!r} {hi[0]!r} xlo xhi",
                 f"{lo[1]!r} {hi[1]!r} ylo yhi", "-0.5 0.5 zlo zhi", "", "Atoms # sphere", ""]
        lines += [f"{i} {t} {float(d)!r} {float(r)!r} {float(p[0])!r} {float(p[1])!r} "
                  f"{float(p[2]) if len(p) > 2 else 0.0!r}"
                  for i, t, d, r, p in zip(sids, styp, sdia, srho, spos, strict=True)]
        (case_dir / "structure.data").write_text("\n".join(lines) + "\n")
    for stage, st in states.items():
        paths = _dumps.stage_paths(case_dir, stage)
        cell = dict(st["cell"])
        box = st.get("box", ((cell["xlo_um"], cell["xhi_um"]), (cell["ylo_um"], cell["yhi_um"]),
                             (cell["zlo_um"], cell["zhi_um"])))
        boundary = st.get("boundary", ("ff", "ff", "pp"))
        step = int(cell["step"])
        _dumps.write_dump(paths["atoms"], [_dumps.format_frame(
            list(st["atoms"]), st["atoms"], timestep=step, box=box, boundary=boundary)])
        _dumps.write_dump(paths["contacts"], [_dumps.format_frame(
            list(st["contacts"]), st["contacts"], timestep=step, box=box, boundary=boundary,
            kind="entries")])
        paths["cell"].write_text(_json.dumps(cell) + "\n")
        if st.get("series") is not None:
            paths["series"].write_text(_dumps.format_series(st["series"]))
    return case_dir
