"""How learnable the labels of a dataset are, before any network is trained.

* :func:`protocol_r2`: how much of each target the sweep parameters alone fix (the test R²
  of the mean of the other cases at the same sweep point);
* :func:`compare`: how reproducible the labels are, from the same structures run twice
  with a change that should not matter (the R² any model of the image can at most reach).

``python -m assb_lmp label-noise DATASET [--replicate DATASET]`` prints both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError
from assb_lmp.spec.targets import r2_score


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
        A dataset folder written by :func:`assb_lmp.learn.dataset.export` (needs ``params``).

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
    fit = np.isin(split, ("train", "val"))  # never holdout / excluded cases
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
