"""The physics of a pressure sweep, shown: trends of the labels against the sweep's axes.

:func:`case_table` reads every finished case of a sweep folder (``cases.json``, each case's
``labels.json``, ``structure.json`` and ``summary.json``) into one row per case: the
pressing pressure, the AM area fraction, the AM mean diameter drawn for the structure, the
labels after the last stage and the validity report at the press end and at the end.
:func:`trends` turns the table into numbers (``trends.json``) and figures:

* porosity against pressing pressure, one line per AM fraction;
* reaction area against the AM mean diameter and against the AM fraction, with the partial
  slopes of a least-squares fit ``area ~ 1 + d + f + p`` (each with its standard error, so
  that "smaller AM → larger area" is a measured sign, not an impression);
* SE coverage against pressing pressure (the analogue of Komori et al. 2022, Fig. 5D), from
  the DEM and, given a model folder's ``predictions.csv``, as the CNN predicts it for the
  cases it never trained on (test and holdout);
* the share of SE contacts beyond the Hertz bound at the press end and at the end.

Units: pressures in MPa, diameters in µm, areas in µm² (per the quasi-2D window).
"""

from __future__ import annotations

import csv
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.learn.figures import pyplot

logger = logging.getLogger(__name__)

PRESSURE_KEY = "stages.1.pressure_mpa"
FRACTION_KEY = "packing.am_area_fraction"
#: Labels whose trends are reported.
TREND_LABELS = ("porosity", "reaction_area_um2", "se_coverage", "am_stress_mean_mpa",
                "se_stress_mean_mpa", "am_se_contacts_per_am")


def _validity(stage: dict[str, Any]) -> tuple[float | None, float | None]:
    v = stage.get("validity") or {}
    return v.get("se_fraction_beyond_hertz"), v.get("p0_max_over_se_yield")


def case_table(sweep_dir: str | Path, pressure_key: str = PRESSURE_KEY,
               fraction_key: str = FRACTION_KEY) -> list[dict[str, Any]]:
    """One row per finished case of a sweep folder.

    Returns
    -------
    list of dict
        ``case_id``, ``pressure_mpa``, ``fraction``, ``am_diameter_um`` (the structure's
        drawn AM mean diameter), every label of ``labels.json`` that is a number,
        ``beyond_press`` / ``beyond_end`` (share of SE contacts beyond δ/R* = 0.1 at the
        press end and at the end) and ``p0_yield_press`` (largest Hertz peak pressure over
        the SE yield stress at the press end).

    Raises
    ------
    AnalysisError
        The folder has no ``cases.json``, or no case has the two axes.
    """
    root = Path(sweep_dir)
    cases = read_json(root / "cases.json", "the sweep's case list")["cases"]
    rows = []
    for c in cases:
        folder = root / c["id"]
        if not (folder / "labels.json").is_file():
            continue
        params = c["params"]
        if pressure_key not in params or fraction_key not in params:
            continue
        labels = read_json(folder / "labels.json", "a case's labels")
        summary = read_json(folder / "summary.json", "a case's summary")
        structure = read_json(folder / "structure.json", "a case's structure")
        stages = summary["stages"]
        press = next((s for s in stages if s["kind"] == "press"), stages[-1])
        row = {"case_id": c["id"], "pressure_mpa": float(params[pressure_key]),
               "fraction": float(params[fraction_key]),
               "am_diameter_um": float(structure["am_diameter_mean_um"])}
        row |= {k: float(v) for k, v in labels.items()
                if isinstance(v, int | float) and not isinstance(v, bool)}
        row["beyond_press"], row["p0_yield_press"] = _validity(press)
        row["beyond_end"], _ = _validity(stages[-1])
        rows.append(row)
    if not rows:
        raise AnalysisError(f"{root}: no finished case has the axes {pressure_key} and "
                            f"{fraction_key}")
    return rows


def _mean_sem(values: list[float]) -> tuple[float, float, int]:
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if a.size == 0:
        return math.nan, math.nan, 0
    sem = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan
    return float(a.mean()), sem, int(a.size)


def grouped(rows: list[dict[str, Any]], by: str, within: str, label: str) -> dict:
    """Mean, SEM and count of ``label`` per value of ``within``, for each value of ``by``.

    Returns ``{by value: {within value: (mean, sem, n)}}``, both keys sorted.
    """
    cells: dict[float, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cells[r[by]][r[within]].append(r.get(label))
    return {b: {w: _mean_sem(cells[b][w]) for w in sorted(cells[b])} for b in sorted(cells)}


def partial_slopes(rows: list[dict[str, Any]], label: str,
                   names: tuple[str, ...] = ("am_diameter_um", "fraction", "pressure_mpa"),
                   ) -> dict[str, dict[str, float]]:
    """Least-squares fit ``label ~ 1 + Σ b_k x_k``: each slope, its standard error and the
    change it makes over the range of its variable, relative to the label's mean."""
    y = np.asarray([r[label] for r in rows], float)
    x = np.asarray([[r[n] for n in names] for r in rows], float)
    a = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    dof = max(len(y) - a.shape[1], 1)
    sigma2 = float(((y - a @ coef) ** 2).sum() / dof)
    cov = sigma2 * np.linalg.pinv(a.T @ a)
    out = {}
    for k, n in enumerate(names, start=1):
        span = float(x[:, k - 1].max() - x[:, k - 1].min())
        out[n] = {"slope": float(coef[k]), "se": float(math.sqrt(max(cov[k, k], 0.0))),
                  "t": float(coef[k] / math.sqrt(cov[k, k])) if cov[k, k] > 0 else math.nan,
                  "change_over_range_rel": float(coef[k] * span / y.mean()) if y.mean() else
                  math.nan, "range": [float(x[:, k - 1].min()), float(x[:, k - 1].max())]}
    return out


def read_predictions(model_dir: str | Path, splits: tuple[str, ...] = ("test", "holdout"),
                     ) -> dict[str, dict[str, float]]:
    """``case id → {target: prediction}`` of a model folder's ``predictions.csv``, for the
    cases of ``splits`` (those the network never trained on)."""
    path = Path(model_dir) / "predictions.csv"
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file (a model folder written by train has it)")
    out = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["split"] in splits:
                out[r["case_id"]] = {k[5:]: float(v) for k, v in r.items()
                                     if k.startswith("pred_")}
    return out


def _lines(ax: Any, table: dict, xlabel: str, ylabel: str, legend: str,
           style: str = "-o", alpha: float = 1.0, label_lines: bool = True) -> None:
    colours = pyplot().cm.viridis(np.linspace(0, 0.9, max(len(table), 1)))
    for c, (key, cells) in zip(colours, table.items(), strict=True):
        xs = list(cells)
        m = [cells[x][0] for x in xs]
        e = [cells[x][1] if math.isfinite(cells[x][1]) else 0.0 for x in xs]
        ax.errorbar(xs, m, yerr=e, fmt=style, color=c, ms=4, capsize=2, alpha=alpha,
                    label=f"{legend} {key:g}" if label_lines else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _figure(rows: list[dict[str, Any]], pred: dict[str, dict[str, float]], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    _lines(axes[0, 0], grouped(rows, "fraction", "pressure_mpa", "porosity"),
           "pressing pressure (MPa)", "porosity after release", "f")
    axes[0, 0].legend(fontsize=7)
    ax = axes[0, 1]
    fr = sorted({r["fraction"] for r in rows})
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(fr)))
    for c, f in zip(colours, fr, strict=True):
        sub = [r for r in rows if r["fraction"] == f]
        ax.scatter([r["am_diameter_um"] for r in sub], [r["reaction_area_um2"] for r in sub],
                   s=8, color=c, alpha=0.6, label=f"f {f:g}")
    ax.set_xlabel("AM mean diameter (µm)")
    ax.set_ylabel("reaction area (µm²)")
    ax.legend(fontsize=7)
    _lines(axes[0, 2], grouped(rows, "pressure_mpa", "fraction", "reaction_area_um2"),
           "AM area fraction", "reaction area (µm²)", "p")
    axes[0, 2].legend(fontsize=7)
    ax = axes[1, 0]
    _lines(ax, grouped(rows, "fraction", "pressure_mpa", "se_coverage"),
           "pressing pressure (MPa)", "SE coverage of the AM surface", "DEM f")
    if pred:
        seen = [dict(r, se_coverage=pred[r["case_id"]]["se_coverage"]) for r in rows
                if r["case_id"] in pred]
        _lines(ax, grouped(seen, "fraction", "pressure_mpa", "se_coverage"), "pressing "
               "pressure (MPa)", "SE coverage of the AM surface", "CNN f", "--s", 0.8)
    ax.legend(fontsize=6, ncol=2)
    _lines(axes[1, 1], grouped(rows, "fraction", "pressure_mpa", "beyond_press"),
           "pressing pressure (MPa)", "SE contacts beyond δ/R* = 0.1, press end", "f")
    _lines(axes[1, 2], grouped(rows, "fraction", "pressure_mpa", "beyond_end"),
           "pressing pressure (MPa)", "SE contacts beyond δ/R* = 0.1, after release", "f")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(table: dict) -> dict:
    return {f"{b:g}": {f"{w:g}": {"mean": m, "sem": s, "n": n}
                       for w, (m, s, n) in cells.items()} for b, cells in table.items()}


def trends(sweep_dir: str | Path, out_dir: str | Path, model_dir: str | Path | None = None,
           ) -> dict[str, Any]:
    """Write ``trends.json`` and ``trends.png`` of a pressure sweep into ``out_dir``.

    Parameters
    ----------
    sweep_dir : str or Path
        The sweep folder.
    out_dir : str or Path
        Where the two files go.
    model_dir : str or Path, optional
        A model folder trained on the sweep's dataset: its test and holdout predictions
        add the CNN's SE coverage to the figure and the numbers.

    Returns
    -------
    dict
        The content of ``trends.json``.
    """
    rows = case_table(sweep_dir)
    pred = read_predictions(model_dir) if model_dir is not None else {}
    out = Path(out_dir)
    result: dict[str, Any] = {"sweep": str(sweep_dir), "cases": len(rows)}
    for label in TREND_LABELS:
        result[label] = {"by_fraction_vs_pressure": _jsonable(
            grouped(rows, "fraction", "pressure_mpa", label)),
            "partial_slopes": partial_slopes(rows, label)}
    for key in ("beyond_press", "beyond_end"):
        result[key] = _jsonable(grouped(rows, "fraction", "pressure_mpa", key))
        result[key + "_all"] = dict(zip(("mean", "sem", "n"),
                                        _mean_sem([r[key] for r in rows]), strict=True))
    if pred:
        seen = [r for r in rows if r["case_id"] in pred]
        cnn = [dict(r, se_coverage=pred[r["case_id"]]["se_coverage"]) for r in seen]
        result["se_coverage_cnn"] = {
            "cases": len(seen),
            "dem": _jsonable(grouped(seen, "fraction", "pressure_mpa", "se_coverage")),
            "cnn": _jsonable(grouped(cnn, "fraction", "pressure_mpa", "se_coverage"))}
    _figure(rows, pred, out / "trends.png")
    atomic_write_json(out / "trends.json", result)
    logger.info("trends of %d cases -> %s", len(rows), out / "trends.json")
    return result
