"""Hand-made sweep folders (no LAMMPS) for the dataset and label-noise tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from assb_lmp.analysis import imaging
from assb_lmp.spec.targets import TARGETS


def fake_case(folder: Path, cid: str, rng: np.random.Generator, *, labels: bool = True,
               summary: bool = True, size: int = 224) -> np.ndarray:
    d = folder / cid
    d.mkdir(parents=True)
    img = rng.choice(np.array([0, 128, 255], dtype=np.uint8), size=(size, size))
    if labels:
        imaging.save_png(d / "image.png", img)
        lab = {t: float(rng.normal()) for t in TARGETS}
        lab["info"] = {"stage": "press"}
        (d / "labels.json").write_text(json.dumps(lab))
    if summary:
        (d / "summary.json").write_text(json.dumps({"case": cid, "status": "complete"}))
    return img


def fake_sweep(folder: Path, n: int, *, shared: int = 1, seed: int = 0,
                skip: tuple[int, ...] = (), holdout: dict | None = None) -> list[dict]:
    """A sweep folder with ``n`` cases; ``shared`` consecutive cases share a seed;
    ``holdout`` is the sweep's ``split.holdout``."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        cid = f"f0p{50 + i % 5}_s{i:03d}"
        cases.append({"id": cid, "seed": 1000 + i // shared, "structure": i // 5,
                      "params": {"packing.am_area_fraction": 0.5 + 0.01 * (i % 5),
                                 "geometry.width_um": 46 + i % 3},
                      "spec_hash": "x"})
        if i not in skip:
            fake_case(folder, cid, rng)
    (folder / "cases.json").write_text(json.dumps({
        "sweep": "fake", "axes": {"packing.am_area_fraction": {}, "geometry.width_um": {}},
        "split": {"train": 0.64, "val": 0.16, "test": 0.2, "seed": 0,
                  "holdout": holdout or {}}, "cases": cases}))
    return cases
