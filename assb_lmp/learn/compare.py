"""Predicted against DEM: a trained model on the finished cases of a sweep it never saw.

:func:`compare` predicts the nine quantities from each case's ``image.png`` and sets them
beside the case's DEM labels (``labels.json``), with the model's own test R² per target
(from its ``metrics.json``: how far to trust each number). It writes ``compare.json``, a
parity figure (``parity.png``) and one Grad-CAM figure (``gradcam.png``, the reaction area
of the first case). ``make demo`` runs it on new cases of the reference protocol with the
model that ships with the package.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError
from assb_lmp.core.io import atomic_write_json, read_json
from assb_lmp.learn.figures import pyplot, save_gradcam_figure
from assb_lmp.learn.gradcam import gradcam
from assb_lmp.learn.images import WINDOW_UM, prepare_image
from assb_lmp.learn.model import load_model
from assb_lmp.learn.predict import predict
from assb_lmp.learn.ship import model_r2, resolve_model_dir

logger = logging.getLogger(__name__)

GRADCAM_TARGET = "reaction_area_um2"


def _r2(y: np.ndarray, p: np.ndarray) -> float | None:
    if len(y) < 3:
        return None
    ss = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - p) ** 2).sum()) / ss if ss > 0 else None


def _cases(sweep_dir: Path) -> list[tuple[str, dict, Path]]:
    listing = read_json(sweep_dir / "cases.json", "the sweep's case list")["cases"]
    out = []
    for c in listing:
        folder = sweep_dir / c["id"]
        if (folder / "labels.json").is_file() and (folder / "image.png").is_file():
            out.append((c["id"], c.get("params", {}), folder))
    if not out:
        raise AnalysisError(f"{sweep_dir}: no finished case with labels.json and image.png")
    return out


def _parity(path: Path, targets: list[str], units: list[str], y: np.ndarray,
            p: np.ndarray, test_r2: dict[str, float | None]) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(3, 3, figsize=(11, 10.5))
    for ax, t, u, k in zip(axes.flat, targets, units, range(len(targets)), strict=False):
        lo = float(min(y[:, k].min(), p[:, k].min()))
        hi = float(max(y[:, k].max(), p[:, k].max()))
        pad = 0.05 * (hi - lo or abs(hi) or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1)
        ax.scatter(y[:, k], p[:, k], s=22, color="tab:blue")
        r2 = test_r2.get(t)
        ax.set_title(f"{t}\nmodel test R² {r2:.3f}" if r2 is not None else t, fontsize=9)
        ax.set_xlabel(f"DEM ({u})", fontsize=8)
        ax.set_ylabel(f"CNN ({u})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare(sweep_dir: str | Path, model_dir: str | Path | None = None,
            out_dir: str | Path | None = None, threads: int | None = None) -> dict[str, Any]:
    """Predict every finished case of a sweep folder and compare with its DEM labels.

    Parameters
    ----------
    sweep_dir : str or Path
        A sweep folder (``cases.json`` and case folders).
    model_dir : str or Path, optional
        Model folder (default: the model shipped with the package).
    out_dir : str or Path, optional
        Where ``compare.json``, ``parity.png`` and ``gradcam.png`` go (default
        ``sweep_dir/compare``).
    threads : int, optional
        TensorFlow threads.

    Returns
    -------
    dict
        ``model``, ``targets``, ``units``, ``test_r2`` (the model's), ``cases`` (id, params,
        ``dem`` and ``cnn`` per target), ``mae`` and ``r2`` over these cases per target
        (R² only from three cases on), and the paths written.
    """
    root = Path(sweep_dir)
    folder = resolve_model_dir(model_dir)
    cnn = load_model(folder, threads=threads)
    window = float(cnn.info.get("window_um", WINDOW_UM))
    cases = _cases(root)
    images = np.stack([prepare_image(f / "image.png", image_size=cnn.image_size,
                                     window_um=window)[0] for _, _, f in cases])
    y = np.asarray([[read_json(f / "labels.json", "a case's labels")[t] for t in cnn.targets]
                    for _, _, f in cases], float)
    p = predict(cnn, images)
    test_r2 = model_r2(folder)
    out = Path(out_dir) if out_dir is not None else root / "compare"
    out.mkdir(parents=True, exist_ok=True)
    _parity(out / "parity.png", cnn.targets, cnn.units(), y, p, test_r2)
    heat, value, _ = gradcam(cnn, images[0], GRADCAM_TARGET)
    unit = cnn.units()[cnn.targets.index(GRADCAM_TARGET)]
    save_gradcam_figure(images[0], heat, out / "gradcam.png",
                        title=f"Grad-CAM {GRADCAM_TARGET}: CNN {value:.3g}, DEM "
                              f"{y[0, cnn.targets.index(GRADCAM_TARGET)]:.3g} {unit}\n"
                              f"{cases[0][0]}")
    result = {
        "model": str(folder), "targets": cnn.targets, "units": cnn.units(),
        "test_r2": {t: test_r2.get(t) for t in cnn.targets},
        "cases": [{"id": cid, "params": params,
                   "dem": dict(zip(cnn.targets, map(float, y[i]), strict=True)),
                   "cnn": dict(zip(cnn.targets, map(float, p[i]), strict=True))}
                  for i, (cid, params, _) in enumerate(cases)],
        "mae": {t: float(np.abs(y[:, k] - p[:, k]).mean()) for k, t in enumerate(cnn.targets)},
        "r2": {t: _r2(y[:, k], p[:, k]) for k, t in enumerate(cnn.targets)},
        "parity": str(out / "parity.png"), "gradcam": str(out / "gradcam.png"),
    }
    atomic_write_json(out / "compare.json", result)
    return result


def format_table(result: dict[str, Any]) -> str:
    """Predicted against DEM, one block per case, then the error over all cases."""
    targets, units = result["targets"], result["units"]
    lines = []
    for c in result["cases"]:
        shown = ", ".join(f"{k.split('.')[-1]} = {v:g}" for k, v in c["params"].items())
        lines.append(f"{c['id']}  ({shown})" if shown else c["id"])
        lines.append(f"  {'quantity':28s} {'unit':>6s} {'DEM':>10s} {'CNN':>10s} "
                     f"{'test R2':>8s}")
        for t, u in zip(targets, units, strict=True):
            r2 = result["test_r2"].get(t)
            lines.append(f"  {t:28s} {u:>6s} {c['dem'][t]:10.4g} {c['cnn'][t]:10.4g} "
                         f"{r2 if r2 is None else format(r2, '.3f'):>8}")
    lines.append(f"over these {len(result['cases'])} cases: mean absolute error (R2)")
    for t, u in zip(targets, units, strict=True):
        r2 = result["r2"][t]
        r2s = "" if r2 is None or not math.isfinite(r2) else f" (R2 {r2:.2f})"
        lines.append(f"  {t:28s} {result['mae'][t]:.4g} {u}{r2s}")
    return "\n".join(lines)
