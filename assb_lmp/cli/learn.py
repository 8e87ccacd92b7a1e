"""Command-line subcommands of the CNN stage: ``train``, ``predict``, ``gradcam``, ``ship-model``.

:func:`register` adds them to the argparse subparsers of the main CLI; each handler is
thin (parse, call :mod:`assb_lmp.learn`, print) and returns an exit code. Library errors
(:class:`assb_lmp.core.errors.AssbError`) propagate to the main CLI, which reports them.
TensorFlow is imported only when a subcommand runs (the learn modules import it lazily).

``predict`` and ``gradcam`` use the model that ships with the package unless ``--model DIR``
names another; the older form with the model folder as first argument still works.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.figures import save_gradcam_figure
from assb_lmp.learn.gradcam import gradcam
from assb_lmp.learn.images import WINDOW_UM, prepare_image
from assb_lmp.learn.model import CnnModel, load_model
from assb_lmp.learn.networks import ARCHITECTURES
from assb_lmp.learn.predict import predict_files, save_predictions
from assb_lmp.learn.ship import MAX_BYTES, model_r2, resolve_model_dir, ship_model
from assb_lmp.learn.train import AUGMENTATIONS, TrainConfig, train

logger = logging.getLogger(__name__)



def _levels(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise ModelError(f"--levels expects three numbers VOID,AM,SE, got {text!r}") from exc
    if len(values) != 3:
        raise ModelError(f"--levels expects three numbers VOID,AM,SE, got {text!r}")
    return values  # type: ignore[return-value]


def _image_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model folder (default: the model shipped with assb_lmp)")
    p.add_argument("--levels", default=None, metavar="VOID,AM,SE",
                   help="gray values of void, AM and SE in the input images")
    p.add_argument("--pixel-um", type=float, default=None,
                   help="input pixel size (µm): crop the training window (36 µm) first")
    p.add_argument("--threads", type=int, default=None)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train the CNN on a dataset folder",
        description="Train the CNN (Komori 2022 architecture by default) on the train split "
        "of DATASET_DIR with validation early stopping; write the model, metrics.json "
        "(R², MAE per target on the test split) and figures into --out.")
    p.add_argument("dataset_dir", type=Path, help="dataset folder (manifest.csv, arrays.npz)")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--architecture", choices=sorted(ARCHITECTURES), default=d.architecture,
                   help="komori2022 (published, default), komori2022-bn or resnet (options)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs (%(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate, help="initial Adam rate")
    p.add_argument("--train-fraction", type=float, default=d.train_fraction,
                   help="train on this random fraction of the train split, range (0, 1] "
                   "(learning curves; default 1)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="AdamW decoupled weight decay, range [0, 1) (default 0: Adam)")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="early-stopping patience in epochs (%(default)s)")
    p.add_argument("--augment", choices=AUGMENTATIONS, default=d.augment,
                   help="label-preserving augmentation: d4 = flips + 90° rotations")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=None,
                   help="TensorFlow threads (default: all cores)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop training after this long, keeping the best weights")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.set_defaults(func=cmd_train)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train``, ``predict``, ``gradcam`` and ``ship-model`` subcommands.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers()``. Each subcommand sets
        ``func`` to its handler: call ``args.func(args)``.
    """
    _register_train(subparsers)
    p = subparsers.add_parser(
        "predict", help="predict the nine quantities of images with a trained model",
        description="Predict the nine quantities (stress mean/SD of AM and SE, reaction "
        "area, SE coverage, ...) for each image, each with the model's test R² beside it. "
        "Images that are not 224 x 224 or not three-level are cropped/resized/quantized, "
        "with a note saying what was done.")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="PNG or TIFF")
    p.add_argument("--out", type=Path, default=None,
                   help="write a .csv or .json file instead of printing a table")
    _image_options(p)
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser(
        "gradcam", help="Grad-CAM heat map of one target on one image",
        description="Grad-CAM on the last convolution layer, overlaid on the image "
        "(Komori Fig. 4C).")
    p.add_argument("image", type=Path, nargs="+", metavar="IMAGE", help="PNG or TIFF")
    p.add_argument("--target", default="reaction_area_um2")
    p.add_argument("--out", type=Path, default=Path("gradcam.png"), help="PNG to write")
    p.add_argument("--npy", type=Path, default=None, help="also save the raw map (.npy)")
    _image_options(p)
    p.set_defaults(func=cmd_gradcam)

    p = subparsers.add_parser(
        "ship-model", help="copy a trained model folder into the package data",
        description="Check a model folder (safe loading, test metrics, the command that "
        f"trained it, under {MAX_BYTES / 2**20:.0f} MiB) and copy it into the package's "
        "models/default/, the model predict and gradcam use without --model.")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--command", default=None,
                   help="the command that trained it, if model_info.json lacks it")
    p.add_argument("--dest", type=Path, default=None,
                   help="folder to write (default: the package's models/default)")
    p.set_defaults(func=cmd_ship_model)


def _train_command(args: argparse.Namespace) -> str:
    """The training command with every setting explicit (it reproduces the model)."""
    parts = ["python", "-m", "assb_lmp", "train", str(args.dataset_dir), "--out",
             str(args.out), "--architecture", args.architecture, "--epochs", str(args.epochs),
             "--batch-size", str(args.batch_size), "--lr", repr(args.lr),
             "--train-fraction", repr(args.train_fraction), "--weight-decay",
             repr(args.weight_decay), "--patience", str(args.patience), "--augment",
             args.augment, "--seed", str(args.seed)]
    if args.threads:
        parts += ["--threads", str(args.threads)]
    if args.max_minutes is not None:
        parts += ["--max-minutes", repr(args.max_minutes)]
    if args.no_plots:
        parts.append("--no-plots")
    return shlex.join(parts)


def _fmt(v: float | None, w: int) -> str:
    return f"{v:>{w}.4g}" if v is not None else f"{'-':>{w}}"


def _r2(v: float | None, w: int) -> str:
    """An R² to three decimals, right-aligned in ``w`` characters ("-" when undefined)."""
    return f"{v:>{w}.3f}" if v is not None else f"{'-':>{w}}"


def cmd_train(args: argparse.Namespace) -> int:
    """Handler of ``train``."""
    metrics = train(
        args.dataset_dir, args.out, command=_train_command(args),
        architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, weight_decay=args.weight_decay, patience=args.patience,
        augment=args.augment, train_fraction=args.train_fraction,
        seed=args.seed, threads=args.threads,
        max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
        plots=not args.no_plots)
    s = metrics["split_sizes"]
    held = s.get("holdout", 0) > 0
    print(f"trained the {metrics['architecture']} network on {s['train']} images of "
          f"{args.dataset_dir} (val {s['val']}, test {s['test']}"
          + (f", holdout {s['holdout']}" if held else "") + f"): {metrics['epochs']} "
          f"epochs, best {metrics['best_epoch']}, {metrics['seconds']:.1f} s")
    print(f"{'target':<24} {'R2 test':>9} {'MAE test':>11} {'R2 val':>9} {'R2 params':>9}"
          + (f" {'R2 holdout':>10}" if held else ""))
    for name, m in metrics["targets"].items():
        print(f"{name:<24} {_fmt(m['r2'], 9)} {_fmt(m['mae'], 11)} {_fmt(m['val_r2'], 9)} "
              f"{_fmt(m.get('protocol_r2'), 9)}"
              + (f" {_fmt(m.get('holdout_r2'), 10)}" if held else ""))
    print("R2 params: test R2 of the mean of the train/val cases at the same sweep point "
          "(what the sweep parameters alone explain)")
    if held:
        print(f"R2 holdout: on the {s['holdout']} cases with sweep values held out of "
              f"training {metrics.get('holdout_values')}, structures never trained on")
    print(f"model folder: {args.out}")
    return 0


def _model_and_images(model: Path | None, paths: list[Path]) -> tuple[Path, list[Path]]:
    """The model folder and the images (the old form ``MODEL_DIR IMAGE...`` still works)."""
    if model is None and len(paths) > 1 and paths[0].is_dir():
        return paths[0], paths[1:]
    return resolve_model_dir(model), paths


def _load(folder: Path, threads: int | None) -> tuple[CnnModel, dict[str, float | None]]:
    model = load_model(folder, threads=threads)
    return model, model_r2(folder)


def _print_columns(rows: list[dict], model: CnnModel, r2: dict) -> None:
    """One row per quantity, one column per image, and the model's test R²."""
    names = [Path(r["image"]).name for r in rows]
    width = max(24, *(len(t) for t in model.targets))
    colw = max(12, *(len(n) + 2 for n in names))
    print(f"{'quantity':<{width}} {'unit':<6}" + "".join(f"{n:>{colw}}" for n in names)
          + f"{'test R2':>10}")
    for t, u in zip(model.targets, model.units(), strict=True):
        print(f"{t:<{width}} {u:<6}" + "".join(f"{r['predictions'][t]:>{colw}.4g}"
                                               for r in rows) + _r2(r2.get(t), 10))


def _print_rows(rows: list[dict], model: CnnModel, r2: dict) -> None:
    """One row per image, a header of units and one of the model's test R²."""
    targets = model.targets
    names = [Path(r["image"]).name for r in rows]
    namew = max(8, *(len(n) for n in names))
    colw = [max(10, len(t) + 1) for t in targets]
    print(f"{'image':<{namew}}" + "".join(f"{t:>{w}}" for t, w in zip(targets, colw,
                                                                      strict=True)))
    print(f"{'':<{namew}}" + "".join(f"{'(' + u + ')':>{w}}"
                                     for u, w in zip(model.units(), colw, strict=True)))
    print(f"{'test R2':<{namew}}" + "".join(_r2(r2.get(t), w)
                                            for t, w in zip(targets, colw, strict=True)))
    for n, r in zip(names, rows, strict=True):
        print(f"{n:<{namew}}" + "".join(f"{r['predictions'][t]:>{w}.4g}"
                                        for t, w in zip(targets, colw, strict=True)))


def cmd_predict(args: argparse.Namespace) -> int:
    """Handler of ``predict``."""
    folder, images = _model_and_images(args.model, args.images)
    model, r2 = _load(folder, args.threads)
    rows = predict_files(model, images, levels=_levels(args.levels), pixel_um=args.pixel_um)
    for r in rows:
        for note in r["notes"]:
            print(f"note: {r['image']}: {note}", file=sys.stderr)
    if args.out is not None:
        save_predictions(args.out, model, rows, r2)
        print(f"wrote {len(rows)} predictions to {args.out}")
        return 0
    print(f"model: {folder}; test R2 from its metrics.json says how far to trust each value")
    (_print_columns if len(rows) <= 4 else _print_rows)(rows, model, r2)
    return 0


def cmd_gradcam(args: argparse.Namespace) -> int:
    """Handler of ``gradcam``."""
    folder, images = _model_and_images(args.model, args.image)
    if len(images) != 1:
        raise ModelError(f"gradcam takes one image, got {len(images)}")
    image_path = images[0]
    model, r2 = _load(folder, args.threads)
    image, notes = prepare_image(image_path, image_size=model.image_size,
                                 levels=_levels(args.levels), pixel_um=args.pixel_um,
                                 window_um=float(model.info.get("window_um", WINDOW_UM)))
    gradcam(model, image, args.target)  # traces once
    t0 = time.perf_counter()
    heat, value, cam_notes = gradcam(model, image, args.target)
    ms = 1e3 * (time.perf_counter() - t0)
    for note in notes + cam_notes:
        print(f"note: {image_path}: {note}", file=sys.stderr)
    unit = model.units()[model.targets.index(args.target)]
    save_gradcam_figure(image, heat, args.out,
                        title=f"Grad-CAM {args.target} = {value:.4g} {unit}\n"
                              f"{Path(image_path).name}")
    if args.npy is not None:
        np.save(args.npy, heat)
    print(f"{args.target} = {value:.6g} {unit} (test R2 {_r2(r2.get(args.target), 0)}); "
          f"Grad-CAM {ms:.1f} ms; wrote {args.out}")
    return 0


def cmd_ship_model(args: argparse.Namespace) -> int:
    """Handler of ``ship-model``."""
    info = ship_model(args.model_dir, args.dest, command=args.command)
    size = sum(f["bytes"] for f in info["files"].values())
    print(f"shipped {args.model_dir} ({info['architecture']}, {size / 2**20:.2f} MiB) to "
          f"{info['path']}")
    print(f"trained by: {info['command']}")
    return 0
