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
Cases with a value that the sweep holds out (``split.holdout``) are in none of the three:
they are ``holdout`` (never trained on, reported apart) or ``excluded`` (their structure
is in train / val), see :func:`assign_split`.

The dataset is written to a temporary folder and swapped into place, so a reader never
sees a half-written dataset. :func:`load_dataset` reads it back for training, checked
against the contract. How learnable its labels are is :mod:`assb_lmp.learn.noise`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assb_lmp.analysis import imaging
from assb_lmp.core.errors import AnalysisError, ModelError, SpecError
from assb_lmp.core.io import atomic_write_json, atomic_write_text, read_json
from assb_lmp.learn.images import IMAGE_SIZE
from assb_lmp.spec.targets import TARGETS
from assb_lmp.sweep.spec import is_held_out
from assb_lmp.sweep.store import METRIC_COLUMNS, case_metrics

log = logging.getLogger(__name__)

DATASET_DIR = "dataset"
SPLITS = ("train", "val", "test")
#: Every split name: the three above, cases with held-out sweep values never trained on
#: (``holdout``) and those whose structure training has seen (``excluded``).
ALL_SPLITS = (*SPLITS, "holdout", "excluded")
DEFAULT_FRACTIONS = (0.64, 0.16, 0.20)
#: Arrays of ``arrays.npz`` that the contract requires.
CONTRACT_ARRAYS = ("images", "labels", "targets", "case_ids", "split")


def _order_key(split_seed: int, seed: int) -> str:
    return hashlib.sha256(f"assb_lmp-split:{int(split_seed)}:{int(seed)}".encode()).hexdigest()


def _fill(counts: dict[int, int], fr: np.ndarray, split_seed: int) -> dict[int, str]:
    """Train / val / test of each seed: seeds in hash order fill the fractions of the
    ``sum(counts)`` cases (a seed goes where the middle of its cases falls)."""
    n = sum(counts.values())
    n_test = int(round(fr[2] * n))
    n_val = min(int(round(fr[1] * n)), n - n_test)
    bounds = (n - n_val - n_test, n - n_test)
    order = sorted(counts, key=lambda s: (_order_key(split_seed, s), s))
    which: dict[int, str] = {}
    filled = 0
    for s in order:
        mid = filled + 0.5 * counts[s]
        which[s] = "train" if mid < bounds[0] else "val" if mid < bounds[1] else "test"
        filled += counts[s]
    return which


def assign_split(seeds: Sequence[int], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 split_seed: int = 0, held: Sequence[bool] | None = None) -> list[str]:
    """Train / validation / test split by structure seed, and the held-out cases.

    The cases that are not held out fill the fractions, seed by seed in an order fixed by
    a hash of (split seed, structure seed). A held-out case (``held``: it has a held-out
    sweep value) is never in train / val / test: it is ``holdout`` when no case of its
    structure seed is in train or val (its seed is in the test split, or only held-out
    cases have it, as with ``seed_per: case``), and ``excluded`` otherwise, since the
    network has seen its structure (``seed_per: structure``, or an axis with
    ``in_seed: false``).

    Parameters
    ----------
    seeds : sequence of int
        The structure seed of each case; cases with equal seeds get the same split.
    fractions : (float, float, float)
        Fractions of train, val, test (normalised), of the cases that are not held out.
    split_seed : int
        Seed of the order in which structure seeds fill the splits.
    held : sequence of bool, optional
        Whether each case has a held-out value (default: none has).

    Returns
    -------
    list of str
        ``train``, ``val``, ``test``, ``holdout`` or ``excluded`` for each case.

    Raises
    ------
    SpecError
        On bad fractions, or ``held`` of another length than ``seeds``.
    """
    fr = np.asarray(list(fractions), dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not math.isfinite(fr.sum()) or fr.sum() <= 0:
        raise SpecError(f"split fractions must be three non-negative numbers with a positive "
                        f"sum, got {list(fractions)}")
    held = [False] * len(seeds) if held is None else [bool(h) for h in held]
    if len(held) != len(seeds):
        raise SpecError(f"{len(held)} held-out marks for {len(seeds)} cases")
    counts: dict[int, int] = {}  # cases that are not held out, per seed
    for s, h in zip(seeds, held, strict=True):
        counts[int(s)] = counts.get(int(s), 0) + (not h)
    which = _fill({s: c for s, c in counts.items() if c}, fr / fr.sum(), split_seed)
    out = []
    for s, h in zip(seeds, held, strict=True):
        sp = which.get(int(s), "test")  # a seed of held-out cases only: never trained on
        out.append(("holdout" if sp == "test" else "excluded") if h else sp)
    return out


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
    data = read_json(path, "labels", AnalysisError)
    missing = [t for t in TARGETS if t not in data]
    if missing:
        raise AnalysisError(f"{path}: labels {missing} are missing")
    out = []
    for t in TARGETS:
        v = data[t]
        out.append(float("nan") if v is None else float(v))
    return out


def _read_image(path: Path) -> np.ndarray:
    try:
        img = np.asarray(imaging.load_png(path))
    except AnalysisError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
        raise AnalysisError(f"{path}: cannot read the image: {exc}") from None
    if img.ndim != 2 or img.dtype != np.uint8:
        raise AnalysisError(f"{path}: expected an 8-bit gray image, got {img.dtype} {img.shape}")
    return img


def _summary_seed(path: Path) -> int:
    """The seed a case's ``summary.json`` records (0 when it records none)."""
    try:
        return int(read_json(path, "case summary", AnalysisError).get("seed", 0))
    except (AnalysisError, ValueError):
        return 0


def _case_entries(sweep_dir: Path) -> tuple[list[dict], list[str], dict]:
    """Case entries (id, seed, structure, params), parameter names and split settings."""
    cases_file = sweep_dir / "cases.json"
    if cases_file.is_file():
        info = read_json(cases_file, "sweep case list", AnalysisError)
        names = list(info.get("axes", {}))
        return info["cases"], names, info.get("split", {})
    # a folder of cases run by hand: every subfolder with a summary
    entries = [{"id": sub.name, "seed": _summary_seed(sub / "summary.json"),
                "structure": None, "params": {}}
               for sub in sorted(p for p in sweep_dir.iterdir() if p.is_dir())
               if (sub / "summary.json").is_file()]
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


def _collect(sweep_dir: Path, entries: list[dict]) -> tuple[list[_Row], dict[str, str], int]:
    """Rows of the finished, labelled cases; skipped case id → why; pending count."""
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
    if rows[0].image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        log.warning("dataset images are %s, not the contract's %d × %d", rows[0].image.shape,
                    IMAGE_SIZE, IMAGE_SIZE)
    bad = [r.case_id for r in rows if not np.isfinite(r.labels).all()]
    if bad:
        log.warning("%d case(s) have labels that are not finite (kept; training drops them): "
                    "%s", len(bad), bad[:5])
    return rows, skipped, pending


def _write_manifest(folder: Path, rows: list[_Row], split: list[str], names: list[str]) -> None:
    """``manifest.csv`` and the copies of the images under ``images/``."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["case_id", "image", "split", *TARGETS, *METRIC_COLUMNS, *names, "structure",
                "seed"])
    for r, sp in zip(rows, split, strict=True):
        rel = f"images/{r.case_id}.png"
        shutil.copyfile(r.image_src, folder / rel)
        metrics = case_metrics(r.image_src.parent)  # the case folder
        w.writerow([r.case_id, rel, sp, *(_fmt(v) for v in r.labels),
                    *(_fmt(metrics[k]) for k in METRIC_COLUMNS),
                    *(_fmt(r.params.get(k)) for k in names), _fmt(r.structure), r.seed])
    atomic_write_text(folder / "manifest.csv", text.getvalue())


def _write_arrays(path: Path, rows: list[_Row], split: list[str], names: list[str]) -> None:
    """``arrays.npz``: the contract's arrays, then seeds, structures and sweep parameters."""
    params = np.full((len(rows), len(names)), np.nan)
    for i, r in enumerate(rows):
        for j, k in enumerate(names):
            v = r.params.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                params[i, j] = float(v)
    np.savez_compressed(
        path,
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


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace the folder ``out`` by ``tmp`` (the old one is removed after the rename)."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


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

    The held-out sweep values are the sweep's ``split.holdout`` (``cases.json``); the
    cases with one go to the ``holdout`` or ``excluded`` split (:func:`assign_split`).

    Returns
    -------
    dict
        ``path``, ``n`` and ``split`` counts (train, val, test, holdout, excluded),
        ``holdout`` (axis key → held-out values), ``skipped`` (case id → why),
        ``pending`` count.

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
    holdout = dict(split_cfg.get("holdout") or {})
    rows, skipped, pending = _collect(sweep_dir, entries)
    split = assign_split([r.seed for r in rows], fr, sseed,
                         [is_held_out(r.params, holdout) for r in rows])
    if holdout and "holdout" not in split:
        log.warning("no case is in the holdout split: every case with a held-out value %s "
                    "shares its structure with a train/val case (excluded); raise the test "
                    "fraction or the number of structures", holdout)

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "images").mkdir(parents=True)
    try:
        _write_manifest(tmp, rows, split, names)
        _write_arrays(tmp / "arrays.npz", rows, split, names)
        info = {"sweep_dir": str(sweep_dir), "synthetic": False, "n": len(rows),
                "split": {s: split.count(s) for s in ALL_SPLITS},
                "fractions": list(fr), "split_seed": sseed, "holdout": holdout,
                "parameters": names,
                "skipped": skipped, "pending": pending, "targets": list(TARGETS)}
        atomic_write_json(tmp / "dataset.json", info)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info["path"] = str(out)
    log.info("dataset: %d cases (%s) in %s", len(rows),
             ", ".join(f"{k} {v}" for k, v in info["split"].items()), out)
    return info


# ------------------------------------------------------------------------- reading back


def dataset_description(dataset_dir: str | Path) -> dict[str, Any]:
    """Content of ``dataset.json`` ({} when the folder has none).

    :func:`export` writes it for a sweep; the synthetic factory writes one with
    ``"synthetic": true``, so that a model trained on made-up labels says so.
    """
    path = Path(dataset_dir) / "dataset.json"
    if not path.is_file():
        return {}
    info = read_json(path, "dataset description", ModelError)
    return info if isinstance(info, dict) else {}


@dataclass
class Dataset:
    """A dataset folder in memory (see ARCHITECTURE.md, "Dataset").

    Attributes
    ----------
    images : ndarray of uint8, shape (N, H, W)
    labels : ndarray of float64, shape (N, T)
    targets : tuple of str
    case_ids : ndarray of str, shape (N,)
    split : ndarray of str, shape (N,), values train/val/test/holdout/excluded
    path : Path
    """

    images: np.ndarray
    labels: np.ndarray
    targets: tuple[str, ...]
    case_ids: np.ndarray
    split: np.ndarray
    path: Path

    def index(self, name: str) -> np.ndarray:
        """Row indices of one split."""
        return np.flatnonzero(self.split == name)


def _read_contract_arrays(npz: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in CONTRACT_ARRAYS}
    except KeyError as exc:
        raise ModelError(f"{npz}: missing array {exc}") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read {npz}: {exc}") from exc


def _check_contract(npz: Path, images: np.ndarray, labels: np.ndarray,
                    arrays: dict[str, np.ndarray], targets: tuple[str, ...]) -> np.ndarray:
    """Check shapes and dtypes; return the split names as str."""
    n = len(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ModelError(f"{npz}: images must be uint8 (N, H, H), got {images.dtype} "
                         f"{images.shape}")
    if labels.shape != (n, len(targets)):
        raise ModelError(f"{npz}: labels {labels.shape} do not match {n} images and "
                         f"{len(targets)} targets")
    if len(arrays["case_ids"]) != n or len(arrays["split"]) != n:
        raise ModelError(f"{npz}: case_ids/split lengths differ from {n} images")
    split = np.asarray(arrays["split"]).astype(str)
    bad = sorted(set(split) - set(ALL_SPLITS))
    if bad:
        raise ModelError(f"{npz}: unknown split names {bad} (allowed: {list(ALL_SPLITS)})")
    return split


def load_dataset(dataset_dir: str | Path) -> Dataset:
    """Read ``DATASET_DIR/arrays.npz`` and check it against the dataset contract.

    Rows whose labels are not finite are dropped with a warning.

    Raises
    ------
    ModelError
        Missing file, wrong shapes or dtypes, unknown split names.
    """
    folder = Path(dataset_dir)
    npz = folder / "arrays.npz"
    if not npz.is_file():
        raise ModelError(f"{folder} is not a dataset folder: {npz.name} is missing")
    arrays = _read_contract_arrays(npz)
    images, labels = arrays["images"], np.asarray(arrays["labels"], dtype=np.float64)
    targets = tuple(str(t) for t in arrays["targets"])
    split = _check_contract(npz, images, labels, arrays, targets)
    if targets != TARGETS:
        log.warning("dataset targets %s differ from the default nine; training on them",
                    list(targets))
    if images.shape[1] != IMAGE_SIZE:
        log.warning("dataset images are %d px, not the contract's %d",
                    images.shape[1], IMAGE_SIZE)
    case_ids = np.asarray(arrays["case_ids"])
    finite = np.isfinite(labels).all(axis=1)
    if not finite.all():
        log.warning("dropping %d rows with non-finite labels: %s", int((~finite).sum()),
                    list(case_ids[~finite][:10]))
    return Dataset(images[finite], labels[finite], targets, case_ids.astype(str)[finite],
                   split[finite], folder)
