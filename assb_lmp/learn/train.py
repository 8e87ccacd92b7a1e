"""Training: settings, the training loop, and the model folder it writes.

Loss MSE on targets standardised with the training statistics, optimiser Adam (AdamW with
``weight_decay``), reduce-on-plateau learning rate, early stopping that restores the best
epoch's weights, label-preserving augmentation (flips and 90° rotations), fixed seeds and
TensorFlow's deterministic ops: the same seed, thread count and machine give the same
weights.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.core.errors import AnalysisError, ModelError
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.learn import figures, noise
from assb_lmp.learn.backend import seed_everything, tf_keras, threads_in_use
from assb_lmp.learn.dataset import Dataset, dataset_description, load_dataset
from assb_lmp.learn.images import INPUT_OFFSET, INPUT_SCALE, LEVELS, WINDOW_UM
from assb_lmp.learn.model import FORMAT, METRICS_FILE, UNITS, CnnModel, save_model, snapshot
from assb_lmp.learn.networks import build_model, gradcam_layer
from assb_lmp.learn.predict import evaluate, num, predict, predict_standardized
from assb_lmp.spec.targets import r2_score

logger = logging.getLogger(__name__)

#: Augmentations that leave scalar labels unchanged.
AUGMENTATIONS = ("d4", "flips", "none")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults: the published network, tuned for 320 + 80 images).

    On 2 free CPU cores an epoch of 320 images of 224 x 224 takes about 2.8 s, so the
    default cap of 60 epochs keeps a run under about 3 minutes; early stopping usually ends
    it sooner. ``max_seconds`` bounds the wall time on a busy machine (the weights then
    depend on the machine's speed, so it is off by default).

    Attributes
    ----------
    architecture : str
        Key of :data:`assb_lmp.learn.networks.ARCHITECTURES`.
    epochs : int
        Maximum number of epochs.
    batch_size : int
    learning_rate : float
        Initial Adam learning rate.
    weight_decay : float
        Decoupled weight decay (AdamW) per unit learning rate; 0 (default) is plain Adam as
        published.
    lr_factor, lr_patience, min_learning_rate
        Reduce-on-plateau: multiply the rate by ``lr_factor`` after ``lr_patience`` epochs
        without progress (see ``min_delta``), down to ``min_learning_rate``.
    patience : int
        Early stopping: stop after this many epochs without progress; the weights of the
        best epoch are restored.
    min_delta : float
        Progress (for early stopping and the plateau schedule) is a validation loss lower
        than the last progress by more than this fraction (1 %); any lower loss still
        becomes the best weights.
    augment : str
        ``d4`` (flips and 90° rotations), ``flips`` (flips only) or ``none``.
    seed : int
        Seed of weights, shuffling and augmentation.
    threads : int or None
        TensorFlow intra-op threads (None: all cores). Same seed, threads and machine give
        the same weights.
    max_seconds : float or None
        Stop (keeping the best weights) when training has run this long.
    val_fraction : float
        Fraction of the train split held out for validation when the dataset has no
        ``val`` rows.
    train_fraction : float
        Train on a random subset of this fraction of the train rows (1: all), drawn with
        ``seed``; for learning curves (does more data help?).
    distribution_cases : int
        Number of test cases drawn in the stress-distribution figures (Fig. 4B).
    plots : bool
        Write figures.
    """

    architecture: str = "komori2022"
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    lr_factor: float = 0.5
    lr_patience: int = 6
    min_learning_rate: float = 1e-5
    patience: int = 15
    min_delta: float = 0.01
    augment: str = "d4"
    seed: int = 0
    threads: int | None = None
    max_seconds: float | None = None
    val_fraction: float = 0.2
    train_fraction: float = 1.0
    distribution_cases: int = 3
    plots: bool = True


def _resolve_config(config: TrainConfig | None, overrides: dict[str, Any]) -> TrainConfig:
    """The settings with ``overrides`` applied, checked."""
    cfg = config or TrainConfig()
    if overrides:
        unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
        if unknown:
            raise ModelError(f"unknown training settings {sorted(unknown)}")
        cfg = TrainConfig(**{**asdict(cfg), **overrides})
    if cfg.augment not in AUGMENTATIONS:
        raise ModelError(f"augment must be one of {AUGMENTATIONS}, got {cfg.augment!r}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ModelError("epochs and batch_size must be at least 1")
    if not 0.0 < cfg.train_fraction <= 1.0:
        raise ModelError(f"train_fraction must be in (0, 1], got {cfg.train_fraction}")
    if not 0.0 <= cfg.weight_decay < 1.0:
        raise ModelError(f"weight_decay must be in [0, 1), got {cfg.weight_decay}")
    return cfg


def _split_rows(ds: Dataset, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test rows (validation held out of train when there is none)."""
    tr, va, te = ds.index("train"), ds.index("val"), ds.index("test")
    if len(tr) == 0:
        raise ModelError(f"{ds.path}: the train split is empty")
    if len(va) == 0:
        rng = np.random.default_rng([cfg.seed, 7])
        perm = rng.permutation(tr)
        n_val = max(1, int(round(cfg.val_fraction * len(tr))))
        if len(tr) - n_val < 1:
            raise ModelError(f"{ds.path}: too few train rows to hold out a validation set")
        va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        logger.warning("no val split: holding out %d of the train rows for validation",
                       n_val)
    if cfg.train_fraction < 1.0:
        keep = max(2, int(round(cfg.train_fraction * len(tr))))
        tr = np.sort(np.random.default_rng([cfg.seed, 11]).permutation(tr)[:keep])
        logger.info("training on a random %d of the train rows (train_fraction %g)",
                    len(tr), cfg.train_fraction)
    return tr, va, te


def _model_info(cfg: TrainConfig, ds: Dataset, model: Any, mean: np.ndarray,
                std: np.ndarray, dataset_dir: str | Path, command: str | None
                ) -> dict[str, Any]:
    """The content of ``model_info.json``."""
    tf, keras = tf_keras()
    origin = dataset_description(dataset_dir)
    return {
        "format": FORMAT,
        "architecture": cfg.architecture,
        "gradcam_layer": gradcam_layer(cfg.architecture),
        "image_size": int(ds.images.shape[1]),
        "levels": {"void": LEVELS[0], "am": LEVELS[1], "se": LEVELS[2]},
        "input_scale": INPUT_SCALE,
        "input_offset": INPUT_OFFSET,
        "window_um": WINDOW_UM,
        "targets": list(ds.targets),
        "units": {t: UNITS.get(t, "") for t in ds.targets},
        "label_mean": mean.tolist(),
        "label_std": std.tolist(),
        "dataset": str(Path(dataset_dir).resolve()),
        "dataset_synthetic": bool(origin.get("synthetic", False)),
        "command": command,
        "train_config": asdict(cfg),
        "parameters": int(model.count_params()),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


def augment(batch: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Random label-preserving symmetry per image: flips and (``d4``) 90° rotations."""
    if mode == "none":
        return batch
    out = np.empty_like(batch)
    for i, img in enumerate(batch):
        k = int(rng.integers(4)) if mode == "d4" else 2 * int(rng.integers(2))
        img = np.rot90(img, k)
        if rng.integers(2):
            img = img[:, ::-1]
        out[i] = img
    return out


# --------------------------------------------------------------------------- the loop


@dataclass
class _Fit:
    """State and outcome of the training loop (early stopping and plateau schedule)."""

    min_delta: float
    history: list[dict[str, float]] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int = 0
    progress_ref: float = math.inf  # the last validation loss that counted as progress
    wait: int = 0
    lr_wait: int = 0
    stop_reason: str = "max_epochs"
    seconds: float = 0.0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record a validation loss; True when it is the best so far."""
        improved = val_loss < self.best_loss
        if improved:
            self.best_epoch = epoch
        if val_loss < self.progress_ref * (1.0 - self.min_delta):
            self.progress_ref = val_loss
            self.wait = self.lr_wait = 0
        else:
            self.wait += 1
            self.lr_wait += 1
        self.best_loss = min(self.best_loss, val_loss)
        return improved


def _optimizer(keras: Any, cfg: TrainConfig, model: Any) -> Any:
    if cfg.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=cfg.learning_rate,
                                           weight_decay=cfg.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
    optimizer.build(model.trainable_variables)
    return optimizer


def _train_step_fn(tf: Any, model: Any, optimizer: Any) -> Any:
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def train_step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    return train_step


def _fit(cnn: CnnModel, cfg: TrainConfig, x_tr: np.ndarray, y_tr: np.ndarray,
         x_va: np.ndarray, y_va: np.ndarray) -> _Fit:
    """Run the epochs; leave the best epoch's weights in the model."""
    tf, keras = tf_keras()
    model = cnn.keras_model
    optimizer = _optimizer(keras, cfg, model)
    train_step = _train_step_fn(tf, model, optimizer)
    fit = _Fit(cfg.min_delta)
    best_weights = snapshot(model)
    lr = cfg.learning_rate
    t_train = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t_ep = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        perm = rng.permutation(len(x_tr))
        losses = []
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            xb = cnn.to_input(augment(x_tr[idx], rng, cfg.augment))
            losses.append(float(train_step(xb, y_tr[idx])))
        val_loss = float(np.mean((predict_standardized(cnn, x_va) - y_va) ** 2))
        fit.history.append({"epoch": epoch, "loss": float(np.mean(losses)),
                            "val_loss": val_loss, "learning_rate": lr,
                            "seconds": time.perf_counter() - t_ep})
        improved = fit.update(epoch, val_loss)
        if improved:
            best_weights = snapshot(model)
        logger.info("epoch %3d  loss %.4f  val_loss %.4f%s  lr %.2g  %.1f s", epoch,
                    fit.history[-1]["loss"], val_loss, " *" if improved else "  ", lr,
                    fit.history[-1]["seconds"])
        if fit.wait >= cfg.patience:
            fit.stop_reason = "early_stopping"
            break
        if cfg.max_seconds is not None and time.perf_counter() - t_train > cfg.max_seconds:
            fit.stop_reason = "time_limit"
            logger.warning("stopping at the time limit (%.0f s) after epoch %d",
                           cfg.max_seconds, epoch)
            break
        if fit.lr_wait >= cfg.lr_patience and lr > cfg.min_learning_rate:
            lr = max(lr * cfg.lr_factor, cfg.min_learning_rate)
            optimizer.learning_rate = lr
            fit.lr_wait = 0
    fit.seconds = time.perf_counter() - t_train
    model.set_weights(best_weights)
    logger.info("restored the weights of epoch %d (val_loss %.4f); %s after %.1f s",
                fit.best_epoch, fit.best_loss, fit.stop_reason, fit.seconds)
    return fit


# --------------------------------------------------------------------------- outputs


def _protocol_r2(dataset_dir: str | Path) -> dict[str, dict]:
    """Test R² of the sweep-point means (see ``noise.protocol_r2``); {} without params."""
    try:
        return noise.protocol_r2(dataset_dir)
    except AnalysisError:
        return {}


def _holdout_metrics(cnn: CnnModel, ds: Dataset, ho: np.ndarray) -> dict[str, dict]:
    """``holdout_r2``, ``holdout_mae`` and ``holdout_baseline_r2`` (the train mean as the
    prediction) per target on the holdout rows; {} when there are none."""
    if len(ho) == 0:
        return {}
    m = evaluate(cnn, ds.images[ho], ds.labels[ho])
    mean = np.asarray(cnn.info["label_mean"])
    base = r2_score(ds.labels[ho], np.broadcast_to(mean, ds.labels[ho].shape))
    return {t: {"holdout_r2": m[t]["r2"], "holdout_mae": m[t]["mae"],
                "holdout_baseline_r2": num(base[j])} for j, t in enumerate(ds.targets)}


def _metrics(cnn: CnnModel, ds: Dataset, cfg: TrainConfig, rows: tuple[np.ndarray, ...],
             fit: _Fit, dataset_dir: str | Path) -> dict[str, Any]:
    """The content of ``metrics.json`` (``seconds_total`` filled in later).

    ``rows`` are the train, val, test and holdout rows; the holdout metrics (and
    ``holdout_values``) are there only when the dataset has holdout rows.
    """
    tr, va, te, ho = rows
    test_metrics = evaluate(cnn, ds.images[te], ds.labels[te])
    val_metrics = evaluate(cnn, ds.images[va], ds.labels[va])
    mean = np.asarray(cnn.info["label_mean"])
    baseline = r2_score(ds.labels[te], np.broadcast_to(mean, ds.labels[te].shape)) \
        if len(te) else np.full(len(ds.targets), np.nan)
    protocol = _protocol_r2(dataset_dir)
    held = _holdout_metrics(cnn, ds, ho)
    extra = {"holdout_values": dataset_description(dataset_dir).get("holdout")} if held else {}
    return {
        "targets": {t: {**test_metrics[t],
                        "val_r2": val_metrics[t]["r2"], "val_mae": val_metrics[t]["mae"],
                        "baseline_r2": num(baseline[j]),
                        "protocol_r2": protocol.get(t, {}).get("protocol_r2"),
                        **held.get(t, {})}
                    for j, t in enumerate(ds.targets)},
        "split_sizes": {"train": int(len(tr)), "val": int(len(va)), "test": int(len(te)),
                        "holdout": int(len(ho)), "excluded": int(len(ds.index("excluded")))},
        **extra,
        "epochs": len(fit.history),
        "best_epoch": fit.best_epoch,
        "best_val_loss": fit.best_loss,
        "stop_reason": fit.stop_reason,
        "seconds": fit.seconds,
        "seconds_total": None,
        "architecture": cfg.architecture,
        "parameters": cnn.info["parameters"],
        "seed": cfg.seed,
        "threads": threads_in_use(),
        "config": asdict(cfg),
        "dataset": cnn.info["dataset"],
        "dataset_synthetic": cnn.info["dataset_synthetic"],
        "command": cnn.info["command"],
    }


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(header)
    w.writerows(rows)
    return text.getvalue()


def _write_tables(out: Path, cnn: CnnModel, ds: Dataset, rows: np.ndarray,
                  pred: np.ndarray, history: list[dict[str, float]]) -> None:
    """``history.csv`` (one row per epoch) and ``predictions.csv`` (labels and predictions)."""
    keys = ["epoch", "loss", "val_loss", "learning_rate", "seconds"]
    atomic_write_text(out / "history.csv",
                      _csv_text(keys, [[h[k] for k in keys] for h in history]))
    header = ["case_id", "split", *ds.targets, *(f"pred_{t}" for t in ds.targets)]
    table = [[ds.case_ids[r], ds.split[r], *(f"{v:.6g}" for v in ds.labels[r]),
              *(f"{v:.6g}" for v in pred[i])] for i, r in enumerate(rows)]
    atomic_write_text(out / "predictions.csv", _csv_text(header, table))


def _write_figures(out: Path, cnn: CnnModel, ds: Dataset, te: np.ndarray, p_te: np.ndarray,
                   metrics: dict[str, Any], fit: _Fit, n_cases: int) -> None:
    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    figures.plot_parity(folder, cnn, ds.labels[te], p_te, metrics["targets"])
    figures.plot_loss(folder / "loss.png", fit.history, fit.best_epoch)
    figures.plot_distributions(folder, cnn, ds, te, p_te, n_cases)


def train(dataset_dir: str | Path, out_dir: str | Path, config: TrainConfig | None = None,
          *, command: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Train a network on a dataset folder and write a model folder.

    Trains on the ``train`` split with per-epoch validation on ``val`` (reduce-on-plateau
    learning rate, early stopping restoring the best weights) and label-preserving
    augmentation; evaluates on ``test`` and, apart, on ``holdout`` (cases with sweep values
    held out of training; ``excluded`` rows are not used at all); writes ``model.keras``,
    ``model_info.json``, ``metrics.json``, ``history.csv``, ``predictions.csv`` and figures
    (parity per target, loss curves, predicted vs DEM stress distributions).

    Parameters
    ----------
    dataset_dir : str or Path
        Dataset folder (``arrays.npz``; see ARCHITECTURE.md).
    out_dir : str or Path
        Model folder to write.
    config : TrainConfig, optional
    command : str, optional
        The command line that runs this training, recorded in ``model_info.json`` and
        ``metrics.json`` (a model that ships with the package must say how it was made).
    **overrides
        Fields of :class:`TrainConfig` to change (e.g. ``epochs=5``).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    cfg = _resolve_config(config, overrides)
    t_start = time.perf_counter()
    ds = load_dataset(dataset_dir)
    tr, va, te = _split_rows(ds, cfg)
    ho = ds.index("holdout")
    tf_keras(cfg.threads)
    seed_everything(cfg.seed, cfg.threads)
    mean = ds.labels[tr].mean(axis=0)
    std = ds.labels[tr].std(axis=0)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    model = build_model(cfg.architecture, image_size=ds.images.shape[1],
                        n_outputs=len(ds.targets))
    cnn = CnnModel(model, _model_info(cfg, ds, model, mean, std, dataset_dir, command))
    logger.info("training %s (%d parameters) on %d images, validating on %d, testing on %d",
                cfg.architecture, cnn.info["parameters"], len(tr), len(va), len(te))
    fit = _fit(cnn, cfg, ds.images[tr], cnn.standardize(ds.labels[tr]).astype(np.float32),
               ds.images[va], cnn.standardize(ds.labels[va]))

    out = Path(out_dir)
    save_model(cnn, out)
    metrics = _metrics(cnn, ds, cfg, (tr, va, te, ho), fit, dataset_dir)
    rows = np.concatenate([tr, va, te, ho])
    pred = predict(cnn, ds.images[rows])
    _write_tables(out, cnn, ds, rows, pred, fit.history)
    metrics["seconds_total"] = time.perf_counter() - t_start
    atomic_write_json(out / METRICS_FILE, metrics)
    if cfg.plots:
        n_fit = len(tr) + len(va)
        _write_figures(out, cnn, ds, te, pred[n_fit:n_fit + len(te)], metrics, fit,
                       cfg.distribution_cases)
        metrics["seconds_total"] = time.perf_counter() - t_start
        atomic_write_json(out / METRICS_FILE, metrics)
    return metrics
