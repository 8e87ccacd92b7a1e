"""Prediction with a trained network: arrays, image files, and metrics on labelled images."""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import ModelError
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.learn.backend import tf_keras
from assb_lmp.learn.images import WINDOW_UM, prepare_image
from assb_lmp.learn.model import CnnModel
from assb_lmp.spec.targets import r2_score

logger = logging.getLogger(__name__)


def _inference_fn(cnn: CnnModel) -> Any:
    """A traced forward pass (cached on the model)."""
    if cnn._infer is None:
        tf, _ = tf_keras()
        model = cnn.keras_model
        size = cnn.image_size

        @tf.function(input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32)])
        def infer(x: Any) -> Any:
            return model(x, training=False)

        cnn._infer = infer
    return cnn._infer


def predict_standardized(cnn: CnnModel, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Network outputs (standardised targets) for uint8 images (N, H, W)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    size = cnn.image_size
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ModelError(f"images must be (N, {size}, {size}), got {images.shape}; "
                         "use prepare_image() for other sizes")
    infer = _inference_fn(cnn)
    out = np.zeros((len(images), len(cnn.targets)), dtype=np.float64)
    for s in range(0, len(images), batch_size):
        out[s:s + batch_size] = infer(cnn.to_input(images[s:s + batch_size])).numpy()
    return out


def predict(cnn: CnnModel, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Predicted targets in physical units.

    Parameters
    ----------
    cnn : CnnModel
    images : ndarray of uint8, shape (N, H, W) or (H, W)
        Three-level images (void 0, AM 128, SE 255) of the model's size.
    batch_size : int, optional

    Returns
    -------
    ndarray, shape (N, T)
    """
    return cnn.destandardize(predict_standardized(cnn, images, batch_size))


def num(x: float) -> float | None:
    """JSON-friendly float (None for NaN/inf)."""
    return float(x) if math.isfinite(float(x)) else None


def evaluate(cnn: CnnModel, images: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """R², MAE and RMSE per target on labelled images.

    Parameters
    ----------
    cnn : CnnModel
    images : ndarray of uint8, shape (N, H, W)
    labels : ndarray, shape (N, T), physical units, targets in ``cnn.targets`` order

    Returns
    -------
    dict
        ``{target: {"r2", "mae", "rmse", "unit"}}`` (None where undefined, e.g. N < 2).
    """
    if len(images) == 0:
        return {t: {"r2": None, "mae": None, "rmse": None, "unit": u}
                for t, u in zip(cnn.targets, cnn.units(), strict=True)}
    pred = predict(cnn, images)
    r2 = r2_score(labels, pred)
    mae = np.abs(pred - labels).mean(axis=0)
    rmse = np.sqrt(((pred - labels) ** 2).mean(axis=0))
    return {t: {"r2": num(r2[j]), "mae": num(mae[j]), "rmse": num(rmse[j]), "unit": u}
            for j, (t, u) in enumerate(zip(cnn.targets, cnn.units(), strict=True))}


def predict_files(
    cnn: CnnModel,
    paths: Sequence[str | Path],
    *,
    levels: Sequence[float] | None = None,
    pixel_um: float | None = None,
    batch_size: int = 64,
) -> list[dict[str, Any]]:
    """Prepare and predict a list of image files.

    Returns
    -------
    list of dict
        Per image: ``image`` (path), ``notes`` (preprocessing messages), ``predictions``
        (``{target: value}`` in physical units).
    """
    window = float(cnn.info.get("window_um", WINDOW_UM))
    prepared, notes = [], []
    for p in paths:
        img, n = prepare_image(p, image_size=cnn.image_size, levels=levels,
                               pixel_um=pixel_um, window_um=window)
        for msg in n:
            logger.info("%s: %s", p, msg)
        prepared.append(img)
        notes.append(n)
    if not prepared:
        return []
    pred = predict(cnn, np.stack(prepared), batch_size=batch_size)
    return [{"image": str(p), "notes": n,
             "predictions": {t: float(v) for t, v in zip(cnn.targets, row, strict=True)}}
            for p, n, row in zip(paths, notes, pred, strict=True)]


def save_predictions(path: str | Path, cnn: CnnModel, rows: list[dict[str, Any]],
                     test_r2: dict[str, float | None] | None = None) -> Path:
    """Write :func:`predict_files` results as ``.json`` or ``.csv``.

    JSON: ``{"model", "units", "test_r2", "images": rows}`` (``test_r2`` per target from
    the model's ``metrics.json``: how far to trust each number). CSV: ``image``, the
    targets, ``notes``; one row per image.

    Raises
    ------
    ModelError
        ``path`` ends in neither ``.json`` nor ``.csv``.
    """
    out = Path(path)
    targets = cnn.targets
    if out.suffix.lower() == ".json":
        out.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(out, {
            "model": str(cnn.path), "units": dict(zip(targets, cnn.units(), strict=True)),
            "test_r2": {t: (test_r2 or {}).get(t) for t in targets}, "images": rows})
    if out.suffix.lower() == ".csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        w = csv.writer(text)
        w.writerow(["image", *targets, "notes"])
        for r in rows:
            w.writerow([r["image"], *(f"{r['predictions'][t]:.6g}" for t in targets),
                        "; ".join(r["notes"])])
        return atomic_write_text(out, text.getvalue())
    raise ModelError(f"--out must end in .csv or .json, got {out.name}")
