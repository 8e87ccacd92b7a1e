"""The tiny sweep the sweep tests run with real LAMMPS, and helpers to compare results.

Four 12 × 10 µm cells with 3 µm AM pressed from 12 to 10 µm, about 3 s each.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import yaml

from assb_lmp.sweep import Sweep, load_sweep

REPO_DIR = Path(__file__).resolve().parents[2]
MPIRUN = Path(sys.executable).parent / "mpirun"
TINY = {
    "name": "tiny",
    "seed": 7,
    "base": {
        "geometry": {"width_um": 12, "height_um": 10},
        "packing": {"am_area_fraction": 0.4, "am_diameter_mean_um": 3.0,
                    "am_diameter_sd_um": 0.0},
        "stages": [{"kind": "settle", "pressure_mpa": 1.0},
                   {"kind": "press", "mode": "width", "final_width_um": 10.0}],
    },
    "axes": {"packing.am_area_fraction": {"label": "f", "values": [0.3, 0.4]}},
    "structures": 2,
}
TINY_IDS = ["f0p3_s00", "f0p3_s01", "f0p4_s00", "f0p4_s01"]


def write(path: Path, data: dict) -> Path:
    """Write a sweep mapping as YAML; returns the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(data: dict, folder: Path, name: str = "sweep.yaml") -> Sweep:
    """Write a sweep mapping into ``folder`` and load it."""
    return load_sweep(write(folder / name, data))


def tiny_with(**changes) -> dict:
    """A copy of the tiny sweep with top-level keys changed."""
    data = json.loads(json.dumps(TINY))
    data.update(changes)
    return data


def env() -> dict:
    """The environment of a ``python -m assb_lmp`` subprocess running this checkout."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO_DIR) + os.pathsep + out.get("PYTHONPATH", "")
    return out


#: Manifest columns that measure a run (seconds, memory), not its results.
RUN_COLUMNS = ("lammps_s", "peak_rss_mib")


def manifest(folder: Path, drop: tuple[str, ...] = RUN_COLUMNS) -> list[dict[str, str]]:
    """The rows of a dataset's manifest.csv, without the columns ``drop``."""
    with open(folder / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def same_dataset(a: Path, b: Path) -> None:
    """Assert that two dataset folders hold the same manifest (but for the run's seconds
    and memory) and the same arrays."""
    assert manifest(a) == manifest(b)
    with np.load(a / "arrays.npz") as x, np.load(b / "arrays.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), k
