"""Figures of the CNN stage: parity plots (Komori Fig. 4A), loss curves, predicted against
DEM stress distributions (Fig. 4B) and Grad-CAM overlays (Fig. 4C).

matplotlib is imported when a figure is drawn, with the Agg backend unless a file backend
is already active.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.learn.dataset import Dataset
from assb_lmp.learn.model import CnnModel

logger = logging.getLogger(__name__)

_DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on a non-interactive backend."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- parity


def _parity_axes(ax: Any, y: np.ndarray, p: np.ndarray, name: str, unit: str,
                 r2: float | None) -> None:
    lo = float(min(y.min(), p.min())) if len(y) else 0.0
    hi = float(max(y.max(), p.max())) if len(y) else 1.0
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    ax.scatter(y, p, s=10, alpha=0.7, edgecolors="none")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    u = f" ({unit})" if unit and unit != "-" else ""
    ax.set_xlabel(f"DEM{u}", fontsize=8)
    ax.set_ylabel(f"CNN{u}", fontsize=8)
    ax.set_title(f"{name}\nR² = {r2:.3f}" if r2 is not None else name, fontsize=8)
    ax.tick_params(labelsize=7)


def plot_parity(folder: Path, cnn: CnnModel, y: np.ndarray, p: np.ndarray,
                metrics: dict[str, dict]) -> None:
    """Parity plots of the test split: one file per target and a grid (Komori Fig. 4A)."""
    if len(y) == 0:
        logger.info("no test rows: parity plots skipped")
        return
    plt = pyplot()
    units = cnn.units()
    n = len(cnn.targets)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    grid, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for j, t in enumerate(cnn.targets):
        _parity_axes(axes.flat[j], y[:, j], p[:, j], t, units[j], metrics[t]["r2"])
        fig, ax = plt.subplots(figsize=(3.6, 3.6))
        fig.subplots_adjust(left=0.2, right=0.95, bottom=0.15, top=0.85)
        _parity_axes(ax, y[:, j], p[:, j], t, units[j], metrics[t]["r2"])
        fig.savefig(folder / f"parity_{t}.png", dpi=_DPI)
        plt.close(fig)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    grid.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.93, wspace=0.45,
                         hspace=0.6)
    grid.savefig(folder / "parity.png", dpi=_DPI)
    plt.close(grid)


# --------------------------------------------------------------------------- loss


def plot_loss(path: Path, history: list[dict[str, float]], best_epoch: int) -> None:
    """Train and validation loss and the learning rate against the epoch."""
    plt = pyplot()
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.plot(ep, [h["loss"] for h in history], label="train (augmented)")
    ax.plot(ep, [h["val_loss"] for h in history], label="validation")
    ax.axvline(best_epoch, color="k", ls=":", lw=0.8, label=f"best (epoch {best_epoch})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (standardised targets)")
    ax2 = ax.twinx()
    ax2.plot(ep, [h["learning_rate"] for h in history], color="gray", lw=0.8, ls="--",
             label="learning rate (right)")
    ax2.set_yscale("log")
    ax2.set_ylabel("learning rate", color="gray")
    handles = ax.get_legend_handles_labels()
    extra = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


# --------------------------------------------------------------------------- Fig. 4B


def read_stresses(path: Path) -> dict[str, np.ndarray] | None:
    """Per-phase particle stresses (MPa) from a case's ``particles.csv`` (None if unusable)."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"phase", "stress_mpa"} <= set(reader.fieldnames):
                logger.info("%s lacks phase/stress_mpa columns", path)
                return None
            out: dict[str, list[float]] = {"AM": [], "SE": []}
            for row in reader:
                ph = str(row["phase"]).strip().upper()
                try:
                    v = float(row["stress_mpa"])
                except (TypeError, ValueError):
                    continue
                if ph in out and math.isfinite(v):
                    out[ph].append(v)
    except OSError as exc:
        logger.info("cannot read %s: %s", path, exc)
        return None
    return {k: np.asarray(v) for k, v in out.items()}


def _spread_order(values: np.ndarray, n_cases: int) -> list[int]:
    """Positions of ``values`` at evenly spaced ranks first, then the rest in rank order."""
    rank = np.argsort(values, kind="stable")
    n = len(values)
    first = rank[np.unique(np.linspace(0, n - 1, min(n_cases, n)).round().astype(int))]
    chosen = set(first.tolist())
    return list(first) + [k for k in rank if k not in chosen]


def _distribution_axes(ax: Any, data: np.ndarray, mu: float, sd: float, phase: str,
                       title: str) -> None:
    """DEM histogram and the CNN's Gaussian N(mu, sd²) of one phase."""
    if len(data):
        ax.hist(data, bins=max(5, min(40, len(data) // 4)), density=True,
                color="lightblue", edgecolor="white", label=f"DEM (n={len(data)})")
    lo = min(data.min() if len(data) else mu - 4 * sd, mu - 4 * sd)
    hi = max(data.max() if len(data) else mu + 4 * sd, mu + 4 * sd)
    if sd > 0:
        x = np.linspace(lo, hi, 300)
        ax.plot(x, np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)),
                "r-", label=f"CNN N({mu:.3g}, {sd:.3g}²)")
    ax.set_xlabel(f"{phase} particle stress (MPa)")
    ax.set_ylabel("probability density")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def plot_distributions(folder: Path, cnn: CnnModel, ds: Dataset, te: np.ndarray,
                       pred: np.ndarray, n_cases: int) -> None:
    """Predicted (Gaussian of mean/SD) vs DEM stress histograms (Komori Fig. 4B).

    Draws up to ``n_cases`` test cases spread over the range of the stress mean, for those
    whose case folder (``<sweep>/<case_id>/particles.csv``, beside the dataset) exists.
    """
    if n_cases <= 0 or len(te) == 0:
        return
    pairs = [(ph, f"{ph.lower()}_stress_mean_mpa", f"{ph.lower()}_stress_sd_mpa")
             for ph in ("AM", "SE")]
    pairs = [p for p in pairs if p[1] in cnn.targets and p[2] in cnn.targets]
    if not pairs:
        logger.info("stress distribution figures skipped: no stress mean/SD targets")
        return
    sweep = ds.path.resolve().parent
    order = _spread_order(ds.labels[te, ds.targets.index(pairs[-1][1])], n_cases)
    done = 0
    plt = pyplot()
    for k in order:
        if done >= n_cases:
            break
        case = str(ds.case_ids[te[k]])
        table = sweep / case / "particles.csv"
        stresses = read_stresses(table) if table.is_file() else None
        if stresses is None:
            continue
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.4), squeeze=False)
        for ax, (ph, m_name, s_name) in zip(axes.flat, pairs, strict=True):
            _distribution_axes(ax, stresses.get(ph, np.zeros(0)),
                               pred[k, cnn.targets.index(m_name)],
                               abs(pred[k, cnn.targets.index(s_name)]), ph, f"{case}: {ph}")
        fig.tight_layout()
        fig.savefig(folder / f"stress_distribution_{case}.png", dpi=_DPI)
        plt.close(fig)
        done += 1
    if done == 0:
        logger.info("stress distribution figures skipped: no %s/<case_id>/particles.csv "
                    "for the test cases", sweep)


# --------------------------------------------------------------------------- Grad-CAM


def save_gradcam_figure(image: np.ndarray, heat: np.ndarray, path: str | Path,
                        title: str = "", alpha: float = 0.45) -> Path:
    """Write the heat map overlaid on the image (jet colour map) as PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=100)
    ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    im = ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Grad-CAM (normalised)")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out

