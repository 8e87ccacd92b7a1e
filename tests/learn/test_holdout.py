"""Held-out sweep values: the split rule, the dataset rows and the metrics reported apart."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from assb_lmp.cli.main import main
from assb_lmp.core.errors import SpecError
from assb_lmp.learn import dataset
from assb_lmp.spec.targets import TARGETS, r2_score

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


@pytest.fixture
def with_holdout(tiny, tmp_path):
    """A copy of the small synthetic dataset with 4 train rows marked holdout and 3
    excluded (as a sweep with held-out values writes them); (folder, arrays)."""
    folder = tmp_path / "dataset"
    shutil.copytree(tiny, folder)
    arrays = dict(np.load(folder / "arrays.npz"))
    split = arrays["split"].astype("<U8")
    train_rows = np.flatnonzero(split == "train")
    split[train_rows[:4]] = "holdout"
    split[train_rows[4:7]] = "excluded"
    arrays["split"] = split
    np.savez_compressed(folder / "arrays.npz", **arrays)
    info = json.loads((folder / "dataset.json").read_text())
    info["holdout"] = HELD
    (folder / "dataset.json").write_text(json.dumps(info))
    return folder, arrays


@pytest.mark.cnn
def test_training_reports_holdout_r2_apart_and_never_trains_on_it(with_holdout, tmp_path,
                                                                  capsys):
    pytest.importorskip("tensorflow")
    from assb_lmp.learn.model import load_model
    from assb_lmp.learn.predict import predict

    folder, arrays = with_holdout
    split, labels = arrays["split"], arrays["labels"]
    out = tmp_path / "model"
    assert main(["train", str(folder), "--out", str(out), "--epochs", "2", "--seed", "4"]) == 0
    text = capsys.readouterr().out
    assert "R2 holdout" in text and "holdout 4" in text
    metrics = json.loads((out / "metrics.json").read_text())
    sizes = metrics["split_sizes"]
    assert (sizes["train"], sizes["holdout"], sizes["excluded"]) == (
        int((split == "train").sum()), 4, 3)
    assert metrics["holdout_values"] == HELD
    info = json.loads((out / "model_info.json").read_text())
    # standardised with the train rows only: holdout and excluded rows are not in it
    assert np.allclose(info["label_mean"], labels[split == "train"].mean(axis=0))
    # the reported holdout R² is that of the saved model on the holdout rows
    ho = split == "holdout"
    pred = predict(load_model(out), arrays["images"][ho])
    r2 = r2_score(labels[ho], pred)
    base = r2_score(labels[ho], np.broadcast_to(labels[split == "train"].mean(axis=0),
                                                labels[ho].shape))
    for j, t in enumerate(TARGETS):
        m = metrics["targets"][t]
        assert m["holdout_r2"] == pytest.approx(r2[j], rel=1e-4, abs=1e-6)
        assert m["holdout_baseline_r2"] == pytest.approx(base[j], rel=1e-9)
        assert m["holdout_mae"] == pytest.approx(np.abs(pred[:, j] - labels[ho, j]).mean(),
                                                 rel=1e-4)
        assert m["r2"] is not None and m["r2"] != m["holdout_r2"]  # the test R², apart
    with open(out / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(r["split"] == "holdout" for r in rows) == 4
    assert not any(r["split"] == "excluded" for r in rows)
    # a model with holdout metrics predicts like any other
    image = str(next((folder / "images").glob("*.png")))
    assert main(["predict", image, "--model", str(out)]) == 0
    assert "test R2" in capsys.readouterr().out
