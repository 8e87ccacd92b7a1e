"""Dataset export: a sweep folder's finished cases as ``manifest.csv`` + ``arrays.npz``.

``export(DIR)`` writes ``DIR/dataset/`` (ARCHITECTURE.md, "Dataset"):

* ``manifest.csv``: ``case_id, image, split, <9 targets>, steps, lammps_s, peak_rss_mib,
  inside_contact_law, <sweep parameters>, structure, seed`` (the four per-case columns of
  :func:`assb_lmp.sweep.store.case_metrics`, empty where a case does not record them);
  ``image`` is relative to the dataset folder (``images/<case_id>.png``, a copy of the
  case's ``image.png``);
* ``arrays.npz``: ``images`` uint8 (N, 224, 224), ``labels`` float64 (N, 9), ``targets``,
  ``case_ids``, ``split`` and, beyond the contract, ``seeds``, ``structures``,
  ``param_names`` and ``params`` float64 (N, P; NaN where a value is not a number).

Rows follow the sweep's case order (``DIR/cases.json``). The split is by structure seed,
so cases that share a seed (one structure) always share a split: the seeds are put in an
order fixed by a hash of (split seed, structure seed), and the train / validation / test
fractions are filled along that order (500 cases with their own seeds and 0.64 / 0.16 /
0.20 give exactly 320 / 80 / 100). A case keeps its place in that order whatever other
cases exist, so a split moves only at the boundaries when cases are added or fail.

The dataset is written to a temporary folder and swapped into place, so a reader never
sees a half-written dataset.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError, SpecError
from assb_lmp.spec.targets import TARGETS, r2_score
from assb_lmp.sweep.store import METRIC_COLUMNS, case_metrics

log = logging.getLogger(__name__)

DATASET_DIR = "dataset"
SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.64, 0.16, 0.20)
IMAGE_PX = 224


def _order_key(split_seed: int, seed: int) -> str:
    return hashlib.sha256(f"assb_lmp-split:{int(split_seed)}:{int(seed)}".encode()).hexdigest()


def assign_split(seeds: Sequence[int], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 split_seed: int = 0) -> list[str]:
    """Train / validation / test split by structure seed.

    Parameters
    ----------
    seeds : sequence of int
        The structure seed of each case; cases with equal seeds get the same split.
    fractions : (float, float, float)
        Fractions of train, val, test (normalised).
    split_seed : int
        Seed of the order in which structure seeds fill the splits.

    Returns
    -------
    list of str
        ``train``, ``val`` or ``test`` for each case.

    Raises
    ------
    SpecError
        On bad fractions.
    """
    fr = np.asarray(list(fractions), dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not math.isfinite(fr.sum()) or fr.sum() <= 0:
        raise SpecError(f"split fractions must be three non-negative numbers with a positive "
                        f"sum, got {list(fractions)}")
    fr = fr / fr.sum()
    n = len(seeds)
    if n == 0:
        return []
    n_test = int(round(fr[2] * n))
    n_val = int(round(fr[1] * n))
    n_val = min(n_val, n - n_test)
    bounds = (n - n_val - n_test, n - n_test)
    counts: dict[int, int] = {}
    for s in seeds:
        counts[int(s)] = counts.get(int(s), 0) + 1
    order = sorted(counts, key=lambda s: (_order_key(split_seed, s), s))
    which: dict[int, str] = {}
    filled = 0
    for s in order:
        mid = filled + 0.5 * counts[s]
        which[s] = "train" if mid < bounds[0] else "val" if mid < bounds[1] else "test"
        filled += counts[s]
    return [which[int(s)] for s in seeds]


@dataclass
class _Row:
    case_id: str
    image: np.ndarray
    image_src: Path
    labels: list[float]
    params: dict[str, Any]
    structure: int | None
    seed: int


def _read_labels(path: Path) -> list[float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AnalysisError(f"{path}: cannot read labels: {exc}") from None
    missing = [t for t in TARGETS if t not in data]
    if missing:
        raise AnalysisError(f"{path}: labels {missing} are missing")
    out = []
    for t in TARGETS:
        v = data[t]
        out.append(float("nan") if v is None else float(v))
    return out


def _read_image(path: Path) -> np.ndarray:
    from assb_lmp.analysis import imaging

    try:
        img = np.asarray(imaging.load_png(path))
    except AnalysisError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
        raise AnalysisError(f"{path}: cannot read the image: {exc}") from None
    if img.ndim != 2 or img.dtype != np.uint8:
        raise AnalysisError(f"{path}: expected an 8-bit gray image, got {img.dtype} {img.shape}")
    return img


def _case_entries(sweep_dir: Path) -> tuple[list[dict], list[str], dict]:
    """Case entries (id, seed, structure, params), parameter names and split settings."""
    cases_file = sweep_dir / "cases.json"
    if cases_file.is_file():
        try:
            info = json.loads(cases_file.read_text())
        except ValueError as exc:
            raise AnalysisError(f"{cases_file}: not valid JSON: {exc}") from None
        names = list(info.get("axes", {}))
        return info["cases"], names, info.get("split", {})
    # a folder of cases run by hand: every subfolder with a summary
    entries = []
    for sub in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        summ = sub / "summary.json"
        if not summ.is_file():
            continue
        try:
            seed = int(json.loads(summ.read_text()).get("seed", 0))
        except (OSError, ValueError):
            seed = 0
        entries.append({"id": sub.name, "seed": seed, "structure": None, "params": {}})
    if not entries:
        raise AnalysisError(f"{sweep_dir}: neither a sweep folder (cases.json) nor a folder of "
                            "finished cases")
    return entries, [], {}


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def export(sweep_dir: str | Path, out: str | Path | None = None, *,
           fractions: Sequence[float] | None = None, split_seed: int | None = None) -> dict:
    """Collect a sweep folder's finished, labelled cases into a dataset folder.

    Parameters
    ----------
    sweep_dir : path
        The sweep folder (``cases.json`` and case folders), or a folder of finished cases.
    out : path, optional
        Dataset folder (default ``DIR/dataset``); replaced as a whole.
    fractions : (train, val, test), optional
        Split fractions (default: the sweep's, else 0.64 / 0.16 / 0.20).
    split_seed : int, optional
        Seed of the split order (default: the sweep's, else 0).

    Returns
    -------
    dict
        ``path``, ``n`` and ``split`` counts, ``skipped`` (case id → why), ``pending`` count.

    Raises
    ------
    AnalysisError
        When no case can be exported, or a case's files are unreadable.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AnalysisError(f"{sweep_dir}: no such folder")
    out = Path(out) if out is not None else sweep_dir / DATASET_DIR
    entries, names, split_cfg = _case_entries(sweep_dir)
    fr = tuple(fractions) if fractions is not None else tuple(
        split_cfg.get(k, d) for k, d in zip(SPLITS, DEFAULT_FRACTIONS, strict=True))
    sseed = int(split_seed if split_seed is not None else split_cfg.get("seed", 0))
    rows: list[_Row] = []
    skipped: dict[str, str] = {}
    pending = 0
    for e in entries:
        cid = e["id"]
        case = sweep_dir / cid
        if not (case / "summary.json").is_file():
            pending += 1
            continue
        lab, img = case / "labels.json", case / "image.png"
        if not lab.is_file() or not img.is_file():
            skipped[cid] = "no labels.json / image.png (run with analysis off?)"
            continue
        rows.append(_Row(cid, _read_image(img), img, _read_labels(lab),
                         dict(e.get("params", {})), e.get("structure"), int(e["seed"])))
    if not rows:
        raise AnalysisError(f"{sweep_dir}: no finished case with labels and image to export"
                            + (f" ({pending} pending)" if pending else ""))
    shapes = {r.image.shape for r in rows}
    if len(shapes) != 1:
        raise AnalysisError(f"{sweep_dir}: images of different sizes {sorted(shapes)}")
    if rows[0].image.shape != (IMAGE_PX, IMAGE_PX):
        log.warning("dataset images are %s, not the contract's %d × %d", rows[0].image.shape,
                    IMAGE_PX, IMAGE_PX)
    bad = [r.case_id for r in rows if not np.isfinite(r.labels).all()]
    if bad:
        log.warning("%d case(s) have labels that are not finite (kept; training drops them): "
                    "%s", len(bad), bad[:5])
    split = assign_split([r.seed for r in rows], fr, sseed)

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "images").mkdir(parents=True)
    try:
        header = ["case_id", "image", "split", *TARGETS, *METRIC_COLUMNS, *names, "structure",
                  "seed"]
        with open(tmp / "manifest.csv", "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            for r, sp in zip(rows, split, strict=True):
                rel = f"images/{r.case_id}.png"
                shutil.copyfile(r.image_src, tmp / rel)
                metrics = case_metrics(sweep_dir / r.case_id)
                w.writerow([r.case_id, rel, sp, *(_fmt(v) for v in r.labels),
                            *(_fmt(metrics[k]) for k in METRIC_COLUMNS),
                            *(_fmt(r.params.get(k)) for k in names), _fmt(r.structure), r.seed])
        params = np.full((len(rows), len(names)), np.nan)
        for i, r in enumerate(rows):
            for j, k in enumerate(names):
                v = r.params.get(k)
                if isinstance(v, int | float) and not isinstance(v, bool):
                    params[i, j] = float(v)
        np.savez_compressed(
            tmp / "arrays.npz",
            images=np.stack([r.image for r in rows]).astype(np.uint8),
            labels=np.array([r.labels for r in rows], dtype=np.float64),
            targets=np.array(TARGETS),
            case_ids=np.array([r.case_id for r in rows]),
            split=np.array(split),
            seeds=np.array([r.seed for r in rows], dtype=np.int64),
            structures=np.array([-1 if r.structure is None else r.structure for r in rows],
                                dtype=np.int64),
            param_names=np.array(names, dtype=str),
            params=params,
        )
        info = {"sweep_dir": str(sweep_dir), "n": len(rows),
                "split": {s: split.count(s) for s in SPLITS},
                "fractions": list(fr), "split_seed": sseed, "parameters": names,
                "skipped": skipped, "pending": pending, "targets": list(TARGETS)}
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
        old = out.with_name(f".{out.name}.{os.getpid()}.old")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info["path"] = str(out)
    log.info("dataset: %d cases (%s) in %s", len(rows),
             ", ".join(f"{k} {v}" for k, v in info["split"].items()), out)
    return info


# ------------------------------------------------------------- how learnable are the labels


def _load_arrays(dataset_dir: str | Path) -> dict[str, np.ndarray]:
    npz = Path(dataset_dir) / "arrays.npz"
    if not npz.is_file():
        raise AnalysisError(f"{dataset_dir} is not a dataset folder: arrays.npz is missing")
    with np.load(npz, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _group_means(y: np.ndarray, g: np.ndarray, sel: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``y`` over the selected rows of each group ``0..n-1`` (NaN for none)."""
    sums = np.bincount(g[sel], weights=y[sel], minlength=n)
    counts = np.bincount(g[sel], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def protocol_r2(dataset_dir: str | Path) -> dict[str, dict[str, float | None]]:
    """How much of each target the sweep parameters alone fix.

    For every target: ``protocol_r2``, the test R² of predicting each test case by the mean
    of the train and validation cases at the same sweep point (same values of every sweep
    axis, e.g. AM fraction and width); and ``between_share``, the share of the variance over
    all cases that lies between sweep points (1 − pooled within-point variance / total
    variance). What the parameters leave, ``1 − between_share``, is set by the random
    structure (and by the engine's chaos), and an image-based model must read it from the
    image.

    Parameters
    ----------
    dataset_dir : path
        A dataset folder written by :func:`export` (needs ``params``).

    Returns
    -------
    dict
        target → {"protocol_r2", "between_share", "points", "test_rows"}.

    Raises
    ------
    AnalysisError
        No sweep parameters in the dataset.
    """
    a = _load_arrays(dataset_dir)
    params = a.get("params")
    if params is None or params.size == 0 or params.shape[1] == 0:
        raise AnalysisError(f"{dataset_dir}: the dataset has no sweep parameters")
    labels = np.asarray(a["labels"], dtype=float)
    split = a["split"].astype(str)
    # NaN (a value that is not a number) is one value of its own axis, not many
    keys = [tuple(np.round(np.nan_to_num(row, nan=-1e300), 9)) for row in params]
    points = sorted(set(keys))
    index = {k: i for i, k in enumerate(points)}
    g = np.array([index[k] for k in keys])
    fit = split != "test"
    te = np.flatnonzero(split == "test")
    out: dict[str, dict[str, float | None]] = {}
    for j, t in enumerate(a["targets"].astype(str)):
        y = labels[:, j]
        ok = np.isfinite(y)
        fit_means = _group_means(y, g, ok & fit, len(points))
        all_means = _group_means(y, g, ok, len(points))
        resid = y[ok] - all_means[g[ok]]
        total = float(np.var(y[ok])) if ok.sum() > 1 else 0.0
        between = 1.0 - float(np.mean(resid ** 2)) / total if total > 0 else np.nan
        te_ok = te[ok[te] & np.isfinite(fit_means[g[te]])]
        r2 = r2_score(y[te_ok], fit_means[g[te_ok]])[0] if len(te_ok) > 1 else np.nan
        out[str(t)] = {"protocol_r2": None if np.isnan(r2) else float(r2),
                       "between_share": None if np.isnan(between) else float(between),
                       "points": len(points), "test_rows": int(len(te_ok))}
    return out


def compare(dataset_a: str | Path, dataset_b: str | Path) -> dict[str, Any]:
    """Reproducibility of the labels: the same structures run twice with a small change.

    Run the same cases (same ids, hence the same structures) twice, changing only something
    that should not matter, e.g. a 3 % smaller time step; the agreement of the two label
    sets bounds what any model of the image can reach, since the two runs give (nearly)
    the same image.

    Parameters
    ----------
    dataset_a, dataset_b : path
        Dataset folders; rows are matched by case id.

    Returns
    -------
    dict
        ``n`` matched cases, ``image_diff`` (mean fraction of pixels that differ between
        the two images of a case; None for images of different sizes) and, per target
        under ``targets``, ``r2`` (of b as a prediction of a, over the matched cases) and
        ``median_rel_diff`` (median of |b − a| / |a|).

    Raises
    ------
    AnalysisError
        Fewer than three shared case ids.
    """
    a, b = _load_arrays(dataset_a), _load_arrays(dataset_b)
    ids_a = list(a["case_ids"].astype(str))
    ids_b = {c: i for i, c in enumerate(b["case_ids"].astype(str))}
    shared = [(i, ids_b[c]) for i, c in enumerate(ids_a) if c in ids_b]
    if len(shared) < 3:
        raise AnalysisError(f"{dataset_a} and {dataset_b} share {len(shared)} case ids "
                            "(need at least 3)")
    ia = np.array([s[0] for s in shared])
    ib = np.array([s[1] for s in shared])
    ya = np.asarray(a["labels"], dtype=float)[ia]
    yb = np.asarray(b["labels"], dtype=float)[ib]
    ima, imb = a["images"][ia], b["images"][ib]
    pix = float(np.mean(ima != imb)) if ima.shape == imb.shape else None
    out: dict[str, Any] = {"n": len(shared), "image_diff": pix, "targets": {}}
    for j, t in enumerate(a["targets"].astype(str)):
        ok = np.isfinite(ya[:, j]) & np.isfinite(yb[:, j])
        r2 = r2_score(ya[ok, j], yb[ok, j])[0] if ok.sum() > 1 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(yb[ok, j] - ya[ok, j]) / np.abs(ya[ok, j])
        rel = rel[np.isfinite(rel)]
        out["targets"][str(t)] = {
            "r2": None if np.isnan(r2) else float(r2),
            "median_rel_diff": float(np.median(rel)) if len(rel) else None,
        }
    return out
