"""A sweep that holds out an AM fraction: the finished tiny sweep (real LAMMPS) given a
``split.holdout`` reuses every case and writes the held-out ones to the holdout split."""

from __future__ import annotations

import json
import shutil

import numpy as np

from assb_lmp.cli.main import main
from assb_lmp.sweep.store import CASES_FILE

from .tiny import TINY_IDS, manifest, tiny_with, write


def test_holdout_rows_of_a_real_sweep(tiny, tmp_path, capsys):
    _, ref = tiny
    out = tmp_path / "held"
    shutil.copytree(ref, out, ignore=shutil.ignore_patterns("dataset"))
    mtime = (out / "f0p4_s00" / "summary.json").stat().st_mtime_ns
    # 0.4 as a user may write it; seed_per: case, so every held-out case has its own seed
    spec = write(tmp_path / "held.yaml", tiny_with(split={
        "train": 0.5, "val": 0.0, "test": 0.5,
        "holdout": {"packing.am_area_fraction": [0.40000000000001]}}))
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "4 done" in text and "ran 0 case(s)" in text
    assert "dataset: 4 cases (train 1, val 0, test 1, holdout 2)" in text
    assert (out / "f0p4_s00" / "summary.json").stat().st_mtime_ns == mtime  # not rerun
    recorded = json.loads((out / CASES_FILE).read_text())["split"]["holdout"]
    assert recorded == {"packing.am_area_fraction": [0.4]}
    rows = manifest(out / "dataset")
    assert [r["case_id"] for r in rows] == TINY_IDS
    split = {r["case_id"]: r["split"] for r in rows}
    assert split["f0p4_s00"] == split["f0p4_s01"] == "holdout"
    assert sorted([split["f0p3_s00"], split["f0p3_s01"]]) == ["test", "train"]
    with np.load(out / "dataset" / "arrays.npz") as a:
        assert list(a["split"]) == [split[c] for c in TINY_IDS]
        assert len(set(a["seeds"].tolist())) == 4
        ho = a["split"] == "holdout"
        # the held-out rows carry real DEM labels and images like every other row
        assert np.isfinite(a["labels"][ho]).all() and (a["images"][ho] > 0).any()
    info = json.loads((out / "dataset" / "dataset.json").read_text())
    assert info["split"] == {"train": 1, "val": 0, "test": 1, "holdout": 2, "excluded": 0}
