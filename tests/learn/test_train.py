"""Training: it learns, writes the model folder, and is reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assb_lmp.core.errors import ModelError
from assb_lmp.learn.dataset import load_dataset
from assb_lmp.learn.model import load_model, snapshot
from assb_lmp.learn.predict import predict_standardized
from assb_lmp.learn.train import train
from assb_lmp.spec.targets import TARGETS

pytestmark = pytest.mark.cnn
pytest.importorskip("tensorflow")


def test_train_beats_mean_baseline_and_writes_outputs(trained, dataset):
    out, metrics = trained
    for name in ("model.keras", "model_info.json", "metrics.json", "history.csv",
                 "predictions.csv", "figures/loss.png", "figures/parity.png"):
        assert (out / name).is_file(), name
    for t in TARGETS:
        assert (out / "figures" / f"parity_{t}.png").is_file()
    assert len(list((out / "figures").glob("stress_distribution_*.png"))) == 2
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["targets"]) == set(TARGETS)
    assert {"r2", "mae"} <= set(saved["targets"]["reaction_area_um2"])
    assert saved["split_sizes"]["train"] + saved["split_sizes"]["val"] + \
        saved["split_sizes"]["test"] == 128
    assert saved["epochs"] >= saved["best_epoch"] >= 1 and saved["seconds"] > 0

    model = load_model(out)
    ds = load_dataset(dataset)
    va = ds.index("val")
    y = model.standardize(ds.labels[va])
    mse = np.mean((predict_standardized(model, ds.images[va]) - y) ** 2)
    baseline = np.mean(y**2)  # predicting the training mean of every target
    assert mse < 0.8 * baseline, (mse, baseline)
    assert saved["targets"]["am_area_fraction"]["r2"] > 0.3


def test_same_seed_same_weights(tiny, tmp_path):
    for name in ("a", "b"):
        train(tiny, tmp_path / name, epochs=2, seed=5, plots=False)
    wa = snapshot(load_model(tmp_path / "a").keras_model)
    wb = snapshot(load_model(tmp_path / "b").keras_model)
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def test_train_fraction_and_weight_decay(tiny, tmp_path):
    full = train(tiny, tmp_path / "full", epochs=1, seed=5, plots=False)
    half = train(tiny, tmp_path / "half", epochs=1, seed=5, plots=False,
                     train_fraction=0.5, weight_decay=0.1)
    n = full["split_sizes"]["train"]
    assert half["split_sizes"]["train"] == round(0.5 * n)
    assert half["split_sizes"]["val"] == full["split_sizes"]["val"]
    assert half["config"]["weight_decay"] == 0.1
    wf = snapshot(load_model(tmp_path / "full").keras_model)
    wh = snapshot(load_model(tmp_path / "half").keras_model)
    assert not all(np.array_equal(x, y) for x, y in zip(wf, wh, strict=True))
    with pytest.raises(ModelError, match="train_fraction must be in"):
        train(tiny, tmp_path / "x", epochs=1, train_fraction=0.0)
    with pytest.raises(ModelError, match="weight_decay must be in"):
        train(tiny, tmp_path / "x", epochs=1, weight_decay=-1.0)
