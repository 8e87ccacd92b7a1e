"""A synthetic image dataset: random two-phase disc images with labels read off the image.

:func:`make_synthetic_dataset` writes a dataset folder that follows the contract of
``ARCHITECTURE.md`` (``manifest.csv`` + ``arrays.npz`` + images) without running any DEM:
random discs of two phases drawn into square images, with labels that are real functions
of the image (phase fractions, AM-SE interface length, contact counts) plus noisy "stress"
targets. It exists to exercise the CNN stage quickly; its numbers are not physics.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np

from assb_lmp.analysis.imaging import AM_GRAY, SE_WHITE, VOID
from assb_lmp.core.io import atomic_write_json, atomic_write_text
from assb_lmp.learn.images import WINDOW_UM
from assb_lmp.spec.targets import TARGETS

logger = logging.getLogger(__name__)


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


Disc = tuple[float, float, float]


def _draw_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[Disc],
                                                               list[Disc]]:
    """Random AM discs, then SE discs on the remaining void; (image, AM discs, SE discs)."""
    img = np.zeros((size, size), dtype=np.uint8)
    scale = size / 224.0
    am_target = rng.uniform(0.25, 0.60)
    am_discs: list[Disc] = []
    tries, am_px = 0, 0
    while am_px < am_target * size * size and tries < 2000:
        tries += 1
        r = rng.uniform(12.0, 28.0) * scale
        cx, cy = rng.uniform(0, size, 2)
        if any((cx - x) ** 2 + (cy - y) ** 2 < (r + q) ** 2 for x, y, q in am_discs):
            continue
        am_px += _paint_disc(img, cx, cy, r, AM_GRAY)
        am_discs.append((cx, cy, r))
    se_fill = rng.uniform(0.3, 0.95)
    r_se = rng.uniform(2.5, 4.5) * scale
    void_area = float((img == VOID).sum())
    n_se = int(se_fill * void_area / (np.pi * r_se * r_se))
    se_discs: list[Disc] = []
    for cx, cy in rng.uniform(0, size, (n_se, 2)):
        if _paint_disc(img, cx, cy, r_se, SE_WHITE, only_on=VOID):
            se_discs.append((cx, cy, r_se))
    return img, am_discs, se_discs


def _touching(se_discs: list[Disc], am_discs: list[Disc]) -> int:
    """SE discs touching AM: an SE disc whose rim (r + 1 px) reaches an AM disc."""
    if not se_discs or not am_discs:
        return 0
    s_arr, a_arr = np.asarray(se_discs), np.asarray(am_discs)
    d2 = ((s_arr[:, None, :2] - a_arr[None, :, :2]) ** 2).sum(-1)
    reach = (s_arr[:, None, 2] + a_arr[None, :, 2] + 1.0) ** 2
    return int((d2 <= reach).any(axis=1).sum())


def _image_labels(rng: np.random.Generator, img: np.ndarray, am_discs: list[Disc],
                  se_discs: list[Disc]) -> dict[str, float]:
    """The nine targets of an image: pixel measures, plus noisy functions for stresses."""
    px_um = WINDOW_UM / img.shape[0]
    am, se, void = img == AM_GRAY, img == SE_WHITE, img == VOID
    am_se_px = int((am & _neighbours(se)).sum())
    am_edge_px = int((am & _neighbours(~am)).sum())
    touching = _touching(se_discs, am_discs)
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
    return {k: float(v) for k, v in labels.items()}


def _synthetic_case(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict, dict]:
    """Draw one synthetic image; return (image, labels, particles-by-phase in µm)."""
    img, am_discs, se_discs = _draw_image(rng, size)
    labels = _image_labels(rng, img, am_discs, se_discs)
    px_um = WINDOW_UM / size
    particles = {
        "AM": [(x * px_um, y * px_um, r * px_um) for x, y, r in am_discs],
        "SE": [(x * px_um, y * px_um, r * px_um) for x, y, r in se_discs],
    }
    return img, labels, particles


def _splits(n: int, seed: int, split: tuple[float, float, float]) -> np.ndarray:
    """train/val/test per image: the fractions filled along a seeded permutation."""
    fr = np.asarray(split, dtype=float) / float(sum(split))
    n_train = int(round(fr[0] * n))
    n_val = min(int(round(fr[1] * n)), n - n_train)
    order = np.random.default_rng(seed).permutation(n)
    splits = np.empty(n, dtype="<U5")
    splits[order[:n_train]] = "train"
    splits[order[n_train:n_train + n_val]] = "val"
    splits[order[n_train + n_val:]] = "test"
    return splits


def _csv_text(header: list, rows: list[list]) -> str:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(header)
    w.writerows(rows)
    return text.getvalue()


def _write_particles(case_dir: Path, labels: dict[str, float], parts: dict,
                     rng: np.random.Generator) -> None:
    """``particles.csv`` with stresses drawn from N(labelled mean, labelled SD²) per phase."""
    case_dir.mkdir(parents=True, exist_ok=True)
    rows, pid = [], 0
    for phase, key in (("AM", "am"), ("SE", "se")):
        mu, sd = labels[f"{key}_stress_mean_mpa"], abs(labels[f"{key}_stress_sd_mpa"])
        stress = rng.normal(mu, sd, len(parts[phase]))
        for (x, y, r), s in zip(parts[phase], stress, strict=True):
            pid += 1
            rows.append([pid, phase, f"{x:.4f}", f"{y:.4f}", f"{r:.4f}", f"{s:.4f}"])
    atomic_write_text(case_dir / "particles.csv", _csv_text(
        ["id", "phase", "x_um", "y_um", "radius_um", "stress_mpa"], rows))


def make_synthetic_dataset(
    out_dir: str | Path,
    n: int,
    seed: int,
    *,
    size: int = 224,
    split: tuple[float, float, float] = (0.64, 0.16, 0.20),
    write_cases: bool = False,
) -> Path:
    """Write a synthetic dataset folder (``manifest.csv``, ``arrays.npz``, ``images/``,
    and ``dataset.json`` with ``"synthetic": true``).

    Each image holds random AM discs (gray 128) and small SE discs (white 255) on void
    (black 0). Labels, in the order of :data:`assb_lmp.spec.targets.TARGETS`, are functions
    of the drawn image: ``porosity`` and ``am_area_fraction`` are pixel fractions,
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
    from PIL import Image

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    splits = _splits(n, seed, split)
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
            _write_particles(out.parent / str(case_ids[i]), lab, parts, rng)
    atomic_write_text(out / "manifest.csv",
                      _csv_text(["case_id", "image", "split", *TARGETS, "seed"], rows))
    np.savez_compressed(out / "arrays.npz", images=images, labels=labels,
                        targets=np.array(TARGETS), case_ids=case_ids, split=splits)
    counts = {k: int((splits == k).sum()) for k in ("train", "val", "test")}
    atomic_write_json(out / "dataset.json", {
        "synthetic": True, "generator": "assb_lmp.synthetic.make_synthetic_dataset",
        "n": n, "seed": seed, "size": size, "split": counts, "targets": list(TARGETS)})
    logger.info("synthetic dataset: %d images (%d train, %d val, %d test) in %s",
                n, counts["train"], counts["val"], counts["test"], out)
    return out
