"""Held-out sweep values: the split rule, the dataset rows and the metrics reported apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.learn import dataset

from .fakes import fake_sweep

HELD = {"packing.am_area_fraction": [0.52]}


def test_held_out_cases_with_their_own_seeds_are_all_holdout():
    """seed_per: case: every held-out case has a structure no other case has."""
    seeds = list(range(100))
    held = [s % 5 == 2 for s in seeds]
    split = dataset.assign_split(seeds, held=held)
    assert [sp for sp, h in zip(split, held, strict=True) if h] == ["holdout"] * 20
    rest = [sp for sp, h in zip(split, held, strict=True) if not h]
    # the fractions are those of the 80 cases that are not held out
    assert [rest.count(s) for s in ("train", "val", "test")] == [51, 13, 16]
    assert dataset.assign_split(seeds, held=held) == split  # deterministic
    assert dataset.assign_split(seeds) == dataset.assign_split(seeds, held=[False] * 100)


def test_held_out_cases_whose_structure_is_trained_on_are_excluded():
    """seed_per: structure: 40 structures at 5 points; point 2 is held out. A held-out case
    is holdout only when its structure is in the test split, else excluded."""
    seeds = [1000 + s for s in range(40) for _ in range(5)]
    held = [p == 2 for s in range(40) for p in range(5)]
    split = dataset.assign_split(seeds, (0.6, 0.2, 0.2), split_seed=3, held=held)
    of_seed: dict[int, set[str]] = {}
    for s, sp, h in zip(seeds, split, held, strict=True):
        if not h:
            of_seed.setdefault(s, set()).add(sp)
    assert all(len(v) == 1 for v in of_seed.values())  # a structure stays in one split
    for s, sp, h in zip(seeds, split, held, strict=True):
        if h:
            assert sp == ("holdout" if of_seed[s] == {"test"} else "excluded")
        else:
            assert sp in ("train", "val", "test")
    n_test_structures = sum(v == {"test"} for v in of_seed.values())
    assert split.count("holdout") == n_test_structures == 8
    assert split.count("excluded") == 32


def test_assign_split_checks_the_marks():
    with pytest.raises(SpecError, match="2 held-out marks for 3 cases"):
        dataset.assign_split([1, 2, 3], held=[True, False])


def test_export_writes_holdout_and_excluded_rows(tmp_path):
    """Hand-made folders of 8 structures × 5 AM fractions (seeds shared per structure)."""
    cases = fake_sweep(tmp_path, 40, shared=5, holdout=HELD)
    info = dataset.export(tmp_path)
    assert info["holdout"] == HELD
    assert sum(info["split"].values()) == 40
    with np.load(tmp_path / "dataset" / "arrays.npz") as a:
        split, seeds = a["split"].astype(str), a["seeds"]
    held = np.array([c["params"]["packing.am_area_fraction"] == 0.52 for c in cases])
    assert set(split[held]) <= {"holdout", "excluded"}
    assert not set(split[~held]) & {"holdout", "excluded"}
    test_seeds = set(seeds[split == "test"].tolist())
    assert info["split"]["holdout"] >= 1 and info["split"]["excluded"] >= 1
    assert set(seeds[split == "holdout"].tolist()) <= test_seeds
    assert not set(seeds[split == "holdout"].tolist()) & set(
        seeds[np.isin(split, ("train", "val"))].tolist())
    assert info["split"]["holdout"] == len(test_seeds) and info["split"]["excluded"] == (
        8 - len(test_seeds))
    text = (tmp_path / "dataset" / "manifest.csv").read_text()
    assert text.count(",holdout,") == info["split"]["holdout"]
    ds = dataset.load_dataset(tmp_path / "dataset")
    assert len(ds.index("holdout")) == info["split"]["holdout"]
    assert json.loads((tmp_path / "dataset" / "dataset.json").read_text())["holdout"] == HELD


def test_a_dataset_without_holdout_still_loads(tmp_path):
    """A dataset written before the holdout split: no holdout in dataset.json or arrays."""
    fake_sweep(tmp_path, 10)
    dataset.export(tmp_path)
    info_path = tmp_path / "dataset" / "dataset.json"
    info = json.loads(info_path.read_text())
    del info["holdout"]
    info["split"] = {k: info["split"][k] for k in ("train", "val", "test")}
    info_path.write_text(json.dumps(info))
    ds = dataset.load_dataset(tmp_path / "dataset")
    assert len(ds.index("holdout")) == 0 and len(ds.split) == 10
