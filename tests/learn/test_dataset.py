"""Dataset export, split and reading back (no LAMMPS: hand-made sweep folders)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from assb_lmp.analysis import imaging
from assb_lmp.core.errors import AnalysisError, ModelError, SpecError
from assb_lmp.learn import dataset
from assb_lmp.spec.targets import TARGETS

from .fakes import fake_case, fake_sweep


def test_split_exact_counts_for_500_structures():
    split = dataset.assign_split(list(range(500)))
    assert [split.count(s) for s in ("train", "val", "test")] == [320, 80, 100]
    assert dataset.assign_split(list(range(500))) == split  # deterministic
    other = dataset.assign_split(list(range(500)), split_seed=1)
    assert other != split


def test_split_keeps_a_structure_in_one_split():
    seeds = [s for s in range(60) for _ in range(5)]  # 60 structures × 5 cases
    split = dataset.assign_split(seeds, (0.64, 0.16, 0.20))
    by_seed: dict[int, set] = {}
    for s, sp in zip(seeds, split, strict=True):
        by_seed.setdefault(s, set()).add(sp)
    assert all(len(v) == 1 for v in by_seed.values())
    counts = [split.count(s) for s in ("train", "val", "test")]
    assert abs(counts[0] - 192) <= 5 and abs(counts[2] - 60) <= 5


def test_split_is_stable_when_cases_disappear():
    seeds = list(range(200))
    full = dict(zip(seeds, dataset.assign_split(seeds), strict=True))
    fewer = [s for s in seeds if s % 17]
    part = dict(zip(fewer, dataset.assign_split(fewer), strict=True))
    moved = sum(full[s] != part[s] for s in fewer)
    assert moved <= 12  # only cases near the split boundaries move


def test_split_rejects_bad_fractions():
    with pytest.raises(SpecError, match="fractions"):
        dataset.assign_split([1, 2], (0.5, -0.1, 0.6))


def test_export_writes_the_contract(tmp_path):
    cases = fake_sweep(tmp_path, 25, skip=(3,))
    info = dataset.export(tmp_path)
    ds = tmp_path / "dataset"
    assert info["n"] == 24 and info["pending"] == 1
    assert sum(info["split"].values()) == 24
    with open(ds / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:3 + len(TARGETS)] == ["case_id", "image", "split", *TARGETS]
    assert list(rows[0])[-4:] == ["packing.am_area_fraction", "geometry.width_um", "structure",
                                  "seed"]
    ids = [c["id"] for i, c in enumerate(cases) if i != 3]
    assert [r["case_id"] for r in rows] == ids  # the sweep's case order
    for r in rows:
        assert (ds / r["image"]).is_file()
        lab = json.loads((tmp_path / r["case_id"] / "labels.json").read_text())
        assert float(r["porosity"]) == lab["porosity"]  # full precision
    with np.load(ds / "arrays.npz") as a:
        assert a["images"].dtype == np.uint8 and a["images"].shape == (24, 224, 224)
        assert a["labels"].dtype == np.float64 and a["labels"].shape == (24, len(TARGETS))
        assert tuple(a["targets"]) == TARGETS
        assert list(a["case_ids"]) == ids
        assert set(a["split"]) <= {"train", "val", "test"}
        assert a["params"].shape == (24, 2)
        assert np.array_equal(a["images"][0], imaging.load_png(tmp_path / ids[0] / "image.png"))
        assert a["labels"][1, TARGETS.index("porosity")] == float(rows[1]["porosity"])


def test_export_is_loadable_by_the_cnn_stage(tmp_path):
    fake_sweep(tmp_path, 10)
    dataset.export(tmp_path)
    ds = dataset.load_dataset(tmp_path / "dataset")
    assert ds.images.shape == (10, 224, 224) and len(ds.index("train")) > 0


def test_export_groups_shared_seeds(tmp_path):
    fake_sweep(tmp_path, 30, shared=3)
    dataset.export(tmp_path)
    with np.load(tmp_path / "dataset" / "arrays.npz") as a:
        seeds, split = a["seeds"], a["split"]
    for s in set(seeds.tolist()):
        assert len(set(split[seeds == s].tolist())) == 1


def test_export_replaces_and_is_repeatable(tmp_path):
    fake_sweep(tmp_path, 8)
    dataset.export(tmp_path)
    first = (tmp_path / "dataset" / "manifest.csv").read_text()
    (tmp_path / "dataset" / "stale.txt").write_text("old")
    dataset.export(tmp_path)
    assert (tmp_path / "dataset" / "manifest.csv").read_text() == first
    assert not (tmp_path / "dataset" / "stale.txt").exists()
    assert not list(tmp_path.glob(".dataset*"))


def test_export_skips_unlabelled_and_reports_empty(tmp_path):
    rng = np.random.default_rng(1)
    fake_case(tmp_path, "a_s00", rng, labels=False)
    with pytest.raises(AnalysisError, match="no finished case"):
        dataset.export(tmp_path)
    fake_case(tmp_path, "b_s00", rng)
    info = dataset.export(tmp_path)  # a folder of hand-run cases (no cases.json)
    assert info["n"] == 1 and "a_s00" in info["skipped"]


def test_export_rejects_missing_folder_and_bad_labels(tmp_path):
    with pytest.raises(AnalysisError, match="no such folder"):
        dataset.export(tmp_path / "nope")
    fake_sweep(tmp_path, 3)
    lab = tmp_path / "f0p50_s000" / "labels.json"
    lab.write_text(json.dumps({"porosity": 0.1}))
    with pytest.raises(AnalysisError, match="missing"):
        dataset.export(tmp_path)


def test_cli_dataset(tmp_path, capsys):
    from assb_lmp.cli.main import main

    fake_sweep(tmp_path, 6)
    assert main(["dataset", str(tmp_path), "--split", "0.5,0.25,0.25"]) == 0
    out = capsys.readouterr().out
    assert "dataset: 6 cases" in out
    info = json.loads((tmp_path / "dataset" / "dataset.json").read_text())
    assert info["fractions"] == [0.5, 0.25, 0.25]


def test_load_dataset_checks_the_contract(tmp_path):
    with pytest.raises(ModelError, match="arrays.npz is missing"):
        dataset.load_dataset(tmp_path)
    fake_sweep(tmp_path, 10)
    ds_dir = tmp_path / "dataset"
    dataset.export(tmp_path)
    arrays = dict(np.load(ds_dir / "arrays.npz"))
    arrays["labels"][2, 0] = np.nan  # a row that training must drop
    np.savez_compressed(ds_dir / "arrays.npz", **arrays)
    ds = dataset.load_dataset(ds_dir)
    assert len(ds.images) == 9 and arrays["case_ids"][2] not in ds.case_ids
    arrays["split"] = np.array(["train"] * 9 + ["bogus"])
    np.savez_compressed(ds_dir / "arrays.npz", **arrays)
    with pytest.raises(ModelError, match="unknown split names"):
        dataset.load_dataset(ds_dir)
    del arrays["labels"]
    np.savez_compressed(ds_dir / "arrays.npz", **arrays)
    with pytest.raises(ModelError, match="missing array"):
        dataset.load_dataset(ds_dir)
