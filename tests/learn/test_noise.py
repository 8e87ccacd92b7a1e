"""How learnable the labels are: protocol R² and replicate agreement (assb_lmp.learn.noise)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assb_lmp.core.errors import AnalysisError
from assb_lmp.learn import dataset, noise
from assb_lmp.spec.targets import TARGETS

from .fakes import fake_case, fake_sweep


def _with_labels(ds: Path, fn) -> None:
    """Rewrite a dataset's labels as ``fn(params, rng)`` (N, 9)."""
    a = dict(np.load(ds / "arrays.npz"))
    a["labels"] = fn(a["params"], np.random.default_rng(5))
    np.savez_compressed(ds / "arrays.npz", **a)


def test_protocol_r2_separates_parameter_and_structure_parts(tmp_path):
    fake_sweep(tmp_path, 150)
    ds = Path(dataset.export(tmp_path)["path"])
    # columns 0-4: set by the parameters alone; 5-8: the same plus structure noise of
    # the same variance as the parameter part
    def labels(p, rng):
        base = (p[:, :1] - 0.52) * 100 + (p[:, 1:2] - 47) * 3
        noise = rng.normal(size=(len(p), 4)) * base.std()
        return np.hstack([np.repeat(base, 5, axis=1), base + noise])

    _with_labels(ds, labels)
    out = noise.protocol_r2(ds)
    assert list(out) == list(TARGETS)
    vals = list(out.values())
    assert vals[0]["points"] == 15 and vals[0]["test_rows"] > 10
    for m in vals[:5]:
        assert m["protocol_r2"] == pytest.approx(1.0) and m["between_share"] == pytest.approx(1.0)
    for m in vals[5:]:
        assert 0.2 < m["between_share"] < 0.8
        assert m["protocol_r2"] < 0.8


def test_compare_replicates(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fake_sweep(a, 20)
    fake_sweep(b, 20, seed=1)
    da = Path(dataset.export(a)["path"])
    db = Path(dataset.export(b)["path"])
    same = noise.compare(da, da)
    assert same["n"] == 20 and same["image_diff"] == 0.0
    assert all(m["r2"] == pytest.approx(1.0) and m["median_rel_diff"] == 0.0
               for m in same["targets"].values())
    other = noise.compare(da, db)  # same ids, other random labels and images
    assert other["image_diff"] > 0.5
    assert all(m["r2"] < 0.5 for m in other["targets"].values())
    with pytest.raises(AnalysisError, match="share 0 case ids"):
        c = tmp_path / "c"
        c.mkdir()
        fake_case(c, "other_case", np.random.default_rng(1))
        noise.compare(da, dataset.export(c)["path"])


def test_cli_label_noise(tmp_path, capsys):
    from assb_lmp.cli.main import main

    fake_sweep(tmp_path, 30)
    ds = tmp_path / "dataset"
    dataset.export(tmp_path)
    assert main(["label-noise", str(ds), "--replicate", str(ds),
                 "--out", str(tmp_path / "n.json")]) == 0
    out = capsys.readouterr().out
    assert "protocol R2" in out and "replicate: 30 shared cases" in out
    saved = json.loads((tmp_path / "n.json").read_text())
    assert set(saved["protocol"]) == set(TARGETS)
    assert saved["replicate"]["targets"]["porosity"]["r2"] == pytest.approx(1.0)
